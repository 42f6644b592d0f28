import { opendir } from 'node:fs/promises';
import { join } from 'node:path';
import { TEMP_PREFIX } from './atomic.js';
import { shardOf, sidOfName } from './names.js';

/** A directory entry that may be one of the store's files. */
export interface Listed {
  dir: string;
  name: string;
  /** `'temp'`: a temp file of ours; `'hashed'`: a session whose sid is inside the file; else the sid. */
  sid: string;
  kind: 'session' | 'hashed' | 'temp';
}

/**
 * Streams the store's directory (and its shard directories), never holding the whole listing in memory, and
 * yields only names the store itself would produce: session names (and for sharded stores only in the right
 * shard) and its own temp files. Entries the file system reports as something other than a file (directories,
 * symlinks, FIFOs) are skipped without being opened; where it reports "unknown", the reader checks.
 */
export async function* listStoreFiles(root: string, ext: string, shard: number, caseSensitive: boolean): AsyncGenerator<Listed> {
  const shardName = new RegExp(`^[0-9a-f]{${shard}}$`);
  for await (const entry of await opendir(root, { bufferSize: 256 })) {
    if (shard === 0) {
      const listed = classify(root, entry, ext, 0, caseSensitive);
      if (listed) yield listed;
      continue;
    }
    if (!shardName.test(entry.name) || (!entry.isDirectory() && !isUnknown(entry))) continue;
    const dir = join(root, entry.name);
    let handle;
    try {
      handle = await opendir(dir, { bufferSize: 256 });
    } catch {
      continue; // not a directory after all, or removed meanwhile
    }
    for await (const inner of handle) {
      const listed = classify(dir, inner, ext, shard, caseSensitive);
      if (listed) yield listed;
    }
  }
}

interface Entry {
  name: string;
  isFile(): boolean;
  isDirectory(): boolean;
  isSymbolicLink(): boolean;
  isFIFO(): boolean;
  isSocket(): boolean;
  isBlockDevice(): boolean;
  isCharacterDevice(): boolean;
}

/** Some file systems report every entry's type as unknown: then none of the type tests is true. */
function isUnknown(entry: Entry): boolean {
  return !(
    entry.isFile() ||
    entry.isDirectory() ||
    entry.isSymbolicLink() ||
    entry.isFIFO() ||
    entry.isSocket() ||
    entry.isBlockDevice() ||
    entry.isCharacterDevice()
  );
}

function classify(dir: string, entry: Entry, ext: string, shard: number, caseSensitive: boolean): Listed | null {
  if (!entry.isFile() && !isUnknown(entry)) return null;
  const { name } = entry;
  if (name.startsWith(TEMP_PREFIX)) return { dir, name, sid: '', kind: 'temp' };
  const sid = sidOfName(name, ext, caseSensitive);
  if (sid === null) return null;
  if (shard > 0 && shardOf(name.slice(0, name.length - ext.length), shard) !== dir.slice(-shard)) return null;
  return sid === 'hashed' ? { dir, name, sid: '', kind: 'hashed' } : { dir, name, sid, kind: 'session' };
}

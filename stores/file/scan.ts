import { opendir } from 'node:fs/promises';
import { join } from 'node:path';
import { TEMP_PREFIX } from './atomic.js';
import { type FileName, fileNameOf, shardOf, sidOfName } from './names.js';

/** Files read or deleted concurrently by scans (the libuv pool has 4 threads by default). */
export const SCAN_CONCURRENCY = 64;

/** How a store lays out its directory: what finding a sid's file and listing the directory need. */
export interface Layout {
  /** Absolute path of the session directory. */
  root: string;
  /** Extension of session files. */
  ext: string;
  /** Hex digits of the shard directories; 0 when not sharded. */
  shard: number;
  /** Whether the directory tells `A` from `a`. */
  caseSensitive: boolean;
}

/** Where the file of one sid is. */
export interface Location {
  dir: string;
  path: string;
  file: FileName;
}

/** A directory entry that may be one of the store's files. */
export interface Listed {
  dir: string;
  name: string;
  /** `'temp'`: a temp file of ours; `'hashed'`: a session whose sid is inside the file; else the sid. */
  sid: string;
  kind: 'session' | 'hashed' | 'temp';
}

/** Where the file of `sid` is (in its shard directory when sharded). */
export function locate(layout: Layout, sid: string): Location {
  const file = fileNameOf(sid, layout.ext, layout.caseSensitive);
  const dir = dirOf(layout, file.base);
  return { dir, path: join(dir, file.name), file };
}

/** Where the session file named `name` lives (its shard directory), or null for a name the store never gives. */
export function listedOf(layout: Layout, name: string): Listed | null {
  const sid = sidOfName(name, layout.ext, layout.caseSensitive);
  return sid === null ? null : listing(dirOf(layout, name.slice(0, name.length - layout.ext.length)), name, sid);
}

/** The directory of a file whose name without extension is `base`: the root, or its shard directory. */
function dirOf(layout: Layout, base: string): string {
  return layout.shard > 0 ? join(layout.root, shardOf(base, layout.shard)) : layout.root;
}

/**
 * Streams the store's directory (and its shard directories), never holding the whole listing in memory, and
 * yields only names the store itself would produce: session names (and for sharded stores only in the right
 * shard) and its own temp files. Entries the file system reports as something other than a file (directories,
 * symlinks, FIFOs) are skipped without being opened; where it reports "unknown", the reader checks.
 */
export async function* listStoreFiles(layout: Layout): AsyncGenerator<Listed> {
  const { root, shard } = layout;
  const shardName = new RegExp(`^[0-9a-f]{${shard}}$`);
  for await (const entry of await opendir(root, { bufferSize: 256 })) {
    if (shard === 0) {
      const listed = classify(root, entry, layout);
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
      const listed = classify(dir, inner, layout);
      if (listed) yield listed;
    }
  }
}

/** Groups the items of `source` in arrays of `size` (the last one may be shorter). */
export async function* batches<T>(source: AsyncIterable<T>, size = SCAN_CONCURRENCY): AsyncGenerator<T[]> {
  let batch: T[] = [];
  for await (const item of source) {
    batch.push(item);
    if (batch.length >= size) {
      yield batch;
      batch = [];
    }
  }
  if (batch.length > 0) yield batch;
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

function classify(dir: string, entry: Entry, layout: Layout): Listed | null {
  if (!entry.isFile() && !isUnknown(entry)) return null;
  const { name } = entry;
  if (name.startsWith(TEMP_PREFIX)) return { dir, name, sid: '', kind: 'temp' };
  const { ext, shard } = layout;
  const sid = sidOfName(name, ext, layout.caseSensitive);
  if (sid === null) return null;
  if (shard > 0 && shardOf(name.slice(0, name.length - ext.length), shard) !== dir.slice(-shard)) return null;
  return listing(dir, name, sid);
}

function listing(dir: string, name: string, sid: string): Listed {
  return sid === 'hashed' ? { dir, name, sid: '', kind: 'hashed' } : { dir, name, sid, kind: 'session' };
}

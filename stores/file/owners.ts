import { createHash } from 'node:crypto';
import { mkdir, opendir, rmdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { notThere } from './read.js';

/**
 * The owner index of a FileStore (the `owner` option): `<path>/.owners/<sha256 of the owner id>/<session file name>`,
 * one empty file per session of that owner. The leading dot keeps the directory out of both stores' listings
 * (session-file-store lists `*.json` files only; FileStore only names it would produce), and hashing the owner id
 * keeps any id a single safe directory name.
 *
 * An entry is created (or its mtime refreshed) before the session file it points to is renamed into place, so a
 * session with an owner always has its entry; entries of sessions that ended (destroyed, expired, rewritten under
 * another owner) are removed lazily, by `sessionsOf()` and pruning. Creating, refreshing and removing entries are
 * single idempotent file operations, so concurrent writers in any number of processes never corrupt the index.
 */
export const OWNERS_DIR = '.owners';

/**
 * An entry younger than this is never removed as stale: its session file may be about to be renamed into place by
 * a writer that created the entry first.
 */
export const ENTRY_GRACE_MS = 60_000;

/** The directory of one owner's entries. */
export function ownerDir(root: string, owner: string): string {
  return join(root, OWNERS_DIR, createHash('sha256').update(owner, 'utf8').digest('hex'));
}

/** Creates (or refreshes the mtime of) the entry of session file `name` under `owner`. */
export async function addEntry(root: string, owner: string, name: string): Promise<void> {
  const dir = ownerDir(root, owner);
  try {
    await writeFile(join(dir, name), '', { flag: 'w', mode: 0o600 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    // First session of this owner (or the directory was pruned as empty meanwhile).
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, name), '', { flag: 'w', mode: 0o600 });
  }
}

/** The entry names (session file names) of `owner`; none when it has no directory. */
export async function* entriesOf(root: string, owner: string): AsyncGenerator<string> {
  let handle;
  try {
    handle = await opendir(ownerDir(root, owner), { bufferSize: 256 });
  } catch (err) {
    if (notThere(err)) return;
    throw err;
  }
  for await (const entry of handle) if (entry.isFile()) yield entry.name;
}

/**
 * Every owner directory of the index under `root`, with its entry names, one directory at a time; `done()` removes
 * the directory if it is empty by then (a writer adding an entry meanwhile makes that fail harmlessly, and
 * {@link addEntry} recreates a directory removed under it).
 */
export async function* ownerDirs(root: string): AsyncGenerator<{ dir: string; names: string[]; done: () => Promise<void> }> {
  let top;
  try {
    top = await opendir(join(root, OWNERS_DIR), { bufferSize: 256 });
  } catch (err) {
    if (notThere(err)) return;
    throw err;
  }
  for await (const owner of top) {
    if (!owner.isDirectory()) continue;
    const dir = join(root, OWNERS_DIR, owner.name);
    const names: string[] = [];
    try {
      for await (const entry of await opendir(dir, { bufferSize: 256 })) if (entry.isFile()) names.push(entry.name);
    } catch (err) {
      if (notThere(err)) continue;
      throw err;
    }
    yield { dir, names, done: () => rmdir(dir).catch(() => {}) };
  }
}

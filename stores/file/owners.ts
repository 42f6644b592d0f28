import { createHash } from 'node:crypto';
import { lstat, mkdir, opendir, rm, rmdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { invalid } from '../../shared/options.js';
import { removeFile } from './atomic.js';
import { lstatOrNull, notThere } from './read.js';
import { type Layout, SCAN_CONCURRENCY, listedOf } from './scan.js';

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
const OWNERS_DIR = '.owners';

/**
 * An entry younger than this is never removed as stale: its session file may be about to be renamed into place by
 * a writer that created the entry first.
 */
const ENTRY_GRACE_MS = 60_000;

/**
 * Creates the index directory of the store at `root` if missing, and refuses (INVALID_OPTION) one that is not a
 * real directory: the index is written through this path, so it must not be a symlink out of the store.
 */
export async function openOwnerIndex(root: string): Promise<void> {
  const owners = join(root, OWNERS_DIR);
  await mkdir(owners).catch((err: NodeJS.ErrnoException) => {
    if (err.code !== 'EEXIST') throw err;
  });
  if (!(await lstat(owners)).isDirectory()) throw invalid(`${owners} must be a directory (it holds the owner index)`);
}

/** Removes the whole index (`clear()`): it is the store's alone (a directory no session name can take). */
export async function clearOwnerIndex(root: string): Promise<void> {
  await rm(join(root, OWNERS_DIR), { recursive: true, force: true });
}

/** The directory of one owner's entries. */
function ownerDir(root: string, owner: string): string {
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

/**
 * What `live` finds for each entry of `owner` (the sessions of that owner), skipping entries it finds nothing for
 * (their session ended: destroyed, expired, gone). Such an entry is removed on the way, unless it is younger than
 * {@link ENTRY_GRACE_MS}: a writer may be about to use it.
 */
export async function* ownedBy<T>(root: string, owner: string, now: number, live: (name: string) => Promise<T | null>): AsyncGenerator<T> {
  const dir = ownerDir(root, owner);
  for await (const name of entriesOf(dir)) {
    const found = await live(name);
    if (found !== null) {
      yield found;
      continue;
    }
    const entry = join(dir, name);
    if (await isStale(entry, now)) await removeFile(entry);
  }
}

/**
 * The index's part of a pruning pass of the store laid out as `layout`: removes the entries older than
 * {@link ENTRY_GRACE_MS} whose session file no longer exists (pruned, destroyed without revocation), and the owner
 * directories left empty. Yields 0 (no session deleted) after each batch of {@link SCAN_CONCURRENCY} entries.
 */
export async function* pruneOwnerIndex(layout: Layout, now: number): AsyncGenerator<number> {
  for await (const owner of ownerDirs(layout.root)) {
    for (let i = 0; i < owner.names.length; i += SCAN_CONCURRENCY) {
      const names = owner.names.slice(i, i + SCAN_CONCURRENCY);
      await Promise.all(names.map((name) => pruneEntry(layout, owner.dir, name, now)));
      yield 0;
    }
    await owner.done();
  }
}

/** Removes an entry older than the grace period whose session file no longer exists. */
async function pruneEntry(layout: Layout, dir: string, name: string, now: number): Promise<void> {
  const entry = join(dir, name);
  if (!(await isStale(entry, now))) return;
  const listed = listedOf(layout, name);
  if (listed === null || (await lstatOrNull(join(listed.dir, name))) === null) await removeFile(entry);
}

/** Whether the entry at `entry` exists and is older than the grace period. */
async function isStale(entry: string, now: number): Promise<boolean> {
  const stats = await lstatOrNull(entry);
  return stats !== null && stats.mtimeMs < now - ENTRY_GRACE_MS;
}

/** The entry names (session file names) in the owner directory `dir`; none when it does not exist. */
async function* entriesOf(dir: string): AsyncGenerator<string> {
  let handle;
  try {
    handle = await opendir(dir, { bufferSize: 256 });
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
async function* ownerDirs(root: string): AsyncGenerator<{ dir: string; names: string[]; done: () => Promise<void> }> {
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

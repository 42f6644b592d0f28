import { randomBytes } from 'node:crypto';
import { type Stats, constants } from 'node:fs';
import { mkdir, open, rename, unlink } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { join } from 'node:path';
import { lstatOrNull, notThere, sameFile } from './read.js';

/**
 * Temp files start with this: the leading dot keeps them out of every listing (no session name starts with a
 * dot) and they carry no extension, so session-file-store's `*.json` listing skips them too.
 */
export const TEMP_PREFIX = '.~tmp-';

/** Temp files older than this belong to a writer that died: no live write takes minutes. */
export const STALE_TEMP_MS = 10 * 60 * 1000;

let counter = 0;

/** A temp file name no other writer (thread, process or host on a shared disk) can pick at the same time. */
export function tempName(): string {
  counter = (counter + 1) % 0x7fffffff;
  return `${TEMP_PREFIX}${process.pid}-${counter}-${randomBytes(6).toString('hex')}`;
}

// Windows refuses to rename over a file another process has open (EPERM/EACCES/EBUSY); it clears in
// milliseconds. Elsewhere those codes are real permission errors, so only Windows retries, silently.
const RETRY_CODES = new Set(['EPERM', 'EACCES', 'EBUSY']);
const RETRIES = process.platform === 'win32' ? 6 : 0;

/** Runs a rename/unlink, retrying Windows' transient sharing violations with a tiny backoff. */
export async function withSharingRetry<T>(op: () => Promise<T>): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await op();
    } catch (err) {
      if (attempt >= RETRIES || !RETRY_CODES.has((err as NodeJS.ErrnoException).code ?? '')) throw err;
      await sleep(2 ** attempt * 5 + Math.random() * 5);
    }
  }
}

/**
 * Writes `text` to a temp file in `dir` (optionally fsynced, with mtime `mtimeMs` when given), creating `dir` if it
 * is missing. Returns the temp path; the caller renames it into place. A writer killed at any moment leaves at most
 * an orphaned temp file, never a torn session file.
 */
export async function writeTemp(dir: string, text: string | Uint8Array, fsync: boolean, mtimeMs?: number): Promise<string> {
  try {
    return await writeTempIn(dir, text, fsync, mtimeMs);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    // Shard directories are created on first use; the root again if someone removed it.
    await mkdir(dir, { recursive: true });
    return writeTempIn(dir, text, fsync, mtimeMs);
  }
}

async function writeTempIn(dir: string, text: string | Uint8Array, fsync: boolean, mtimeMs?: number): Promise<string> {
  const temp = join(dir, tempName());
  // O_EXCL: never write through a file (or symlink) someone else planted under our temp name.
  const handle = await open(temp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600);
  try {
    await handle.writeFile(text);
    if (mtimeMs !== undefined) await handle.utimes(mtimeMs / 1000, mtimeMs / 1000);
    if (fsync) await handle.sync();
  } catch (err) {
    await handle.close().catch(() => {});
    await unlink(temp).catch(() => {});
    throw err;
  }
  await handle.close();
  return temp;
}

/** Moves a finished temp file over `target` (atomic on POSIX; retried on Windows sharing violations). */
export async function commit(temp: string, target: string, dir: string, fsync: boolean): Promise<void> {
  try {
    await withSharingRetry(() => rename(temp, target));
  } catch (err) {
    await unlink(temp).catch(() => {});
    throw err;
  }
  if (fsync) await syncDir(dir);
}

/** Makes a rename durable (POSIX). Windows cannot open directories for syncing: there it is a no-op. */
export async function syncDir(dir: string): Promise<void> {
  let handle;
  try {
    handle = await open(dir, 'r');
    await handle.sync();
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'EPERM' && code !== 'EISDIR' && code !== 'EINVAL' && code !== 'EACCES') throw err;
  } finally {
    await handle?.close();
  }
}

/** Unlinks, ignoring a file that is already gone (or was never a file: a directory of the same name). */
export async function removeFile(path: string): Promise<boolean> {
  try {
    await withSharingRetry(() => unlink(path));
    return true;
  } catch (err) {
    if (notThere(err)) return false;
    throw err;
  }
}

/** Unlinks `path` only if it is still the file `stats` were taken of (a session rewritten meanwhile is not expired). */
export async function removeIfUnchanged(path: string, stats: Stats): Promise<boolean> {
  if (!sameFile(stats, await lstatOrNull(path))) return false;
  return removeFile(path);
}

import { close, constants, fstat, open, read, type Stats } from 'node:fs';
import { lstat } from 'node:fs/promises';

// Never follow a symlink (one pointing outside the directory would be read as a session), and never block on a
// FIFO or device: opening one with O_NONBLOCK returns at once, and fstat then tells it is no regular file.
const FLAGS = constants.O_RDONLY | (constants.O_NOFOLLOW ?? 0) | (constants.O_NONBLOCK ?? 0);

/** A regular file's bytes and stats. */
export interface FileRead {
  bytes: Buffer;
  stats: Stats;
}

/**
 * Reads `path` if, and only if, it is a regular file this process may read; resolves null when there is nothing
 * to read there (missing, a directory, a symlink, a FIFO, a socket, a device). Other failures (EACCES, EIO)
 * reject. One open, fstat, read and close, with the callback API (twice as fast under load as fs/promises'
 * FileHandle on Node 20).
 */
export function readRegularFile(path: string): Promise<FileRead | null> {
  return new Promise((resolve, reject) => {
    open(path, FLAGS, (err, fd) => {
      if (err) return notThere(err) ? resolve(null) : reject(err);
      const done = (error: NodeJS.ErrnoException | null, result: FileRead | null): void =>
        close(fd, () => (error && !notThere(error) ? reject(error) : resolve(error ? null : result)));
      fstat(fd, (statErr, stats) => {
        if (statErr) return done(statErr, null);
        if (!stats.isFile()) return done(null, null);
        readAll(fd, stats.size, (readErr, bytes) => done(readErr, readErr ? null : { bytes: bytes!, stats }));
      });
    });
  });
}

/** Reads to the end (a file may grow between fstat and read). */
function readAll(fd: number, size: number, callback: (err: NodeJS.ErrnoException | null, bytes?: Buffer) => void): void {
  const chunks: Buffer[] = [];
  let buffer = Buffer.allocUnsafe(Math.max(size, 64) + 1);
  let length = 0;
  const next = (): void => {
    if (length === buffer.length) {
      chunks.push(buffer);
      buffer = Buffer.allocUnsafe(buffer.length);
      length = 0;
    }
    read(fd, buffer, length, buffer.length - length, null, (err, bytes) => {
      if (err) return callback(err);
      if (bytes === 0) {
        chunks.push(buffer.subarray(0, length));
        return callback(null, chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks));
      }
      length += bytes;
      next();
    });
  };
  next();
}

/** Errors meaning "no regular file here": gone, a path component not a directory, a symlink (ELOOP), a directory. */
export function notThere(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  return code === 'ENOENT' || code === 'ENOTDIR' || code === 'ELOOP' || code === 'EISDIR' || code === 'EMLINK';
}

/** `lstat` of `path`, or null when there is nothing there. */
export async function lstatOrNull(path: string): Promise<Stats | null> {
  try {
    return await lstat(path);
  } catch (err) {
    if (notThere(err)) return null;
    throw err;
  }
}

/** Whether `b` is still the file `a` was taken of: same inode, mtime and size. */
export function sameFile(a: Stats, b: Stats | null): boolean {
  return b !== null && a.ino === b.ino && a.dev === b.dev && a.mtimeMs === b.mtimeMs && a.size === b.size;
}

import type { Stats } from 'node:fs';
import { basename, join } from 'node:path';
import { backendError } from '../../shared/errors.js';
import type { Ttl } from '../../shared/types.js';
import { type FileFormat, type SessionFile, fileExpiry } from './format.js';
import { fileNameOf } from './names.js';
import { lstatOrNull, readRegularFile } from './read.js';
import { type Layout, type Listed, type Location, SCAN_CONCURRENCY, listStoreFiles, listedOf } from './scan.js';

/** One file of the store, read: a session, a tombstone or (sid `''`) a temp file. */
export interface Found {
  kind: 'session' | 'tombstone' | 'temp';
  /** The sid; `''` for temp files and for tombstones with hashed names (which do not hold their sid). */
  sid: string;
  path: string;
  file: SessionFile;
  /** A tombstone's: the end of its revocation window (its mtime). */
  expiresAt: number;
  stats: Stats;
}

/**
 * Reads the files of one store directory and tells what each holds (see {@link Found}): one file by its listing or
 * its name, every file in a scan, and whether a write must leave a file alone because it is a live tombstone.
 */
export class Inspector {
  /**
   * @param layout the store's directory layout
   * @param format the store's file format
   * @param ttl the store's ttl, for files session-file-store wrote (see `fileExpiry`)
   * @param onError reports a file a scan could not read (and skipped)
   */
  constructor(
    readonly layout: Layout,
    private readonly format: FileFormat,
    private readonly ttl: Ttl,
    private readonly onError: (err: unknown) => void,
  ) {}

  /**
   * Every session file (and, as asked, every tombstone and every temp file of ours, with sid `''`), read
   * {@link SCAN_CONCURRENCY} at a time. Each read has its handlers attached when it starts, so a file that cannot
   * be read is reported through `onError` and skipped: it never becomes an unhandled rejection.
   */
  async *scan(include: { temps?: boolean; tombstones?: boolean } = {}): AsyncGenerator<Found> {
    let pending: Array<Promise<Found | null>> = [];
    const wanted = (found: Found | null): found is Found =>
      found !== null && (found.kind === 'session' || (found.kind === 'tombstone' && include.tombstones === true) || found.kind === 'temp');
    for await (const listed of listStoreFiles(this.layout)) {
      if (listed.kind === 'temp' && !include.temps) continue;
      pending.push(this.inspect(listed).catch((err: unknown) => this.#skip(listed, err)));
      if (pending.length >= SCAN_CONCURRENCY) {
        for (const found of await Promise.all(pending)) if (wanted(found)) yield found;
        pending = [];
      }
    }
    for (const found of await Promise.all(pending)) if (wanted(found)) yield found;
  }

  /** Reads the file an owner index entry names (a session file name of this store), or null. */
  async inspectName(name: string): Promise<Found | null> {
    const listed = listedOf(this.layout, name);
    return listed ? this.inspect(listed) : null;
  }

  /** Reads one listed file: null when it is none of the store's (foreign, damaged, gone, misnamed). */
  async inspect(listed: Listed): Promise<Found | null> {
    const path = join(listed.dir, listed.name);
    if (listed.kind === 'temp') {
      const stats = await lstatOrNull(path);
      return stats?.isFile() ? { kind: 'temp', sid: '', path, file: undefined as never, expiresAt: 0, stats } : null;
    }
    const read = await readRegularFile(path);
    if (!read) return null;
    const file = await this.format.read(read.bytes, listed.kind === 'hashed');
    if (file === 'tombstone') {
      return { kind: 'tombstone', sid: listed.sid, path, file: undefined as never, expiresAt: read.stats.mtimeMs, stats: read.stats };
    }
    if (typeof file === 'string') return null;
    const sid = listed.kind === 'hashed' ? file.sid : listed.sid;
    // A hashed file counts only if its stored sid really hashes to its name.
    const { ext, caseSensitive } = this.layout;
    if (typeof sid !== 'string' || (listed.kind === 'hashed' && fileNameOf(sid, ext, caseSensitive).name !== basename(path))) return null;
    return { kind: 'session', sid, path, file, expiresAt: fileExpiry(file, this.ttl), stats: read.stats };
  }

  /** Whether the file at `loc` is a tombstone whose revocation window has not ended at `now`. */
  async revoked(loc: Location, now: number): Promise<boolean> {
    // A tombstone's mtime is in the future; a session file's is not. Only such a file is read.
    const stats = await lstatOrNull(loc.path);
    if (!stats?.isFile() || stats.mtimeMs <= now) return false;
    const read = await readRegularFile(loc.path);
    return read !== null && read.stats.mtimeMs > now && (await this.format.read(read.bytes, loc.file.hashed)) === 'tombstone';
  }

  #skip(listed: Listed, err: unknown): null {
    this.onError(backendError(err, `file scan of ${join(listed.dir, listed.name)}`));
    return null;
  }
}

import { randomBytes } from 'node:crypto';
import { lstat, mkdir, rm, unlink, writeFile } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import type { Stats } from 'node:fs';
import type { SessionData } from 'express-session';
import { type Callback, settle as settleWith } from '../../shared/callback.js';
import { backendError } from '../../shared/errors.js';
import { KeyedQueue } from '../../shared/keyed-queue.js';
import { type Alias, bool, either, fn, invalid, num, oneOf, str } from '../../shared/options.js';
import { type JsonPayload, type Serializer, jsonPayloadSerializer, jsonSerializer } from '../../shared/serializer.js';
import { type SessionMap, SessionStore, storeOptions } from '../../shared/store.js';
import type { BaseStoreOptions, StoredRecord, Ttl, WriteContext } from '../../shared/types.js';
import { commit, removeFile, writeTemp } from './atomic.js';
import { type FileEncoding, FileFormat, type SessionFile, fileExpiry, payloadOf } from './format.js';
import { type FileName, fileNameOf, shardOf, sidOfName } from './names.js';
import { ENTRY_GRACE_MS, OWNERS_DIR, addEntry, entriesOf, ownerDir, ownerDirs } from './owners.js';
import { notThere, readRegularFile } from './read.js';
import { type Listed, listStoreFiles } from './scan.js';

/** Options of {@link FileStore}: session-file-store's names where they exist, plus the shared options. */
export interface FileStoreOptions extends Omit<BaseStoreOptions<string>, 'serializer'>, FileEncoding {
  /** Directory holding one file per session; created if missing. Default `'./sessions'` (resolved once, now). */
  path?: string;
  /** Extension of session files (`''` or dot-separated `[A-Za-z0-9_-]` parts). Default `'.json'`. */
  fileExtension?: string;
  /**
   * session-file-store's name for `pruneIntervalMs`, in **seconds**; `-1`, `0` or `false` disables pruning.
   * Default 3600.
   */
  reapInterval?: number | false;
  /**
   * fsync each session file before it replaces the old one, and its directory after: a write survives a power
   * loss or kernel crash, at a large cost per write. Without it, a killed *process* still never leaves a torn
   * file (writes are atomic renames). Default false.
   */
  fsync?: boolean;
  /**
   * Spread files over `16^shard` subdirectories named by the first `shard` hex digits of a hash of the file name
   * (`shard: 2` → `<path>/3f/<sid>.json`), 1–4. Keeps directories small with millions of sessions. This is not
   * session-file-store's layout: enable it on a fresh directory. Default off.
   */
  shard?: number | false;
  /**
   * Whether the directory tells `A` from `a`. Decides which sids keep their own name (see the class docs).
   * Default: probed once with a file in the directory. Forcing `true` on a case-insensitive disk keeps
   * session-file-store's mixed-case names readable, at its risk of two sids differing only in case sharing one
   * file (negligible for express-session's random 24-byte sids, not for custom `genid`s).
   */
  caseSensitive?: boolean;
  /**
   * Lifetime in seconds of sessions whose cookie has no `maxAge` (see {@link BaseStoreOptions.ttl}).
   * Default 3600, session-file-store's default.
   */
  ttl?: Ttl;
  /** Encodes sessions; its output (a string) is kept in the file's `__payload`. Default: the session as JSON. */
  serializer?: Serializer<string>;
  /**
   * session-file-store's `fallbackSessionFn`: what `get()` returns for a sid that has no session file (the
   * session is not stored by that). Default: none (null).
   */
  fallbackSessionFn?: (sid: string) => SessionData;
  /** `null` or `false`: no encryption, as session-file-store reads them. Any other value is refused (see the docs). */
  secret?: null | false;
  /** Accepted for session-file-store compatibility and ignored: writes are atomic renames, nothing to retry. */
  retries?: number;
  /** Accepted for session-file-store compatibility and ignored: the store does not log (listen to `'error'`). */
  logFn?: (...args: unknown[]) => void;
  /** Accepted for session-file-store compatibility and ignored, like `retries`: nothing to retry. */
  factor?: number;
  /** Accepted for session-file-store compatibility and ignored, like `retries`: nothing to retry. */
  minTimeout?: number;
  /** Accepted for session-file-store compatibility and ignored, like `retries`: nothing to retry. */
  maxTimeout?: number;
  /** Accepted for session-file-store compatibility and ignored: pruning runs in the process, without blocking it. */
  reapAsync?: boolean;
  /** Accepted for session-file-store compatibility and ignored: pruning runs in the process, without blocking it. */
  reapSyncFallback?: boolean;
}

const DEFAULT_TTL_SECONDS = 3600;
const DEFAULT_REAP_SECONDS = 3600;
/** Temp files older than this belong to a writer that died: no live write takes minutes. */
const STALE_TEMP_MS = 10 * 60 * 1000;
/** Files read or deleted concurrently by scans (the libuv pool has 4 threads by default). */
const SCAN_CONCURRENCY = 64;
const EXTENSION = /^(\.[A-Za-z0-9_-]+)*$/;

const reapInterval: Alias = {
  to: 'pruneIntervalMs',
  convert: (value, name) => {
    if (value === false || value === -1 || value === 0) return false;
    return Math.max(1, Math.round((num(0)(value, name) as number) * 1000));
  },
};

const OPTIONS = {
  options: {
    path: str(),
    fileExtension: (value: unknown, name: string) => {
      if (typeof value !== 'string' || !EXTENSION.test(value) || value.length > 32) {
        throw invalid(`${name} must be '' or like '.json' (dot-separated letters, digits, '_' and '-'), got ${JSON.stringify(value)}`);
      }
      return value;
    },
    fsync: bool,
    shard: either(oneOf(false), num(1, { max: 4, integer: true })),
    caseSensitive: bool,
    encoder: fn,
    decoder: fn,
    encoding: either(oneOf(null), str()),
    fallbackSessionFn: fn,
    secret: (value: unknown) => {
      if (value === null || value === false) return undefined;
      throw invalid("secret (session-file-store's encryption) is not supported yet: pass an encrypting serializer instead");
    },
  },
  aliases: { reapInterval },
  ignored: {
    retries: 'writes are atomic renames: nothing to retry',
    factor: 'writes are atomic renames: nothing to retry',
    minTimeout: 'writes are atomic renames: nothing to retry',
    maxTimeout: 'writes are atomic renames: nothing to retry',
    reapAsync: 'pruning runs in the process without blocking it: no worker process',
    reapSyncFallback: 'pruning runs in the process without blocking it: no worker process',
    logFn: "the store does not log: listen to 'error'",
  },
};

interface Location {
  dir: string;
  path: string;
  file: FileName;
}

/** One file of the store, read: a session, a tombstone or (sid `''`) a temp file. */
interface Found {
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
 * A session store keeping one JSON file per session in a directory, drop-in compatible with
 * session-file-store 1.5: it reads and writes `<path>/<sid>.json` = `{ ...session, __lastAccess }` and applies
 * that store's sliding expiry to files it wrote (see `format.ts`), while its own files carry an exact
 * millisecond expiry (`__expires`).
 *
 * **File names.** Sids made of `[A-Za-z0-9_-]` (≤ 200 characters; lowercase only on case-insensitive disks;
 * not a Windows device name such as `con`) are used as the file name, as session-file-store does. Any other
 * sid is stored as `~<base32 of its UTF-8>.json`, or `~~<sha256>.json` when that would exceed 255 bytes (the sid
 * is then kept inside the file). So no sid can reach a path outside the directory on Linux, macOS or Windows.
 *
 * **A directory it does not own alone.** The store opens only regular files it named, never through a symlink
 * and never a FIFO or device; it lists, returns and deletes only files holding a session (a `package.json` next
 * to the sessions is left alone), and an unreadable entry is skipped (and reported through `'error'`), never a
 * crash.
 *
 * **Writes** go to a temp file in the same directory, then `rename` over the session file: readers see the old
 * or the new file, never a torn one, even if the writer is killed (`fsync` adds power-loss durability).
 *
 * **Races inherent to files.** `touch()` reads, checks and rewrites; it renames only if the file is still the
 * one it read (same inode, mtime and size), so a `destroy()` or newer `set()` that finished earlier wins. Within
 * one process they never overlap (see Revocation below); one from another process finishing in the microseconds
 * between that check and the rename can still be overwritten by the touch.
 * Pruning has the same check-then-unlink window. Databases do not have this window; files do.
 *
 * **Revocation** (`revocationWindowMs`, on by default): `destroy()` renames a tombstone over the session file: a
 * file holding `null` whose mtime is the end of the revocation window. Every read treats it as no session
 * (session-file-store reads it as an expired session), `ids`/`all`/`length` skip it, `clear()` and pruning
 * (once expired) remove it, `touch()` never extends it and a `set()` does not replace it while it lasts. That
 * check-then-rename is exact **within one process**: `set`, `touch` and `destroy` of one sid run one at a time
 * per store (a per-file queue). **Across processes** sharing the directory, files offer no compare-and-swap: a
 * `set()` in one process that checked the file in the microseconds before another process's `destroy()` renamed
 * the tombstone can still replace it. A late write arriving after the logout has finished (the logout race
 * express-session produces) is always refused, whichever process makes it.
 *
 * **Owners** (the `owner` option): an index directory `<path>/.owners/<sha256 of the owner>/` holding one empty
 * file per session of that owner, named like the session file (see `owners.ts`). `sessionsOf()` reads that
 * directory and those sessions only; entries of sessions that ended are removed lazily (by `sessionsOf()` and
 * pruning), and neither store lists the directory as a session.
 *
 * @example
 * ```ts
 * import { FileStore } from 'session-stores/file';
 * const store = new FileStore({ path: './sessions' });
 * ```
 */
export class FileStore extends SessionStore<JsonPayload, SessionMap> {
  /** Absolute path of the session directory. */
  readonly path: string;
  readonly #ext: string;
  readonly #fsync: boolean;
  readonly #shard: number;
  readonly #wrapped: boolean;
  readonly #format: FileFormat;
  readonly #fallback: ((sid: string) => SessionData) | undefined;
  readonly #indexed: boolean;
  /** `set`, `touch` and `destroy` of one file, one at a time in this process (check, then rename). */
  readonly #queue = new KeyedQueue();
  #caseSensitive: boolean | undefined;

  /** @param options options, or just the directory */
  constructor(options: FileStoreOptions | string = {}) {
    const opts = storeOptions<FileStoreOptions>(typeof options === 'string' ? { path: options } : options, OPTIONS);
    const path = resolve(opts.path ?? './sessions');
    const wrapped = opts.serializer !== undefined && (opts.serializer as unknown) !== jsonSerializer;
    super(
      { ...opts, serializer: (wrapped ? opts.serializer : jsonPayloadSerializer) as Serializer<JsonPayload> },
      {
        name: 'file',
        pruneIntervalMs: DEFAULT_REAP_SECONDS * 1000,
        defaultTtl: DEFAULT_TTL_SECONDS,
        namespace: path,
        capabilities: { revocation: true },
      },
    );
    this.path = path;
    this.#ext = opts.fileExtension ?? '.json';
    this.#fsync = opts.fsync === true;
    this.#shard = opts.shard || 0;
    this.#caseSensitive = opts.caseSensitive;
    this.#wrapped = wrapped;
    this.#format = new FileFormat(wrapped, {
      encoder: opts.encoder ?? JSON.stringify,
      decoder: opts.decoder ?? (JSON.parse as (data: string | Buffer) => unknown),
      encoding: opts.encoding === undefined ? 'utf8' : opts.encoding,
    });
    this.#fallback = opts.fallbackSessionFn;
    this.#indexed = opts.owner !== undefined;
  }

  /**
   * session-file-store's `list()`: the names of the session files in the directory (not read; a hashed or sharded
   * name is listed as it is on disk).
   * @param callback called with the names, or an error
   */
  list(callback?: Callback<string[]>): Promise<string[]> {
    return settleWith(this.#list(), callback);
  }

  /**
   * session-file-store's `expired()`: whether `sid` has no live session (missing or expired).
   * @param callback called with the answer, or an error
   */
  expired(sid: string, callback?: Callback<boolean>): Promise<boolean> {
    return settleWith(
      this.get(sid).then((session) => session === null),
      callback,
    );
  }

  async #list(): Promise<string[]> {
    await this.ready();
    const names: string[] = [];
    for await (const listed of listStoreFiles(this.path, this.#ext, this.#shard, this.#caseSensitive!)) {
      if (listed.kind !== 'temp') names.push(listed.name);
    }
    return names;
  }

  /** Whether file names are case-sensitive in this store (resolves once the directory has been probed). */
  async isCaseSensitive(): Promise<boolean> {
    await this.ready();
    return this.#caseSensitive!;
  }

  // --- hooks -------------------------------------------------------------------------------------------------

  protected override async _open(): Promise<void> {
    await mkdir(this.path, { recursive: true });
    if (this.#indexed) {
      // The index is written through this path: it must be our directory, not a symlink out of the store.
      const owners = join(this.path, OWNERS_DIR);
      await mkdir(owners).catch((err: NodeJS.ErrnoException) => {
        if (err.code !== 'EEXIST') throw err;
      });
      if (!(await lstat(owners)).isDirectory()) throw invalid(`${owners} must be a directory (it holds the owner index)`);
    }
    if (this.#caseSensitive !== undefined) return;
    const probe = `.~probe-${process.pid}-${randomBytes(6).toString('hex')}`;
    await writeFile(join(this.path, probe), '', { flag: 'wx' });
    try {
      this.#caseSensitive = (await lstatOrNull(join(this.path, probe.toUpperCase()))) === null;
    } finally {
      await unlink(join(this.path, probe)).catch(() => {});
    }
  }

  protected override async _get(sid: string, now: number): Promise<StoredRecord<JsonPayload> | null> {
    const loc = this.#locate(sid);
    const read = await readRegularFile(loc.path);
    if (!read) return this.#fallback ? this.#fallbackRecord(sid, now) : null;
    const file = this.#format.read(read.bytes, loc.file.hashed);
    // Not decodable: hand the text to the serializer, which fails, so the base reports a decode error (or a miss).
    if (file === 'damaged') return { data: read.bytes.toString('utf8'), expiresAt: null };
    if (file === 'foreign' || file === 'tombstone' || (loc.file.hashed && file.sid !== sid)) return null;
    return { data: payloadOf(file, this.#wrapped), expiresAt: fileExpiry(file, this.ttl) };
  }

  protected override async _set(sid: string, data: JsonPayload, expiresAt: number, now: number, context: WriteContext): Promise<void> {
    const loc = this.#locate(sid);
    const out = this.#format.write(data as string, expiresAt, now, loc.file.hashed ? sid : undefined);
    const temp = await this.#writeTemp(loc, out);
    // Before the rename: a session with an owner is never visible without its index entry.
    if (context.owner !== null) await addEntry(this.path, context.owner, loc.file.name);
    await this.#queue.run(loc.path, async () => {
      if (context.guarded && (await this.#revoked(loc, now))) {
        await unlink(temp).catch(() => {});
        return;
      }
      await commit(temp, loc.path, loc.dir, this.#fsync);
    });
  }

  protected override _touch(sid: string, expiresAt: number, now: number): Promise<boolean> {
    const loc = this.#locate(sid);
    return this.#queue.run(loc.path, async () => {
      const read = await readRegularFile(loc.path);
      if (!read) return false;
      const file = this.#format.read(read.bytes, loc.file.hashed);
      // A tombstone is a string here: it is never touched, so it ends with its revocation window.
      if (typeof file === 'string' || (loc.file.hashed && file.sid !== sid)) return false;
      if (fileExpiry(file, this.ttl) <= now) return false;
      const temp = await this.#writeTemp(loc, this.#format.rewrite(file, expiresAt, now, loc.file.hashed ? sid : undefined));
      // Only replace the file we read: a destroy or a newer set (of another process) that finished meanwhile wins.
      if (!sameFile(read.stats, await lstatOrNull(loc.path))) {
        await unlink(temp).catch(() => {});
        return false;
      }
      await commit(temp, loc.path, loc.dir, this.#fsync);
      return true;
    });
  }

  protected override async _destroy(sid: string, _now: number, tombstoneUntil: number | null): Promise<void> {
    const loc = this.#locate(sid);
    if (tombstoneUntil === null) {
      await removeFile(loc.path);
      return;
    }
    // Written before taking the queue, renamed over the session inside it: one atomic replace.
    const temp = await this.#writeTemp(loc, this.#format.tombstone(), tombstoneUntil);
    await this.#queue.run(loc.path, () => commit(temp, loc.path, loc.dir, this.#fsync));
  }

  protected override async *_entries(): AsyncIterable<[string, StoredRecord<JsonPayload>]> {
    for await (const found of this.#sessions())
      yield [found.sid, { data: payloadOf(found.file, this.#wrapped), expiresAt: found.expiresAt }];
  }

  protected override async *_ids(now: number): AsyncIterable<string> {
    for await (const found of this.#sessions()) if (found.expiresAt > now) yield found.sid;
  }

  protected override async *_clear(): AsyncIterable<number> {
    // Only files that hold a session: the directory may be shared with files that merely look like ours.
    for await (const batch of this.#batches(this.#sessions({ tombstones: true }))) {
      const removed = await Promise.all(batch.map((found) => removeFile(found.path)));
      yield removed.filter(Boolean).length;
    }
    // The owner index is ours alone (a directory no session name can take): it goes as a whole.
    await rm(join(this.path, OWNERS_DIR), { recursive: true, force: true });
  }

  protected override async *_prune(now: number, batchSize: number): AsyncIterable<number> {
    let deleted = 0;
    const all = this.#sessions({ temps: true, tombstones: true });
    for await (const batch of this.#batches(all, Math.min(batchSize, SCAN_CONCURRENCY))) {
      const doomed = batch.filter((found) => (found.kind === 'temp' ? found.stats.mtimeMs < now - STALE_TEMP_MS : found.expiresAt <= now));
      const removed = await Promise.all(doomed.map((found) => this.#removeIfUnchanged(found)));
      for (let i = 0; i < doomed.length; i++) if (removed[i] && doomed[i]!.kind === 'session') deleted++;
      if (deleted >= batchSize) {
        yield deleted;
        deleted = 0;
      }
    }
    yield deleted;
    // Then the owner index: entries whose session file is gone (just pruned, destroyed without revocation).
    for await (const owner of ownerDirs(this.path)) {
      for (let i = 0; i < owner.names.length; i += SCAN_CONCURRENCY) {
        const names = owner.names.slice(i, i + SCAN_CONCURRENCY);
        await Promise.all(names.map((name) => this.#pruneEntry(owner.dir, name, now)));
        yield 0;
      }
      await owner.done();
    }
  }

  /** Removes an owner index entry older than the grace period whose session file no longer exists. */
  async #pruneEntry(dir: string, name: string, now: number): Promise<void> {
    const entry = join(dir, name);
    const stats = await lstatOrNull(entry);
    if (!stats || stats.mtimeMs >= now - ENTRY_GRACE_MS) return;
    const listed = this.#listedOf(name);
    if (listed === null || (await lstatOrNull(join(listed.dir, name))) === null) await removeFile(entry);
  }

  protected override async *_sessionsOf(owner: string, now: number): AsyncIterable<[string, StoredRecord<JsonPayload>]> {
    if (!this.#indexed) return;
    const dir = ownerDir(this.path, owner);
    for await (const name of entriesOf(this.path, owner)) {
      const found = await this.#inspectName(name).catch(() => null);
      if (found?.kind === 'session' && found.expiresAt > now) {
        yield [found.sid, { data: payloadOf(found.file, this.#wrapped), expiresAt: found.expiresAt }];
        continue;
      }
      // The session ended (destroyed, expired, gone): drop its entry, unless a writer may be about to use it.
      const entry = join(dir, name);
      const stats = await lstatOrNull(entry);
      if (stats && stats.mtimeMs < now - ENTRY_GRACE_MS) await removeFile(entry);
    }
  }

  // --- internals ---------------------------------------------------------------------------------------------

  /** Reads the file an owner index entry names (a session file name of this store), or null. */
  async #inspectName(name: string): Promise<Found | null> {
    const listed = this.#listedOf(name);
    return listed ? this.#inspect(listed) : null;
  }

  /** Where the session file named `name` lives (its shard directory), or null for a name the store never gives. */
  #listedOf(name: string): Listed | null {
    const sid = sidOfName(name, this.#ext, this.#caseSensitive!);
    if (sid === null) return null;
    const dir = this.#shard > 0 ? join(this.path, shardOf(name.slice(0, name.length - this.#ext.length), this.#shard)) : this.path;
    return sid === 'hashed' ? { dir, name, sid: '', kind: 'hashed' } : { dir, name, sid, kind: 'session' };
  }

  #locate(sid: string): Location {
    const file = fileNameOf(sid, this.#ext, this.#caseSensitive!);
    const dir = this.#shard > 0 ? join(this.path, shardOf(file.base, this.#shard)) : this.path;
    return { dir, path: join(dir, file.name), file };
  }

  /** Whether the file at `loc` is a tombstone whose revocation window has not ended at `now`. */
  async #revoked(loc: Location, now: number): Promise<boolean> {
    // A tombstone's mtime is in the future; a session file's is not. Only such a file is read.
    const stats = await lstatOrNull(loc.path);
    if (!stats?.isFile() || stats.mtimeMs <= now) return false;
    const read = await readRegularFile(loc.path);
    return read !== null && read.stats.mtimeMs > now && this.#format.read(read.bytes, loc.file.hashed) === 'tombstone';
  }

  /** session-file-store's fallback session for a sid without a file: served, not stored, alive for a ttl. */
  #fallbackRecord(sid: string, now: number): StoredRecord<JsonPayload> {
    const session = this.#fallback!(sid);
    const file: SessionFile = { session: session as never, payload: undefined, lastAccess: now, expires: undefined, sid: undefined };
    return { data: this.serializer.stringify(session), expiresAt: fileExpiry(file, this.ttl) };
  }

  async #writeTemp(loc: Location, text: string | Uint8Array, mtimeMs?: number): Promise<string> {
    try {
      return await writeTemp(loc.dir, text, this.#fsync, mtimeMs);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      // Shard directories are created on first use; the root again if someone removed it.
      await mkdir(loc.dir, { recursive: true });
      return writeTemp(loc.dir, text, this.#fsync, mtimeMs);
    }
  }

  /**
   * Every session file (and, as asked, every tombstone and every temp file of ours, with sid `''`), read
   * {@link SCAN_CONCURRENCY} at a time. Each read has its handlers attached when it starts, so a file that cannot
   * be read is reported through `'error'` and skipped: it never becomes an unhandled rejection.
   */
  async *#sessions(include: { temps?: boolean; tombstones?: boolean } = {}): AsyncGenerator<Found> {
    let pending: Array<Promise<Found | null>> = [];
    const wanted = (found: Found | null): found is Found =>
      found !== null && (found.kind === 'session' || (found.kind === 'tombstone' && include.tombstones === true) || found.kind === 'temp');
    for await (const listed of listStoreFiles(this.path, this.#ext, this.#shard, this.#caseSensitive!)) {
      if (listed.kind === 'temp' && !include.temps) continue;
      pending.push(this.#inspect(listed).catch((err: unknown) => this.#skip(listed, err)));
      if (pending.length >= SCAN_CONCURRENCY) {
        for (const found of await Promise.all(pending)) if (wanted(found)) yield found;
        pending = [];
      }
    }
    for (const found of await Promise.all(pending)) if (wanted(found)) yield found;
  }

  async #inspect(listed: Listed): Promise<Found | null> {
    const path = join(listed.dir, listed.name);
    if (listed.kind === 'temp') {
      const stats = await lstatOrNull(path);
      return stats?.isFile() ? { kind: 'temp', sid: '', path, file: undefined as never, expiresAt: 0, stats } : null;
    }
    const read = await readRegularFile(path);
    if (!read) return null;
    const file = this.#format.read(read.bytes, listed.kind === 'hashed');
    if (file === 'tombstone') {
      return { kind: 'tombstone', sid: listed.sid, path, file: undefined as never, expiresAt: read.stats.mtimeMs, stats: read.stats };
    }
    if (typeof file === 'string') return null;
    const sid = listed.kind === 'hashed' ? file.sid : listed.sid;
    // A hashed file counts only if its stored sid really hashes to its name.
    if (typeof sid !== 'string' || (listed.kind === 'hashed' && fileNameOf(sid, this.#ext, this.#caseSensitive!).name !== basename(path)))
      return null;
    return { kind: 'session', sid, path, file, expiresAt: fileExpiry(file, this.ttl), stats: read.stats };
  }

  #skip(listed: Listed, err: unknown): null {
    this.emitError(backendError(err, `file scan of ${join(listed.dir, listed.name)}`));
    return null;
  }

  async *#batches<T>(source: AsyncIterable<T>, size = SCAN_CONCURRENCY): AsyncGenerator<T[]> {
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

  /** Unlinks a file only if it is still the one inspected (a session rewritten meanwhile is not expired). */
  async #removeIfUnchanged(found: Found): Promise<boolean> {
    if (!sameFile(found.stats, await lstatOrNull(found.path))) return false;
    return removeFile(found.path);
  }
}

/** `lstat` of `path`, or null when there is nothing there. */
async function lstatOrNull(path: string): Promise<Stats | null> {
  try {
    return await lstat(path);
  } catch (err) {
    if (notThere(err)) return null;
    throw err;
  }
}

function sameFile(a: Stats, b: Stats | null): boolean {
  return b !== null && a.ino === b.ino && a.dev === b.dev && a.mtimeMs === b.mtimeMs && a.size === b.size;
}

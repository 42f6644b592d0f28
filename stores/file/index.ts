import { randomBytes } from 'node:crypto';
import { readFile as readFileCallback, type Stats } from 'node:fs';
import { promisify } from 'node:util';
import { lstat, mkdir, open, opendir, stat, unlink, writeFile } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import type { SessionData } from 'express-session';
import { ErrorCode, SessionStoreError } from '../../shared/errors.js';
import { jsonSerializer } from '../../shared/serializer.js';
import { SessionStore } from '../../shared/store.js';
import type { BaseStoreOptions, StoredRecord, Ttl } from '../../shared/types.js';
import { TEMP_PREFIX, commit, removeFile, writeTemp } from './atomic.js';
import { type SessionFile, composeFile, isObjectText, parseFile } from './envelope.js';
import { type FileName, fileNameOf, shardOf, sidOfName } from './names.js';

// The callback readFile, promisified: on Node 20 it reads a small file in one go, about twice as fast under load as
// fs/promises' readFile, which reads in chunks (measured by the benchmarks: 29k vs 14k reads/s of 5 KB files).
const readWhole = promisify(readFileCallback);

/** Options of {@link FileStore}: session-file-store's names where they exist, plus the shared options. */
export interface FileStoreOptions extends BaseStoreOptions<string> {
  /** Directory holding one file per session; created if missing. Default `'./sessions'` (resolved once, now). */
  path?: string;
  /** Extension of session files (`''` or dot-separated `[A-Za-z0-9_-]` parts). Default `'.json'`. */
  fileExtension?: string;
  /**
   * How often expired sessions (and temp files left by killed writers) are deleted, in **seconds**
   * (session-file-store's name and unit). `-1`, `0` or `false` disables it. `pruneIntervalMs` wins when both
   * are given. Default 3600.
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
  /** Accepted for session-file-store compatibility and ignored: writes are atomic renames, nothing to retry. */
  retries?: number;
  /** Accepted for session-file-store compatibility and ignored: the store does not log (listen to `'error'`). */
  logFn?: (...args: unknown[]) => void;
}

const DEFAULT_TTL_SECONDS = 3600;
const DEFAULT_REAP_SECONDS = 3600;
/** Temp files older than this belong to a writer that died: no live write takes minutes. */
const STALE_TEMP_MS = 10 * 60 * 1000;
/** Files read or deleted concurrently by scans (the libuv pool has 4 threads by default). */
const SCAN_CONCURRENCY = 64;
const EXTENSION = /^(\.[A-Za-z0-9_-]+)*$/;

interface Location {
  dir: string;
  path: string;
  file: FileName;
}

interface Listed {
  dir: string;
  name: string;
}

/** One directory entry, looked at. */
type Inspected =
  | { kind: 'session'; sid: string; path: string; file: SessionFile; expiresAt: number; stats: Stats }
  | { kind: 'damaged'; path: string; stats: Stats }
  | { kind: 'temp'; path: string; stats: Stats };

/**
 * A session store keeping one JSON file per session in a directory, drop-in compatible with
 * session-file-store 1.5: it reads and writes `<path>/<sid>.json` = `{ ...session, __lastAccess }` and applies
 * that store's sliding expiry to files it wrote (see `envelope.ts`), while its own files carry an exact
 * millisecond expiry (`__expires`).
 *
 * **File names.** Sids made of `[A-Za-z0-9_-]` (≤ 200 characters; lowercase only on case-insensitive disks;
 * not a Windows device name such as `con`) are used as the file name, as session-file-store does. Any other
 * sid is stored as `~<base32 of its UTF-8>.json`, or `~~<sha256>.json` when that would exceed 255 bytes (the sid
 * is then kept inside the file). So no sid can reach a path outside the directory on Linux, macOS or Windows
 * (no separators, dots, `:`, NUL, device names, trailing dots or spaces, case collisions), and `ids()` returns
 * the original sids.
 *
 * **Writes** go to a temp file in the same directory, then `rename` over the session file: readers see the old
 * or the new file, never a torn one, even if the writer is killed (`fsync` adds power-loss durability).
 * Concurrent writers of one sid end with one complete file (the last rename). On Windows, a rename that meets
 * a transient sharing violation (EPERM/EACCES/EBUSY) is retried a few times, silently.
 *
 * **Races inherent to files.** `touch()` reads, checks and rewrites; it renames only if the file is still the
 * one it read (same inode, mtime and size), so a `destroy()` or newer `set()` that finished earlier wins.
 * One finishing in the microseconds between that check and the rename can still be overwritten by the touch.
 * Pruning has the same check-then-unlink window. Databases do not have this window; files do.
 *
 * **Scale.** get/set/touch/destroy open one file by name; no request lists the directory. `all()`, `ids()`,
 * `length()`, `clear()` and pruning stream the directory with `opendir` and read files 64 at a time, yielding
 * between batches; each costs one read per session file. Use `shard` for millions of sessions.
 *
 * @example
 * ```ts
 * import { FileStore } from 'session-stores/file';
 * app.use(session({ store: new FileStore({ path: './sessions' }), secret, resave: false, saveUninitialized: false }));
 * ```
 */
export class FileStore extends SessionStore<string> {
  /** Absolute path of the session directory. */
  readonly path: string;
  readonly #ext: string;
  readonly #fsync: boolean;
  readonly #shard: number;
  readonly #wrapped: boolean;
  readonly #ttl: Ttl;
  #caseSensitive: boolean | undefined;
  #ready: Promise<void> | undefined;
  #pruneCursor: AsyncGenerator<Inspected> | undefined;

  constructor(options: FileStoreOptions = {}) {
    const checked = checkOptions(options);
    super(
      { ...options, ttl: checked.ttl, pruneIntervalMs: options.pruneIntervalMs ?? checked.reapMs },
      { name: 'file', nativeExpiry: false, pruneIntervalMs: DEFAULT_REAP_SECONDS * 1000 },
    );
    this.path = resolve(options.path ?? './sessions');
    this.#ext = checked.ext;
    this.#fsync = options.fsync === true;
    this.#shard = checked.shard;
    this.#ttl = checked.ttl;
    this.#caseSensitive = options.caseSensitive;
    this.#wrapped = options.serializer !== undefined && options.serializer !== jsonSerializer;
  }

  /** Whether file names are case-sensitive in this store (resolves once the directory has been probed). */
  async isCaseSensitive(): Promise<boolean> {
    await this.#init();
    return this.#caseSensitive!;
  }

  // --- hooks -------------------------------------------------------------------------------------------------

  protected override async _get(sid: string): Promise<StoredRecord<string> | null> {
    await this.#init();
    const loc = this.#locate(sid);
    let text: string;
    try {
      text = await readWhole(loc.path, 'utf8');
    } catch (err) {
      if (isMissing(err)) return null;
      throw err;
    }
    const file = parseFile(text, this.#wrapped, loc.file.hashed);
    // Not JSON: hand the text to the serializer, which fails, so the base reports a decode error (or a miss).
    if (!file) return { data: text, expiresAt: null };
    if (loc.file.hashed && file.sid !== sid) return null;
    const expiresAt = await this.#expiryOf(file, async () => (await stat(loc.path)).mtimeMs);
    return { data: this.#dataOf(file), expiresAt };
  }

  protected override async _set(sid: string, data: string, expiresAt: number, now: number): Promise<void> {
    await this.#init();
    const loc = this.#locate(sid);
    const text = composeFile(data, expiresAt, now, !this.#wrapped && isObjectText(data), loc.file.hashed ? sid : undefined);
    await this.#write(loc, text);
  }

  protected override async _touch(sid: string, expiresAt: number, now: number): Promise<boolean> {
    await this.#init();
    const loc = this.#locate(sid);
    let before: Stats;
    let text: string;
    try {
      const handle = await open(loc.path, 'r');
      try {
        before = await handle.stat();
        text = await handle.readFile('utf8');
      } finally {
        await handle.close();
      }
    } catch (err) {
      if (isMissing(err)) return false;
      throw err;
    }
    const file = parseFile(text, this.#wrapped, loc.file.hashed);
    if (!file || (loc.file.hashed && file.sid !== sid)) return false;
    if ((await this.#expiryOf(file, async () => before.mtimeMs)) <= now) return false;
    const cookie = file.session.cookie as { expires?: unknown } | undefined;
    // Keep the stored cookie in step for session-file-store and human readers (our reads patch it anyway).
    if (!this.#wrapped && cookie && typeof cookie === 'object' && cookie.expires != null)
      cookie.expires = new Date(expiresAt).toISOString();
    const data = this.#dataOf(file);
    const out = composeFile(data, expiresAt, now, !this.#wrapped && isObjectText(data), loc.file.hashed ? sid : undefined);
    const temp = await this.#writeTemp(loc, out);
    // Only replace the file we read: a destroy or a newer set that finished meanwhile must win over a touch.
    if (!sameFile(before, await statOrNull(loc.path))) {
      await unlink(temp).catch(() => {});
      return false;
    }
    await commit(temp, loc.path, loc.dir, this.#fsync);
    return true;
  }

  protected override async _destroy(sid: string): Promise<void> {
    await this.#init();
    await removeFile(this.#locate(sid).path);
  }

  protected override async *_entries(): AsyncIterable<[string, StoredRecord<string>]> {
    await this.#init();
    for await (const item of this.#inspectAll()) {
      if (item.kind === 'session') yield [item.sid, { data: this.#dataOf(item.file), expiresAt: item.expiresAt }];
    }
  }

  protected override async *_ids(now: number): AsyncIterable<string> {
    await this.#init();
    for await (const item of this.#inspectAll()) if (item.kind === 'session' && item.expiresAt > now) yield item.sid;
  }

  protected override async _clear(): Promise<void> {
    await this.#init();
    let batch: Promise<unknown>[] = [];
    for await (const { dir, name } of this.#list()) {
      if (sidOfName(name, this.#ext, this.#caseSensitive!) === null) continue;
      batch.push(removeFile(join(dir, name)));
      if (batch.length >= SCAN_CONCURRENCY) {
        await Promise.all(batch);
        batch = [];
      }
    }
    await Promise.all(batch);
  }

  protected override async _pruneBatch(now: number, limit: number): Promise<number> {
    await this.#init();
    // One cursor across the batches of a pass: each batch resumes where the last stopped instead of rescanning.
    const cursor = (this.#pruneCursor ??= this.#inspectAll());
    let deleted = 0;
    let done = false;
    while (deleted < limit && !done) {
      const doomed: Inspected[] = [];
      while (doomed.length < Math.min(limit - deleted, SCAN_CONCURRENCY)) {
        const next = await cursor.next();
        if (next.done) {
          done = true;
          break;
        }
        if (this.#isDoomed(next.value, now)) doomed.push(next.value);
      }
      const results = await Promise.all(doomed.map((item) => this.#removeIfUnchanged(item)));
      for (let i = 0; i < doomed.length; i++) if (results[i] && doomed[i]!.kind === 'session') deleted++;
    }
    if (done && this.#pruneCursor === cursor) this.#pruneCursor = undefined;
    return deleted;
  }

  protected override async _close(): Promise<void> {
    const cursor = this.#pruneCursor;
    this.#pruneCursor = undefined;
    await cursor?.return(undefined);
  }

  // --- internals ---------------------------------------------------------------------------------------------

  #init(): Promise<void> {
    this.#ready ??= this.#prepare().catch((err: unknown) => {
      this.#ready = undefined; // a directory created later (or fixed permissions) makes the next call work
      throw err;
    });
    return this.#ready;
  }

  async #prepare(): Promise<void> {
    await mkdir(this.path, { recursive: true });
    if (this.#caseSensitive !== undefined) return;
    const probe = `.~probe-${process.pid}-${randomBytes(6).toString('hex')}`;
    await writeFile(join(this.path, probe), '', { flag: 'wx' });
    try {
      this.#caseSensitive = (await statOrNull(join(this.path, probe.toUpperCase()))) === null;
    } finally {
      await unlink(join(this.path, probe)).catch(() => {});
    }
  }

  #locate(sid: string): Location {
    const file = fileNameOf(sid, this.#ext, this.#caseSensitive!);
    const dir = this.#shard > 0 ? join(this.path, shardOf(file.base, this.#shard)) : this.path;
    return { dir, path: join(dir, file.name), file };
  }

  /** The payload the serializer decodes: the session without envelope fields, or the wrapped payload. */
  #dataOf(file: SessionFile): string {
    return this.#wrapped && file.payload !== undefined ? file.payload : JSON.stringify(file.session);
  }

  /**
   * Our `__expires` when we wrote the file last; else session-file-store's rule: expired once
   * `__lastAccess + (cookie.originalMaxAge || ttl) < now` (so the first expired instant is that sum + 1 ms), and
   * at once when that lifetime is 0. A file without `__lastAccess` counts from its mtime (session-file-store
   * would keep it forever).
   */
  async #expiryOf(file: SessionFile, mtime: () => Promise<number>): Promise<number> {
    if (file.expires !== undefined) return file.expires;
    const maxAge = (file.session.cookie as { originalMaxAge?: unknown } | undefined)?.originalMaxAge;
    const seconds = typeof this.#ttl === 'function' ? this.#ttl(file.session as unknown as SessionData) : this.#ttl;
    const lifetime = maxAge ? Number(maxAge) : seconds * 1000;
    if (!lifetime) return 0;
    return (file.lastAccess ?? (await mtime())) + lifetime + 1;
  }

  async #write(loc: Location, text: string): Promise<void> {
    await commit(await this.#writeTemp(loc, text), loc.path, loc.dir, this.#fsync);
  }

  async #writeTemp(loc: Location, text: string): Promise<string> {
    try {
      return await writeTemp(loc.dir, text, this.#fsync);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      // Shard directories are created on first use; the root again if someone removed it.
      await mkdir(loc.dir, { recursive: true });
      return writeTemp(loc.dir, text, this.#fsync);
    }
  }

  /** Every entry of the store's directories, streamed (`opendir`), never the whole listing in memory. */
  async *#list(): AsyncGenerator<Listed> {
    const shardName = new RegExp(`^[0-9a-f]{${this.#shard}}$`);
    for await (const entry of await opendir(this.path, { bufferSize: 256 })) {
      if (this.#shard === 0) {
        yield { dir: this.path, name: entry.name };
        continue;
      }
      // No Dirent type check: some file systems report every entry as unknown; opendir fails with ENOTDIR instead.
      if (!shardName.test(entry.name)) continue;
      const dir = join(this.path, entry.name);
      let handle;
      try {
        handle = await opendir(dir, { bufferSize: 256 });
      } catch (err) {
        if (isMissing(err)) continue;
        throw err;
      }
      for await (const inner of handle) yield { dir, name: inner.name };
    }
  }

  /** Session, temp and damaged files with their expiry, read {@link SCAN_CONCURRENCY} at a time. */
  async *#inspectAll(): AsyncGenerator<Inspected> {
    let batch: Array<Promise<Inspected | null>> = [];
    for await (const { dir, name } of this.#list()) {
      if (name.startsWith(TEMP_PREFIX)) {
        batch.push(statOrNull(join(dir, name), lstat).then((stats) => (stats ? { kind: 'temp', path: join(dir, name), stats } : null)));
      } else {
        const sid = sidOfName(name, this.#ext, this.#caseSensitive!);
        if (sid === null) continue;
        if (this.#shard > 0 && shardOf(name.slice(0, name.length - this.#ext.length), this.#shard) !== dir.slice(-this.#shard)) continue;
        batch.push(this.#inspect(join(dir, name), sid));
      }
      if (batch.length >= SCAN_CONCURRENCY) {
        for (const item of await Promise.all(batch)) if (item) yield item;
        batch = [];
      }
    }
    for (const item of await Promise.all(batch)) if (item) yield item;
  }

  async #inspect(path: string, sid: string): Promise<Inspected | null> {
    let stats: Stats;
    let text: string;
    try {
      const handle = await open(path, 'r');
      try {
        stats = await handle.stat();
        if (!stats.isFile()) return null;
        text = await handle.readFile('utf8');
      } finally {
        await handle.close();
      }
    } catch (err) {
      if (isMissing(err) || (err as NodeJS.ErrnoException).code === 'EISDIR') return null;
      throw err;
    }
    const file = parseFile(text, this.#wrapped, sid === 'hashed');
    if (!file) return { kind: 'damaged', path, stats };
    const realSid = sid === 'hashed' ? file.sid : sid;
    // A hashed file counts only if its stored sid really hashes to its name.
    if (typeof realSid !== 'string' || (sid === 'hashed' && fileNameOf(realSid, this.#ext, this.#caseSensitive!).name !== basename(path))) {
      return { kind: 'damaged', path, stats };
    }
    return { kind: 'session', sid: realSid, path, file, expiresAt: await this.#expiryOf(file, async () => stats.mtimeMs), stats };
  }

  #isDoomed(item: Inspected, now: number): boolean {
    if (item.kind === 'session') return item.expiresAt <= now;
    if (item.kind === 'temp') return item.stats.mtimeMs < now - STALE_TEMP_MS;
    // Unreadable files are no session anyone can use; give them a TTL's grace for inspection, then drop them.
    return item.stats.mtimeMs + (typeof this.#ttl === 'number' ? this.#ttl : DEFAULT_TTL_SECONDS) * 1000 <= now;
  }

  /** Unlinks a file only if it is still the one inspected (a session rewritten meanwhile is not expired). */
  async #removeIfUnchanged(item: Inspected): Promise<boolean> {
    if (!sameFile(item.stats, await statOrNull(item.path, lstat))) return false;
    return removeFile(item.path);
  }
}

function checkOptions(options: FileStoreOptions): { ext: string; shard: number; ttl: Ttl; reapMs: number | false | undefined } {
  const invalid = (message: string) => new SessionStoreError(ErrorCode.INVALID_OPTION, message);
  if (options.path !== undefined && (typeof options.path !== 'string' || options.path.length === 0))
    throw invalid('path must be a non-empty string');
  const ext = options.fileExtension ?? '.json';
  if (typeof ext !== 'string' || !EXTENSION.test(ext) || ext.length > 32) {
    throw invalid(`fileExtension must be '' or like '.json' (dot-separated letters, digits, '_' and '-'), got ${JSON.stringify(ext)}`);
  }
  const shard = options.shard === undefined || options.shard === false ? 0 : options.shard;
  if (!Number.isInteger(shard) || shard < 0 || shard > 4) throw invalid('shard must be an integer from 1 to 4, or false');
  if (options.fsync !== undefined && typeof options.fsync !== 'boolean') throw invalid('fsync must be a boolean');
  if (options.caseSensitive !== undefined && typeof options.caseSensitive !== 'boolean') throw invalid('caseSensitive must be a boolean');
  if ((options as { secret?: unknown }).secret !== undefined) {
    throw invalid("secret (session-file-store's encryption) is not supported: pass an encrypting serializer instead");
  }
  const reap = options.reapInterval;
  let reapMs: number | false | undefined;
  if (reap === undefined) reapMs = undefined;
  else if (reap === false || reap === -1 || reap === 0) reapMs = false;
  else if (typeof reap === 'number' && Number.isFinite(reap) && reap > 0) reapMs = Math.max(1, Math.round(reap * 1000));
  else throw invalid('reapInterval must be a number of seconds > 0, or -1 / false to disable');
  return { ext, shard, ttl: options.ttl ?? DEFAULT_TTL_SECONDS, reapMs };
}

function isMissing(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException).code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}

/** `stat` (or `lstat`) of `path`, or null when it does not exist. */
async function statOrNull(path: string, statFn: (path: string) => Promise<Stats> = stat): Promise<Stats | null> {
  try {
    return await statFn(path);
  } catch (err) {
    if (isMissing(err)) return null;
    throw err;
  }
}

function sameFile(a: Stats, b: Stats | null): boolean {
  return b !== null && a.ino === b.ino && a.dev === b.dev && a.mtimeMs === b.mtimeMs && a.size === b.size;
}

export default FileStore;

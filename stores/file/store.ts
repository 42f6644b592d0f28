import { mkdir, unlink } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { SessionData } from 'express-session';
import { type Callback, settle as settleWith } from '../../shared/callback.js';
import { KeyedQueue } from '../../shared/keyed-queue.js';
import { type JsonPayload, type Serializer, jsonPayloadSerializer, jsonSerializer } from '../../shared/serializer.js';
import { type SessionMap, SessionStore, storeOptions } from '../../shared/store.js';
import type { StoredRecord, WriteContext } from '../../shared/types.js';
import { STALE_TEMP_MS, commit, removeFile, removeIfUnchanged, writeTemp } from './atomic.js';
import { FileFormat, type SessionFile, fileExpiry, payloadOf } from './format.js';
import { Inspector } from './inspect.js';
import { probeCaseSensitive } from './names.js';
import { DEFAULT_REAP_SECONDS, DEFAULT_TTL_SECONDS, FILE_OPTIONS, type FileStoreOptions, fileSecret } from './options.js';
import { addEntry, clearOwnerIndex, openOwnerIndex, ownedBy, pruneOwnerIndex } from './owners.js';
import { lstatOrNull, readRegularFile, readSessionFile, sameFile } from './read.js';
import { type Layout, type Location, SCAN_CONCURRENCY, batches, listStoreFiles, locate } from './scan.js';

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
  /** The `caseSensitive` option, until the directory has been probed. */
  readonly #caseSensitive: boolean | undefined;
  /** Where the files are, and their reader: set once the store is open (the directory's case sensitivity known). */
  #layout!: Layout;
  #files!: Inspector;

  /** @param options options, or just the directory */
  constructor(options: FileStoreOptions | string = {}) {
    const opts = storeOptions<FileStoreOptions>(typeof options === 'string' ? { path: options } : options, FILE_OPTIONS);
    const path = resolve(opts.path ?? './sessions');
    const wrapped = opts.serializer !== undefined && (opts.serializer as unknown) !== jsonSerializer;
    const sealer = fileSecret(opts);
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
    this.#format = new FileFormat(
      wrapped,
      {
        encoder: opts.encoder ?? JSON.stringify,
        decoder: opts.decoder ?? (JSON.parse as (data: string | Buffer) => unknown),
        encoding: opts.encoding === undefined ? 'utf8' : opts.encoding,
      },
      sealer,
    );
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
    for await (const listed of listStoreFiles(this.#layout)) {
      if (listed.kind !== 'temp') names.push(listed.name);
    }
    return names;
  }

  /** Whether file names are case-sensitive in this store (resolves once the directory has been probed). */
  async isCaseSensitive(): Promise<boolean> {
    await this.ready();
    return this.#layout.caseSensitive;
  }

  // --- hooks -------------------------------------------------------------------------------------------------

  protected override async _open(): Promise<void> {
    await mkdir(this.path, { recursive: true });
    if (this.#indexed) await openOwnerIndex(this.path);
    const caseSensitive = this.#caseSensitive ?? (await probeCaseSensitive(this.path));
    this.#layout = { root: this.path, ext: this.#ext, shard: this.#shard, caseSensitive };
    this.#files = new Inspector(this.#layout, this.#format, this.ttl, (err) => this.emitError(err));
  }

  protected override async _get(sid: string, now: number): Promise<StoredRecord<JsonPayload> | null> {
    const loc = locate(this.#layout, sid);
    const file = await readSessionFile(loc.path, (bytes) => {
      // Encrypted: decrypted (asynchronously) below, from a copy of the pooled buffer.
      if (this.#format.sealed) return { sealed: Buffer.from(bytes) };
      const parsed = this.#format.parse(bytes, loc.file.hashed);
      // Not decodable: hand the text to the serializer, which fails, so the base reports a decode error (or a miss).
      return parsed === 'damaged' ? { damaged: this.#format.unreadable(bytes) } : parsed;
    }).then(async (read) => {
      if (read === null || typeof read !== 'object' || !('sealed' in read) || read.sealed === undefined) return read;
      const bytes = read.sealed;
      const parsed = await this.#format.read(bytes, loc.file.hashed);
      return parsed === 'damaged' ? { damaged: this.#format.unreadable(bytes) } : parsed;
    });
    if (!file) return this.#fallback ? this.#fallbackRecord(sid, now) : null;
    if (typeof file === 'object' && 'damaged' in file) return { data: file.damaged, expiresAt: null };
    if (file === 'foreign' || file === 'tombstone' || (loc.file.hashed && file.sid !== sid)) return null;
    return { data: payloadOf(file, this.#wrapped), expiresAt: fileExpiry(file, this.ttl) };
  }

  protected override async _set(sid: string, data: JsonPayload, expiresAt: number, now: number, context: WriteContext): Promise<void> {
    const loc = locate(this.#layout, sid);
    const out = await this.#format.write(data as string, expiresAt, now, loc.file.hashed ? sid : undefined);
    const temp = await this.#writeTemp(loc, out);
    // Before the rename: a session with an owner is never visible without its index entry.
    if (context.owner !== null) await addEntry(this.path, context.owner, loc.file.name);
    await this.#queue.run(loc.path, async () => {
      if (context.guarded && (await this.#files.revoked(loc, now))) {
        await unlink(temp).catch(() => {});
        return;
      }
      await commit(temp, loc.path, loc.dir, this.#fsync);
    });
  }

  protected override _touch(sid: string, expiresAt: number, now: number): Promise<boolean> {
    const loc = locate(this.#layout, sid);
    return this.#queue.run(loc.path, async () => {
      const read = await readRegularFile(loc.path);
      if (!read) return false;
      const file = await this.#format.read(read.bytes, loc.file.hashed);
      // A tombstone is a string here: it is never touched, so it ends with its revocation window.
      if (typeof file === 'string' || (loc.file.hashed && file.sid !== sid)) return false;
      if (fileExpiry(file, this.ttl) <= now) return false;
      const temp = await this.#writeTemp(loc, await this.#format.rewrite(file, expiresAt, now, loc.file.hashed ? sid : undefined));
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
    const loc = locate(this.#layout, sid);
    if (tombstoneUntil === null) {
      await removeFile(loc.path);
      return;
    }
    // Written before taking the queue, renamed over the session inside it: one atomic replace.
    const temp = await this.#writeTemp(loc, await this.#format.tombstone(), tombstoneUntil);
    await this.#queue.run(loc.path, () => commit(temp, loc.path, loc.dir, this.#fsync));
  }

  protected override async *_entries(): AsyncIterable<[string, StoredRecord<JsonPayload>]> {
    for await (const found of this.#files.scan())
      yield [found.sid, { data: payloadOf(found.file, this.#wrapped), expiresAt: found.expiresAt }];
  }

  protected override async *_ids(now: number): AsyncIterable<string> {
    for await (const found of this.#files.scan()) if (found.expiresAt > now) yield found.sid;
  }

  protected override async *_clear(): AsyncIterable<number> {
    // Only files that hold a session: the directory may be shared with files that merely look like ours.
    for await (const batch of batches(this.#files.scan({ tombstones: true }))) {
      const removed = await Promise.all(batch.map((found) => removeFile(found.path)));
      yield removed.filter(Boolean).length;
    }
    await clearOwnerIndex(this.path);
  }

  protected override async *_prune(now: number, batchSize: number): AsyncIterable<number> {
    let deleted = 0;
    const all = this.#files.scan({ temps: true, tombstones: true });
    for await (const batch of batches(all, Math.min(batchSize, SCAN_CONCURRENCY))) {
      const doomed = batch.filter((found) => (found.kind === 'temp' ? found.stats.mtimeMs < now - STALE_TEMP_MS : found.expiresAt <= now));
      const removed = await Promise.all(doomed.map((found) => removeIfUnchanged(found.path, found.stats)));
      for (let i = 0; i < doomed.length; i++) if (removed[i] && doomed[i]!.kind === 'session') deleted++;
      if (deleted >= batchSize) {
        yield deleted;
        deleted = 0;
      }
    }
    yield deleted;
    // Then the owner index: entries whose session file is gone (just pruned, destroyed without revocation).
    yield* pruneOwnerIndex(this.#layout, now);
  }

  protected override async *_sessionsOf(owner: string, now: number): AsyncIterable<[string, StoredRecord<JsonPayload>]> {
    if (!this.#indexed) return;
    // An entry whose session ended (destroyed, expired, gone) is dropped on the way.
    const live = async (name: string): Promise<[string, StoredRecord<JsonPayload>] | null> => {
      const found = await this.#files.inspectName(name).catch(() => null);
      if (found?.kind !== 'session' || found.expiresAt <= now) return null;
      return [found.sid, { data: payloadOf(found.file, this.#wrapped), expiresAt: found.expiresAt }];
    };
    yield* ownedBy(this.path, owner, now, live);
  }

  // --- internals ---------------------------------------------------------------------------------------------

  /** session-file-store's fallback session for a sid without a file: served, not stored, alive for a ttl. */
  #fallbackRecord(sid: string, now: number): StoredRecord<JsonPayload> {
    const session = this.#fallback!(sid);
    const file: SessionFile = { session: session as never, payload: undefined, lastAccess: now, expires: undefined, sid: undefined };
    return { data: this.serializer.stringify(session), expiresAt: fileExpiry(file, this.ttl) };
  }

  #writeTemp(loc: Location, text: string | Uint8Array, mtimeMs?: number): Promise<string> {
    return writeTemp(loc.dir, text, this.#fsync, mtimeMs);
  }
}

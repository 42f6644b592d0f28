import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import session from 'express-session';
import type { SessionData } from 'express-session';
import { type Callback, settle } from './callback.js';
import { ErrorCode, SessionStoreError, backendError } from './errors.js';
import { ExpiryCache } from './expiry-cache.js';
import { cookieExpiry, resolveExpiry } from './expiry.js';
import { Scheduler } from './scheduler.js';
import { type Serializer, jsonSerializer } from './serializer.js';
import type { BackendInfo, BaseStoreOptions, StoreCapabilities, StoredRecord, Ttl } from './types.js';
import { assertNumberOption, assertSession, assertSid, assertTtl } from './validate.js';

const DEFAULT_TTL_SECONDS = 86_400;

/** The shape `all()` resolves to: sessions keyed by sid, as express-session's MemoryStore returns them. */
export type SessionMap = Record<string, SessionData>;

/**
 * The abstract store every backend extends. It owns the public express-session API (callbacks *and* promises),
 * validation, expiry math, touch policy (including lazy touch), serialization, errors, events, pruning and
 * `close()`. A backend implements only the protected `_hooks`, which receive validated arguments: a sid, the
 * serialized payload and an **absolute expiry in epoch milliseconds**. Hooks never see callbacks, TTLs or JSON.
 *
 * Events: `'connect'` / `'disconnect'` when the database becomes reachable / unreachable (express-session stops
 * using the store in between), `'error'` for background failures (pruning, undecodable records) — emitted only
 * when someone listens, so an unobserved failure never crashes the process.
 */
export abstract class SessionStore<Stored = string> extends session.Store {
  #supports: Readonly<StoreCapabilities>;

  readonly #backend: BackendInfo;
  readonly #ttl: Ttl;
  readonly #disableTouch: boolean;
  readonly #touchAfterMs: number;
  readonly #serializer: Serializer<Stored>;
  readonly #onDecodeError: 'miss' | 'error';
  readonly #maxSidLength: number;
  readonly #pruneBatchSize: number;
  readonly #expiries: ExpiryCache;
  #scheduler: Scheduler | undefined;
  #closed = false;
  #closing: Promise<void> | undefined;
  #pruning: Promise<unknown> | undefined;
  #connected = true;

  // --- hooks for backends ------------------------------------------------------------------------------------

  /** The record for `sid`, or null. It may be expired; the base filters it. */
  protected abstract _get(sid: string, now: number): Promise<StoredRecord<Stored> | null | undefined>;
  /** Insert or replace `sid` with `data`, expiring at `expiresAt` (epoch ms, always in the future). */
  protected abstract _set(sid: string, data: Stored, expiresAt: number, now: number): Promise<void>;
  /**
   * Move the expiry of `sid` to `expiresAt` **only if** it exists and has not expired at `now`. Never creates a
   * record and never changes its data. Resolves whether a record was touched.
   */
  protected abstract _touch(sid: string, expiresAt: number, now: number): Promise<boolean>;
  /** Remove `sid`; a missing sid is not an error. */
  protected abstract _destroy(sid: string): Promise<void>;
  /** Every record of this store (expired ones may be included; the base filters them). Enables `all()`. */
  protected _entries?(now: number): AsyncIterable<[string, StoredRecord<Stored>]>;
  /** The sids of unexpired records. Defaults to `_entries`. */
  protected _ids?(now: number): AsyncIterable<string>;
  /** How many unexpired records there are. Defaults to counting `_ids`. */
  protected _length?(now: number): Promise<number>;
  /** Remove every record of this store and nothing else. */
  protected _clear?(): Promise<void>;
  /** Delete at most `limit` records expired at `now`; resolves how many were deleted. Enables pruning. */
  protected _pruneBatch?(now: number, limit: number): Promise<number>;
  /**
   * Runs a whole pruning pass, or skips it (resolving `undefined`) when another process holds the right to prune.
   * The default runs it; Postgres takes an advisory lock here.
   */
  protected _pruneExclusive?<T>(run: () => Promise<T>): Promise<T | undefined>;
  /** Release what the store itself opened. Called once, by `close()`. */
  protected _close?(): Promise<void>;

  // --- construction ------------------------------------------------------------------------------------------

  protected constructor(options: BaseStoreOptions<Stored> = {}, backend: BackendInfo) {
    super();
    this.#backend = backend;
    this.#ttl = options.ttl ?? DEFAULT_TTL_SECONDS;
    assertTtl(this.#ttl);
    this.#disableTouch = options.disableTouch === true;
    const touchAfter = options.touchAfter ?? 0;
    assertNumberOption('touchAfter', touchAfter, 0);
    this.#touchAfterMs = Math.round(touchAfter * 1000);
    const cacheSize = options.touchCacheSize ?? 10_000;
    assertNumberOption('touchCacheSize', cacheSize, 0);
    this.#expiries = new ExpiryCache(this.#touchAfterMs > 0 ? cacheSize : 0);
    this.#serializer = options.serializer ?? (jsonSerializer as unknown as Serializer<Stored>);
    if (typeof this.#serializer.stringify !== 'function' || typeof this.#serializer.parse !== 'function') {
      throw new SessionStoreError(ErrorCode.INVALID_OPTION, 'serializer must have stringify() and parse() functions');
    }
    this.#onDecodeError = options.onDecodeError ?? 'miss';
    this.#maxSidLength = options.maxSidLength ?? 1024;
    assertNumberOption('maxSidLength', this.#maxSidLength, 1);
    this.#pruneBatchSize = options.pruneBatchSize ?? 1000;
    assertNumberOption('pruneBatchSize', this.#pruneBatchSize, 1);

    this.#supports = Object.freeze({
      touch: !this.#disableTouch,
      lazyTouch: !this.#disableTouch && this.#touchAfterMs > 0,
      nativeExpiry: backend.nativeExpiry === true,
      all: typeof this._entries === 'function',
      ids: typeof this._ids === 'function' || typeof this._entries === 'function',
      length: typeof this._length === 'function' || typeof this._ids === 'function' || typeof this._entries === 'function',
      clear: typeof this._clear === 'function',
      prune: typeof this._pruneBatch === 'function',
    });

    const interval = options.pruneIntervalMs !== undefined ? options.pruneIntervalMs : backend.pruneIntervalMs;
    if (interval !== false && interval !== undefined && interval !== 0) {
      assertNumberOption('pruneIntervalMs', interval, 1);
      this.startPruning(interval);
    }
  }

  /**
   * Starts the pruning timer (backends whose native expiry turns out to be unavailable call this late, e.g.
   * MongoDB servers without TTL indexes). No-op when the backend cannot prune or a timer already runs.
   */
  protected startPruning(intervalMs: number): void {
    if (this.#scheduler || this.#closed || typeof this._pruneBatch !== 'function') return;
    this.#scheduler = new Scheduler(
      intervalMs,
      () => this.prune(),
      (err) => this.emitError(err),
    );
  }

  /** What this store can do (see {@link StoreCapabilities}). */
  get supports(): Readonly<StoreCapabilities> {
    return this.#supports;
  }

  /** For backends that learn only after start-up whether the server expires data itself (MongoDB TTL indexes). */
  protected setNativeExpiry(native: boolean): void {
    this.#supports = Object.freeze({ ...this.#supports, nativeExpiry: native });
  }

  // --- events ------------------------------------------------------------------------------------------------

  /** Whether the database is believed reachable (false between `'disconnect'` and `'connect'`). */
  get connected(): boolean {
    return this.#connected;
  }

  /** Whether `close()` has been called. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Backends report reachability here; the matching event is emitted only on a change. */
  protected setConnected(up: boolean): void {
    if (up === this.#connected || this.#closed) return;
    this.#connected = up;
    this.emit(up ? 'connect' : 'disconnect');
  }

  /** Emits `'error'` only when someone listens: a background failure must never crash the process. */
  protected emitError(err: unknown): void {
    if (this.listenerCount('error') > 0) this.emit('error', err);
  }

  // --- public API --------------------------------------------------------------------------------------------

  /** The session stored under `sid`, or `null` when there is none or it has expired. */
  override get(sid: string, callback?: Callback<SessionData | null>): Promise<SessionData | null> {
    return settle(this.#get(sid), callback);
  }

  /** Stores `session` under `sid` until its `cookie.expires` (or the default TTL); a past expiry removes it. */
  override set(sid: string, session: SessionData, callback?: Callback<void>): Promise<void> {
    return settle(this.#set(sid, session), callback);
  }

  /**
   * Extends the expiry of an existing, unexpired session to the `cookie.expires` of `session` (or the default
   * TTL). Never creates, resurrects or changes session data. With `touchAfter`, a touch that would move the
   * expiry by less than that is skipped.
   */
  override touch(sid: string, session: SessionData, callback?: Callback<void>): Promise<void> {
    return settle(this.#touch(sid, session), callback);
  }

  /** Removes the session; a missing sid is not an error. */
  override destroy(sid: string, callback?: Callback<void>): Promise<void> {
    return settle(this.#destroy(sid), callback);
  }

  /** Every unexpired session, keyed by sid. Loads them all: prefer `ids()` on large stores. */
  override all(callback?: Callback<SessionMap>): Promise<SessionMap> {
    return settle(this.#all(), callback);
  }

  /** The sids of every unexpired session. */
  ids(callback?: Callback<string[]>): Promise<string[]> {
    return settle(this.#ids(), callback);
  }

  /** How many unexpired sessions there are. */
  override length(callback?: Callback<number>): Promise<number> {
    return settle(this.#length(), callback);
  }

  /** Removes every session of this store (and nothing outside its namespace). */
  override clear(callback?: Callback<void>): Promise<void> {
    return settle(this.#clear(), callback);
  }

  /**
   * Deletes expired sessions now, in batches of `pruneBatchSize`, yielding to the event loop between batches.
   * Resolves how many were deleted (0 when another process holds the pruning lock).
   */
  prune(callback?: Callback<number>): Promise<number> {
    return settle(this.#prune(), callback);
  }

  /**
   * Stops timers and releases what the store opened itself (never a client you passed in). Safe to call more
   * than once; every other method fails with `SESSION_STORE_CLOSED` afterwards.
   */
  close(callback?: Callback<void>): Promise<void> {
    this.#closing ??= this.#close();
    return settle(this.#closing, callback);
  }

  // --- implementation ----------------------------------------------------------------------------------------

  async #get(sid: string): Promise<SessionData | null> {
    this.#assertOpen();
    assertSid(sid, this.#maxSidLength);
    const now = Date.now();
    const record = await this.#call('get', () => this._get(sid, now));
    if (!record || isExpired(record, now)) return null;
    const sess = this.#decode(sid, record);
    if (sess) this.#expiries.set(sid, record.expiresAt);
    return sess;
  }

  async #set(sid: string, sess: SessionData): Promise<void> {
    this.#assertOpen();
    assertSid(sid, this.#maxSidLength);
    assertSession(sess);
    const now = Date.now();
    const data = this.#encode(sess);
    const expiresAt = resolveExpiry(sess, this.#ttl, now);
    if (expiresAt <= now) {
      this.#expiries.delete(sid);
      await this.#call('destroy', () => this._destroy(sid));
      return;
    }
    await this.#call('set', () => this._set(sid, data, expiresAt, now));
    this.#expiries.set(sid, expiresAt);
  }

  async #touch(sid: string, sess: SessionData): Promise<void> {
    this.#assertOpen();
    assertSid(sid, this.#maxSidLength);
    assertSession(sess);
    if (this.#disableTouch) return;
    const now = Date.now();
    const expiresAt = resolveExpiry(sess, this.#ttl, now);
    if (this.#touchAfterMs > 0) {
      const known = this.#expiries.get(sid);
      // Skip only while the stored expiry is still in the future and would move forward by less than the window.
      if (known !== undefined && known > now && expiresAt >= known && expiresAt - known < this.#touchAfterMs) return;
    }
    const touched = await this.#call('touch', () => this._touch(sid, expiresAt, now));
    if (touched) this.#expiries.set(sid, expiresAt);
    else this.#expiries.delete(sid);
  }

  async #destroy(sid: string): Promise<void> {
    this.#assertOpen();
    assertSid(sid, this.#maxSidLength);
    this.#expiries.delete(sid);
    await this.#call('destroy', () => this._destroy(sid));
  }

  async #all(): Promise<SessionMap> {
    this.#assertOpen();
    const entries = this._entries;
    if (typeof entries !== 'function') throw this.#notSupported('all');
    const now = Date.now();
    const out: SessionMap = {};
    await this.#call('all', async () => {
      for await (const [sid, record] of entries.call(this, now)) {
        if (isExpired(record, now)) continue;
        const sess = this.#decode(sid, record, 'miss');
        // defineProperty: a sid such as "__proto__" must become a key, not replace the prototype.
        if (sess) Object.defineProperty(out, sid, { value: sess, enumerable: true, writable: true, configurable: true });
      }
    });
    return out;
  }

  async #ids(): Promise<string[]> {
    this.#assertOpen();
    const now = Date.now();
    const out: string[] = [];
    await this.#call('ids', async () => {
      for await (const sid of this.#idSource('ids', now)) out.push(sid);
    });
    return out;
  }

  async #length(): Promise<number> {
    this.#assertOpen();
    const now = Date.now();
    const length = this._length;
    if (typeof length === 'function') return this.#call('length', () => length.call(this, now));
    let count = 0;
    await this.#call('length', async () => {
      for await (const _ of this.#idSource('length', now)) count++;
    });
    return count;
  }

  async #clear(): Promise<void> {
    this.#assertOpen();
    const clear = this._clear;
    if (typeof clear !== 'function') throw this.#notSupported('clear');
    this.#expiries.clear();
    await this.#call('clear', () => clear.call(this));
  }

  async #prune(): Promise<number> {
    this.#assertOpen();
    const pruneBatch = this._pruneBatch;
    if (typeof pruneBatch !== 'function') return 0;
    const limit = this.#pruneBatchSize;
    const pass = async (): Promise<number> => {
      let total = 0;
      for (;;) {
        const deleted = await pruneBatch.call(this, Date.now(), limit);
        total += deleted;
        if (deleted < limit || this.#closed) return total;
        await yieldToEventLoop();
      }
    };
    const exclusive = this._pruneExclusive;
    const running = this.#call('prune', () =>
      typeof exclusive === 'function' ? exclusive.call<this, [() => Promise<number>], Promise<number | undefined>>(this, pass) : pass(),
    );
    // close() waits for a pass in progress, so a backend never has its connection released under a running batch.
    this.#pruning = running.catch(() => undefined);
    return (await running) ?? 0;
  }

  async #close(): Promise<void> {
    this.#closed = true;
    this.#scheduler?.stop();
    this.#scheduler = undefined;
    this.#expiries.clear();
    await this.#pruning;
    const close = this._close;
    if (typeof close === 'function') await this.#call('close', () => close.call(this));
  }

  async *#idSource(method: string, now: number): AsyncIterable<string> {
    if (typeof this._ids === 'function') {
      yield* this._ids(now);
      return;
    }
    if (typeof this._entries !== 'function') throw this.#notSupported(method);
    for await (const [sid, record] of this._entries(now)) if (!isExpired(record, now)) yield sid;
  }

  #encode(sess: SessionData): Stored {
    let data: Stored;
    try {
      data = this.#serializer.stringify(sess);
    } catch (cause) {
      throw new SessionStoreError(
        ErrorCode.SERIALIZE_FAILED,
        `the session could not be serialized: ${(cause as Error)?.message ?? cause}`,
        { cause },
      );
    }
    if (data === undefined) throw new SessionStoreError(ErrorCode.SERIALIZE_FAILED, 'the serializer returned undefined');
    return data;
  }

  /** Decodes a record and aligns `cookie.expires` with the stored expiry, so a touched session reads back touched. */
  #decode(sid: string, record: StoredRecord<Stored>, onError = this.#onDecodeError): SessionData | null {
    let sess: unknown;
    let cause: unknown;
    try {
      sess = this.#serializer.parse(record.data);
    } catch (err) {
      cause = err;
    }
    if (sess === null || typeof sess !== 'object' || Array.isArray(sess)) {
      const err = new SessionStoreError(
        ErrorCode.DECODE_FAILED,
        `the stored session ${JSON.stringify(sid.slice(0, 64))} could not be decoded`,
        { cause },
      );
      if (onError === 'error') throw err;
      this.emitError(err);
      return null;
    }
    const data = sess as SessionData;
    if (record.expiresAt !== null && cookieExpiry(data) !== null) {
      (data.cookie as unknown as { expires: string }).expires = new Date(record.expiresAt).toISOString();
    }
    return data;
  }

  async #call<T>(operation: string, run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (err) {
      throw backendError(err, `${this.#backend.name} ${operation}`);
    }
  }

  #assertOpen(): void {
    if (this.#closed) throw new SessionStoreError(ErrorCode.CLOSED, `the ${this.#backend.name} store is closed`);
  }

  #notSupported(method: string): SessionStoreError {
    return new SessionStoreError(ErrorCode.NOT_SUPPORTED, `the ${this.#backend.name} store does not support ${method}()`);
  }
}

function isExpired(record: StoredRecord<unknown>, now: number): boolean {
  return record.expiresAt !== null && record.expiresAt <= now;
}

import { performance } from 'node:perf_hooks';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import session from 'express-session';
import type { SessionData } from 'express-session';
import { type Callback, settle } from './callback.js';
import { Codec } from './codec.js';
import { Encryption } from './encryption.js';
import { Deadlines } from './deadlines.js';
import { ErrorCode, SessionStoreError, backendError } from './errors.js';
import { ExpiryCache } from './expiry-cache.js';
import { type HashedIds, hashedIds } from './hashed-ids.js';
import { resolveExpiry } from './expiry.js';
import { Health } from './health.js';
import { Lifecycle } from './lifecycle.js';
import { type OptionSpec, bool, either, fn, intervalMs, mergeSpecs, num, oneOf, resolveOptions, str } from './options.js';
import { Pruner } from './pruner.js';
import { type Serializer, jsonSerializer } from './serializer.js';
import type { BackendInfo, BaseStoreOptions, StoreCapabilities, StoredRecord, Ttl, WriteContext } from './types.js';
import { assertSession, assertSid } from './validate.js';

const DEFAULT_TTL_SECONDS = 86_400;
/** With hashed ids, owner ids are hashed too, apart from sids: an owner id can never be taken for a sid's hash. */
const OWNER_PREFIX = 'owner\u0000';
/** Tombstones last twice Node's default `server.requestTimeout` (5 min): longer than any request still running. */
const DEFAULT_REVOCATION_MS = 600_000;
/** Longest stretch of synchronous work in a bulk operation before it yields to the event loop. */
const SLICE_MS = 5;

/** One session of an owner, as `sessionsOf()` lists them. */
export interface OwnedSession {
  sid: string;
  session: SessionData;
  /** When it expires, in epoch ms (null: never). */
  expiresAt: number | null;
}

/** The `owner` option as a function: a property path (`'user.id'`) read from the session, or the function itself. */
function ownerOf(owner: string | ((session: SessionData) => unknown) | undefined): ((session: SessionData) => unknown) | undefined {
  if (owner === undefined || typeof owner === 'function') return owner;
  const path = owner.split('.');
  return (session) =>
    path.reduce<unknown>(
      (value, key) => (value === null || typeof value !== 'object' ? undefined : (value as Record<string, unknown>)[key]),
      session,
    );
}

/** What `all()` resolves to by default: sessions keyed by sid, as express-session's MemoryStore returns them. */
export type SessionMap = Record<string, SessionData>;

/** What `all()` resolves to on stores whose incumbent returned a list (RedisStore, as connect-redis): each with its `id`. */
export type SessionList = Array<SessionData & { id: string }>;

const serializerCheck = (value: unknown, name: string): unknown => {
  const s = value as Partial<Serializer<unknown>> | null;
  if (typeof s !== 'object' || s === null || typeof s.stringify !== 'function' || typeof s.parse !== 'function') {
    throw new SessionStoreError(ErrorCode.INVALID_OPTION, `${name} must have stringify() and parse() functions`);
  }
  return value;
};

/** The options every store accepts (see {@link BaseStoreOptions}). */
export const BASE_OPTIONS: OptionSpec = {
  options: {
    ttl: either(num(0), fn),
    touchAfter: num(0),
    touchCacheSize: num(0, { integer: true }),
    disableTouch: bool,
    serializer: serializerCheck,
    onDecodeError: oneOf('miss', 'error'),
    maxSidLength: num(1, { integer: true }),
    pruneIntervalMs: intervalMs,
    pruneBatchSize: num(1, { integer: true }),
    operationTimeoutMs: num(0),
    reconnectCheckIntervalMs: num(1),
    revocationWindowMs: intervalMs,
    owner: either(str(), fn),
    // Checked in full by Encryption's constructor.
    encryption: (value: unknown) => value,
    // Checked in full by HashedIds' constructor.
    hashIds: (value: unknown) => value,
  },
};

/**
 * Validates a store's options against the shared options plus the backend's `spec` and returns them under their
 * own names (aliases converted). Backends call this **before** `super()`, so that bad options throw before
 * anything starts.
 * @throws SessionStoreError `SESSION_STORE_INVALID_OPTION`
 */
export function storeOptions<T extends object>(input: unknown, spec: OptionSpec = { options: {} }): T {
  return resolveOptions<T>(input, mergeSpecs(BASE_OPTIONS, spec));
}

/**
 * The abstract store every backend extends. It owns the public express-session API (callbacks *and* promises),
 * validation, expiry math, touch policy (including lazy touch), serialization, errors, events, the lifecycle
 * (open, in-flight operations, close), operation timeouts and pruning. A backend implements the protected hooks
 * below, which receive validated arguments: a sid, the serialized payload and an **absolute expiry in epoch
 * milliseconds**. Hooks never see callbacks, TTLs or JSON.
 *
 * **Writing a backend.** Validate options with {@link storeOptions} before calling `super(options, info)`, where
 * `info` ({@link BackendInfo}) names the backend and declares what it can do; do nothing fallible after `super()`.
 * Connect, create tables and start watching in `_open()`, which the base calls once, on the next tick; every
 * operation waits for it. Release what the store opened in `_close()`, which the base calls once, after every
 * operation in flight and any pruning pass have finished.
 *
 * Events: `'connect'` / `'disconnect'` when the database becomes reachable / unreachable (express-session stops
 * using the store in between), `'error'` for background failures (pruning, undecodable records, a failed open) —
 * emitted only when someone listens, so an unobserved failure never crashes the process.
 *
 * @typeParam Stored what the backend stores per session: the serializer's output (a JSON string by default).
 * @typeParam All what `all()` resolves to: {@link SessionMap}, or {@link SessionList} where the backend declares
 * `allAsList` (the shape its incumbent returned).
 */
export abstract class SessionStore<Stored = unknown, All extends SessionMap | SessionList = SessionMap | SessionList>
  extends session.Store
{
  /** Lifetime in seconds (or function of the session) of sessions whose cookie has no `expires`. */
  readonly ttl: Ttl;
  /** Whether `touch()` is a successful no-op. */
  readonly disableTouch: boolean;
  /** How sessions are encoded for storage. */
  readonly serializer: Serializer<Stored>;

  readonly #name: string;
  readonly #namespace: string | undefined;
  readonly #touchAfterMs: number;
  readonly #maxSidLength: number;
  readonly #maxSidBytes: number;
  readonly #pruneBatchSize: number;
  readonly #pruneIntervalMs: number | false;
  readonly #pruneDelay: ((intervalMs: number) => number) | undefined;
  readonly #allAsList: boolean;
  readonly #revocationMs: number | false;
  readonly #owner: ((session: SessionData) => unknown) | undefined;
  readonly #expiries: ExpiryCache;
  readonly #codec: Codec<Stored>;
  readonly #hashed: HashedIds | undefined;
  readonly #encrypted: boolean;
  readonly #deadlines: Deadlines | undefined;
  readonly #life: Lifecycle;
  readonly #pruner: Pruner;
  readonly #health: Health | undefined;
  #supports: Readonly<StoreCapabilities>;
  #connected = true;

  // --- hooks for backends ------------------------------------------------------------------------------------

  /** The record for `sid`, or null. It may be expired; the base filters it. */
  protected abstract _get(sid: string, now: number): Promise<StoredRecord<Stored> | null | undefined>;
  /**
   * Insert or replace `sid` with `data`, expiring at `expiresAt` (epoch ms, always in the future). With
   * `context.guarded` (revocation on), do nothing if `sid` holds an unexpired tombstone, atomically; index the
   * session under `context.owner` where the backend keeps an owner index.
   */
  protected abstract _set(sid: string, data: Stored, expiresAt: number, now: number, context: WriteContext): Promise<void>;
  /**
   * Move the expiry of `sid` to `expiresAt` **only if** it exists and has not expired at `now`. Never creates a
   * record and never changes its data. Resolves whether a record was touched. `owner` is the session's owner (the
   * `owner` option) or null, for backends whose owner index expires on its own and must be kept alive with it.
   */
  protected abstract _touch(sid: string, expiresAt: number, now: number, owner: string | null): Promise<boolean>;
  /**
   * Remove `sid`; a missing sid is not an error. With `tombstoneUntil` (revocation on), replace it instead with a
   * tombstone expiring then, in one atomic step: invisible to every read, and not replaceable by `_set` while it
   * lasts.
   */
  protected abstract _destroy(sid: string, now: number, tombstoneUntil: number | null): Promise<void>;
  /** Connect, create the schema, start watching the connection. Called once, on the next tick. Optional. */
  protected _open?(): Promise<void>;
  /** Release what the store itself opened. Called once, by `close()`, after in-flight work has finished. */
  protected _close?(): Promise<void>;
  /** Every record of this store (expired ones may be included; the base filters them). Enables `all()`. */
  protected _entries?(now: number): AsyncIterable<[string, StoredRecord<Stored>]>;
  /** The sids of unexpired records. Defaults to `_entries`. Enables `ids()`. */
  protected _ids?(now: number): AsyncIterable<string>;
  /** How many unexpired records there are. Defaults to counting `_ids`. */
  protected _length?(now: number): Promise<number>;
  /**
   * The sessions indexed under `owner` (expired or stale entries may be included: the base filters expired ones
   * and sessions whose owner changed since; the backend may clean stale entries as it meets them). Enables
   * `sessionsOf()` and `destroyOwner()` when the `owner` option is set.
   */
  protected _sessionsOf?(owner: string, now: number): AsyncIterable<[string, StoredRecord<Stored>]>;
  /**
   * Remove every record of this store and nothing else. Enables `clear()`. Either one step (a promise, bounded by
   * the operation timeout as a whole) or, for stores that delete in batches, an async iterable with one item per
   * batch (each batch bounded; the base yields to the event loop between them).
   */
  protected _clear?(): Promise<void> | AsyncIterable<unknown>;
  /**
   * One pruning pass: delete records expired at `now` in batches of at most `batchSize`, yielding how many each
   * batch deleted. The base runs one pass at a time, yields to the event loop between batches and stops the pass
   * (calling the generator's `return()`) when the store closes: hold a lock across the pass with `try/finally`.
   * Enables `prune()` and the pruning timer.
   */
  protected _prune?(now: number, batchSize: number): AsyncIterable<number>;
  /**
   * Resolves when the database answers, ideally on a fresh connection (a pool saturated by the application is
   * not an outage). With it, a timed-out operation or a doubtful failure (see {@link _diagnose}) makes the base
   * ping before reporting `'disconnect'`, and while disconnected it pings until the database answers.
   */
  protected _ping?(): Promise<void>;
  /**
   * What a hook's failure says about the database: `'unreachable'` when it leaves no doubt (connection refused,
   * reset, server shutting down: the store reports `'disconnect'` at once), `'unsure'` when it may only be busy
   * (a pool that could not hand out a connection in time: the store pings first), `undefined` when one request
   * was wrong and the database is fine. Operation timeouts count as `'unsure'`.
   */
  protected _diagnose?(err: unknown): 'unreachable' | 'unsure' | undefined;

  // --- construction ------------------------------------------------------------------------------------------

  /**
   * @param options the store's options, already validated by {@link storeOptions}
   * @param backend what the backend is and can do
   */
  protected constructor(options: BaseStoreOptions<Stored>, backend: BackendInfo) {
    super();
    this.#name = backend.name;
    this.#namespace = backend.namespace;
    this.ttl = options.ttl ?? backend.defaultTtl ?? DEFAULT_TTL_SECONDS;
    this.disableTouch = options.disableTouch === true;
    this.#touchAfterMs = Math.round((options.touchAfter ?? 0) * 1000);
    this.#expiries = new ExpiryCache(this.#touchAfterMs > 0 ? (options.touchCacheSize ?? 10_000) : 0);
    this.serializer = options.serializer ?? (jsonSerializer as unknown as Serializer<Stored>);
    this.#hashed = hashedIds(options.hashIds);
    this.#encrypted = options.encryption !== undefined;
    this.#codec = new Codec(
      this.serializer,
      options.onDecodeError ?? 'miss',
      (err) => this.emitError(err),
      options.encryption === undefined ? undefined : new Encryption(options.encryption),
      this.#hashed,
    );
    this.#maxSidLength = options.maxSidLength ?? 1024;
    this.#maxSidBytes = backend.maxSidBytes ?? Infinity;
    this.#pruneBatchSize = options.pruneBatchSize ?? 1000;
    this.#pruneIntervalMs = options.pruneIntervalMs !== undefined ? options.pruneIntervalMs : (backend.pruneIntervalMs ?? false);
    this.#pruneDelay = backend.pruneDelay;
    this.#allAsList = backend.allAsList === true;
    this.#revocationMs = backend.capabilities?.revocation === true ? (options.revocationWindowMs ?? DEFAULT_REVOCATION_MS) : false;
    this.#owner = ownerOf(options.owner);
    const timeoutMs = options.operationTimeoutMs ?? 5000;
    this.#deadlines =
      backend.timeouts === false || timeoutMs === 0 ? undefined : new Deadlines(timeoutMs, () => this.#suspect(), `${this.#name} `);
    const ping = this._ping;
    this.#health =
      typeof ping === 'function'
        ? new Health(
            () => this.bounded('ping', () => ping.call(this)),
            (up) => this.setConnected(up),
            options.reconnectCheckIntervalMs ?? 1000,
          )
        : undefined;

    const declared = backend.capabilities ?? {};
    const has = (hook: unknown): boolean => typeof hook === 'function';
    const entries = has(this._entries);
    // Hashed ids: the sids come back only from records that hold them (sealed, with encryption).
    const listable = this.#hashed === undefined || this.#encrypted;
    const ids = (this.#hashed ? entries && listable : has(this._ids) || entries) && declared.ids !== false;
    this.#supports = Object.freeze({
      touch: !this.disableTouch && declared.touch !== false,
      lazyTouch: !this.disableTouch && declared.touch !== false && this.#touchAfterMs > 0,
      nativeExpiry: declared.nativeExpiry === true,
      msPrecision: declared.msPrecision !== false,
      all: entries && listable && declared.all !== false,
      ids,
      length: (has(this._length) || ((has(this._ids) || entries) && declared.ids !== false)) && declared.length !== false,
      clear: has(this._clear) && declared.clear !== false,
      prune: has(this._prune),
      close: true,
      namespaces: backend.namespace !== undefined,
      promises: true,
      sessionStoreErrors: true,
      revocation: this.#revocationMs !== false,
      owners: has(this._sessionsOf) && this.#owner !== undefined && listable,
      encrypted: this.#encrypted,
      hashedIds: this.#hashed !== undefined,
    });

    this.#pruner = new Pruner(
      () => this.#prunePass(),
      (err) => this.emitError(backendError(err, `${this.#name} prune`)),
      () => this.#life.isClosed,
    );
    this.#life = new Lifecycle(
      this.#name,
      () => this.#open(),
      (err) => {
        this.emitError(err);
      },
    );
  }

  /** What this store can do with the options it was given (see {@link StoreCapabilities}). */
  get supports(): Readonly<StoreCapabilities> {
    return this.#supports;
  }

  /**
   * Where this store keeps its sessions in a shared backend (key prefix, table, collection, directory), or
   * undefined for a store that has no such namespace (memory).
   */
  get namespace(): string | undefined {
    return this.#namespace;
  }

  /**
   * For backends that learn only while opening what they can do (MongoDB servers that refuse TTL indexes, a MySQL
   * table without the millisecond column).
   */
  protected declareCapabilities(changes: Partial<Pick<StoreCapabilities, 'nativeExpiry' | 'msPrecision'>>): void {
    this.#supports = Object.freeze({ ...this.#supports, ...changes });
  }

  // --- events ------------------------------------------------------------------------------------------------

  /** Whether the database is believed reachable (false between `'disconnect'` and `'connect'`). */
  get connected(): boolean {
    return this.#connected;
  }

  /** Whether `close()` has been called. */
  get closed(): boolean {
    return this.#life.isClosed;
  }

  /** Backends report reachability here; the matching event is emitted only on a change. */
  protected setConnected(up: boolean): void {
    if (up === this.#connected || this.#life.isClosed) return;
    this.#connected = up;
    this.emit(up ? 'connect' : 'disconnect');
  }

  /**
   * Backends call this when they see a sign that the database may be gone outside an operation (an idle pooled
   * connection dying): the base pings it and reports `'disconnect'` only if it does not answer.
   */
  protected checkConnection(): void {
    this.#suspect();
  }

  /** Emits `'error'` only when someone listens: a background failure must never crash the process. */
  protected emitError(err: unknown): void {
    if (this.listenerCount('error') > 0) this.emit('error', err);
  }

  /**
   * Bounds a backend step by `operationTimeoutMs` (the base already bounds every hook call; backends use this for
   * steps the base cannot see, such as a lock taken inside a pruning pass).
   */
  protected bounded<T>(label: string, step: () => Promise<T>): Promise<T> {
    return this.#deadlines ? this.#deadlines.run(label, step) : step();
  }

  // --- public API --------------------------------------------------------------------------------------------

  /**
   * Resolves once the store is open: connected, its table or index created, its background work started. Optional:
   * every operation waits for it by itself; await it at startup to fail fast on a bad connection string or
   * missing privileges. Rejects with `SESSION_STORE_BACKEND` (the reason is its `cause`),
   * `SESSION_STORE_TIMEOUT` when opening took longer than `operationTimeoutMs`, or `SESSION_STORE_CLOSED`. A failed
   * open is tried again by the next operation.
   */
  ready(callback?: Callback<void>): Promise<void> {
    return settle(this.#life.ready(), callback);
  }

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

  /**
   * Every unexpired session, keyed by sid (or, on RedisStore as on connect-redis, a list of sessions each with its
   * `id`). Loads them all: prefer `ids()` on large stores.
   */
  override all(callback?: Callback<All>): Promise<All> {
    return settle(this.#all() as Promise<All>, callback);
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
   * The sessions of one owner (see the `owner` option), each with its sid and stored expiry: for a "your sessions"
   * page. Reads the owner's index, never the whole store.
   */
  sessionsOf(owner: string, callback?: Callback<OwnedSession[]>): Promise<OwnedSession[]> {
    return settle(this.#sessionsOf(owner), callback);
  }

  /**
   * "Log out everywhere": destroys every session of `owner` (with tombstones where revocation is on), except the
   * sids in `options.except` (e.g. the current one). Resolves how many were destroyed.
   */
  destroyOwner(owner: string, options: { except?: string | string[] } = {}, callback?: Callback<number>): Promise<number> {
    const except = options.except === undefined ? [] : Array.isArray(options.except) ? options.except : [options.except];
    return settle(this.#destroyOwner(owner, except), callback);
  }

  /**
   * Deletes expired sessions now, in batches of `pruneBatchSize`, yielding to the event loop between batches.
   * Resolves how many were deleted (0 when another process holds the pruning lock). A call while a pass runs
   * joins that pass.
   */
  prune(callback?: Callback<number>): Promise<number> {
    return settle(this.#prune(), callback);
  }

  /**
   * Stops new work, waits for operations in flight and a running pruning pass, then releases what the store
   * opened itself (never a client you passed in). Safe to call more than once; every other method fails with
   * `SESSION_STORE_CLOSED` afterwards.
   */
  close(callback?: Callback<void>): Promise<void> {
    return settle(
      this.#life.close(() => this.#shutdown()),
      callback,
    );
  }

  // --- implementation ----------------------------------------------------------------------------------------

  async #open(): Promise<void> {
    const open = this._open;
    if (typeof open === 'function') await this.bounded('open', () => open.call(this));
    if (this.#life.isClosed) return;
    if (this.#supports.prune && !this.#supports.nativeExpiry && this.#pruneIntervalMs !== false) {
      this.#pruner.schedule(this.#pruneIntervalMs, this.#pruneDelay);
    }
  }

  async #shutdown(): Promise<void> {
    this.#expiries.clear();
    this.#health?.stop();
    await this.#pruner.stop();
    const close = this._close;
    try {
      if (typeof close === 'function') await this.#hook('close', () => close.call(this));
    } finally {
      this.#deadlines?.clear();
    }
  }

  /**
   * Runs `body` as one operation: waits for the open, counts it in flight, wraps failures, and keeps the
   * connection state in step with what it saw. (`get`, `set`, `touch` and `destroy`, the hot path, do the same inline,
   * through {@link #succeeded} and {@link #failed}, without the extra closure and promise.)
   */
  async #op<T>(label: string, body: () => Promise<T>): Promise<T> {
    if (!this.#life.enterOpen()) await this.#life.enter();
    const epoch = this.#health?.epoch;
    try {
      const result = await body();
      this.#succeeded();
      return result;
    } catch (err) {
      throw this.#failed(err, label, epoch);
    } finally {
      this.#life.leave();
    }
  }

  /** An operation reached the database: it is up. */
  #succeeded(): void {
    if (!this.#connected) this.#health?.up();
  }

  /** The error an operation that started in health epoch `epoch` fails with; may mark the database down. */
  #failed(err: unknown, label: string, epoch: number | undefined): SessionStoreError {
    // A failure of something started before the database came back is old news: ignoring it avoids flapping.
    if (epoch === this.#health?.epoch && !this.#life.isClosed) {
      const verdict = this._diagnose?.(err);
      if (verdict === 'unreachable') this.#health?.down();
      else if (verdict === 'unsure') this.#suspect();
    }
    return backendError(err, `${this.#name} ${label}`);
  }

  /** The database may be gone: ping it, and say `'disconnect'` only if it does not answer. */
  #suspect(): void {
    if (!this.#life.isClosed) void this.#health?.suspect();
  }

  /** One hook call, bounded by the operation timeout. */
  #hook<T>(label: string, call: () => Promise<T>): Promise<T> {
    return this.#deadlines ? this.#deadlines.run(label, call) : call();
  }

  async #get(sid: string): Promise<SessionData | null> {
    this.#life.assertNotClosed();
    assertSid(sid, this.#maxSidLength, this.#maxSidBytes);
    const key = this.#key(sid);
    if (!this.#life.enterOpen()) await this.#life.enter();
    const epoch = this.#health?.epoch;
    try {
      const now = Date.now();
      const record = await this.#hook('get', () => this._get(key, now));
      let sess: SessionData | null;
      if (!record || isExpired(record, now)) sess = key === sid || !this.#hashed?.migrate ? null : await this.#moveToHash(sid, key, now);
      else {
        sess = this.#codec.decode(sid, record);
        if (sess) this.#expiries.set(sid, record.expiresAt);
      }
      this.#succeeded();
      return sess;
    } catch (err) {
      throw this.#failed(err, 'get', epoch);
    } finally {
      this.#life.leave();
    }
  }

  /**
   * `hashIds.migrate`: the session still stored under its plain sid, moved under its hash (a guarded write, so that
   * it cannot replace a logout's tombstone), the plain copy removed.
   */
  async #moveToHash(sid: string, key: string, now: number): Promise<SessionData | null> {
    const record = await this.#hook('get', () => this._get(sid, now));
    if (!record || isExpired(record, now)) return null;
    const sess = this.#codec.decode(sid, record);
    if (!sess) return null;
    const expiresAt = record.expiresAt;
    if (expiresAt !== null) {
      const data = this.#codec.encode(sid, sess, key);
      const context: WriteContext = { owner: this.#ownerKey(sess), guarded: this.#revocationMs !== false };
      await this.#hook('set', () => this._set(key, data, expiresAt, now, context));
      await this.#hook('destroy', () => this._destroy(sid, now, null));
    }
    this.#expiries.set(sid, expiresAt);
    return sess;
  }

  async #set(sid: string, sess: SessionData): Promise<void> {
    this.#life.assertNotClosed();
    assertSid(sid, this.#maxSidLength, this.#maxSidBytes);
    assertSession(sess);
    const now = Date.now();
    const expiresAt = resolveExpiry(sess, this.ttl, now);
    const key = this.#key(sid);
    const data = this.#codec.encode(sid, sess, key);
    const context: WriteContext = { owner: this.#ownerKey(sess), guarded: this.#revocationMs !== false };
    if (!this.#life.enterOpen()) await this.#life.enter();
    const epoch = this.#health?.epoch;
    try {
      if (expiresAt <= now) {
        // Saving an expired session removes it; with revocation, as a tombstone, so that it cannot replace one
        // left by a logout (and let a later write bring the session back).
        this.#expiries.delete(sid);
        await this.#revoke(key, sid);
      } else {
        await this.#hook('set', () => this._set(key, data, expiresAt, now, context));
        this.#expiries.set(sid, expiresAt);
      }
      this.#succeeded();
    } catch (err) {
      throw this.#failed(err, 'set', epoch);
    } finally {
      this.#life.leave();
    }
  }

  async #touch(sid: string, sess: SessionData): Promise<void> {
    this.#life.assertNotClosed();
    assertSid(sid, this.#maxSidLength, this.#maxSidBytes);
    assertSession(sess);
    if (!this.#supports.touch) return;
    const now = Date.now();
    const expiresAt = resolveExpiry(sess, this.ttl, now);
    if (this.#touchAfterMs > 0) {
      const known = this.#expiries.get(sid);
      // Skip only while the stored expiry is still in the future and would move forward by less than the window.
      if (known !== undefined && known > now && expiresAt >= known && expiresAt - known < this.#touchAfterMs) return;
    }
    const owner = this.#ownerKey(sess);
    const key = this.#key(sid);
    if (!this.#life.enterOpen()) await this.#life.enter();
    const epoch = this.#health?.epoch;
    try {
      let touched = await this.#hook('touch', () => this._touch(key, expiresAt, now, owner));
      if (!touched && key !== sid && this.#hashed?.migrate)
        touched = await this.#hook('touch', () => this._touch(sid, expiresAt, now, owner));
      if (touched) this.#expiries.set(sid, expiresAt);
      else this.#expiries.delete(sid);
      this.#succeeded();
    } catch (err) {
      throw this.#failed(err, 'touch', epoch);
    } finally {
      this.#life.leave();
    }
  }

  async #destroy(sid: string): Promise<void> {
    this.#life.assertNotClosed();
    assertSid(sid, this.#maxSidLength, this.#maxSidBytes);
    this.#expiries.delete(sid);
    const key = this.#key(sid);
    if (!this.#life.enterOpen()) await this.#life.enter();
    const epoch = this.#health?.epoch;
    try {
      await this.#revoke(key, sid);
      this.#succeeded();
    } catch (err) {
      throw this.#failed(err, 'destroy', epoch);
    } finally {
      this.#life.leave();
    }
  }

  /**
   * Destroys the session stored under `key`: a tombstone until the end of the revocation window, or a plain delete
   * without one. While migrating to hashed ids, the plain sid (when known) too.
   */
  #revoke(key: string, sid: string | undefined): Promise<void> {
    const now = Date.now();
    const until = this.#revocationMs === false ? null : now + this.#revocationMs;
    const done = this.#hook('destroy', () => this._destroy(key, now, until));
    if (sid === undefined || sid === key || !this.#hashed?.migrate) return done;
    return done.then(() => this.#hook('destroy', () => this._destroy(sid, now, until)));
  }

  /** The key `sid` is stored under: itself, or its hash (`hashIds`). */
  #key(sid: string): string {
    return this.#hashed ? this.#hashed.key(sid) : sid;
  }

  async #sessionsOf(owner: string): Promise<OwnedSession[]> {
    if (!this.#supports.owners) throw this.#notSupported('sessionsOf');
    const owned = await this.#owned(owner, 'sessionsOf');
    return owned.map(({ sid, session, expiresAt }) => ({ sid: sid!, session, expiresAt }));
  }

  /** The sessions the owner index lists for `owner` and that are still theirs, with the key each is stored under. */
  async #owned(
    owner: string,
    label: string,
  ): Promise<Array<Partial<OwnedSession> & { key: string; session: SessionData; expiresAt: number | null }>> {
    this.#life.assertNotClosed();
    const source = this._sessionsOf;
    if (this.#owner === undefined || typeof source !== 'function') throw this.#notSupported(label);
    if (typeof owner !== 'string' || owner.length === 0) {
      throw new SessionStoreError(ErrorCode.INVALID_OPTION, 'owner must be a non-empty string');
    }
    return this.#op(label, async () => {
      const now = Date.now();
      const out: Array<Partial<OwnedSession> & { key: string; session: SessionData; expiresAt: number | null }> = [];
      const indexed = this.#hashed ? this.#hashed.key(OWNER_PREFIX + owner) : owner;
      for await (const [key, record] of this.#stream(label, source.call(this, indexed, now))) {
        if (isExpired(record, now)) continue;
        const entry = this.#codec.entry(key, record);
        // The index is a hint: a session whose owner changed since it was indexed is not this owner's.
        if (entry && this.#ownerId(entry.session) === owner)
          out.push({ key, sid: entry.sid, session: entry.session, expiresAt: record.expiresAt });
      }
      return out;
    });
  }

  async #destroyOwner(owner: string, except: string[]): Promise<number> {
    const kept = new Set(except.map((sid) => this.#key(sid)));
    const doomed = (await this.#owned(owner, 'destroyOwner')).filter((s) => !kept.has(s.key));
    return this.#op('destroyOwner', async () => {
      for (const { key, sid } of doomed) {
        if (sid !== undefined) this.#expiries.delete(sid);
        await this.#revoke(key, sid);
      }
      return doomed.length;
    });
  }

  /** What the owner index keys `session` by: its owner id, hashed like sids with `hashIds`; null when it has none. */
  #ownerKey(session: SessionData): string | null {
    const owner = this.#ownerId(session);
    return owner === null || !this.#hashed ? owner : this.#hashed.key(OWNER_PREFIX + owner);
  }

  /** The owner id of `session` (the `owner` option), or null when it has none. */
  #ownerId(session: SessionData): string | null {
    if (!this.#owner) return null;
    const id = this.#owner(session);
    if (id === null || id === undefined || id === '') return null;
    return String(id);
  }

  async #all(): Promise<SessionMap | SessionList> {
    this.#life.assertNotClosed();
    const entries = this._entries;
    if (!this.#supports.all || typeof entries !== 'function') throw this.#notSupported('all');
    return this.#op('all', async () => {
      const now = Date.now();
      const map: SessionMap = {};
      const list: SessionList = [];
      // While migrating to hashed ids a session may be stored both ways for a moment: the hashed copy is newer.
      const copies = this.#hashed?.migrate ? new Map<string, { hashed: boolean; at: number }>() : undefined;
      for await (const [key, record] of this.#stream('all', entries.call(this, now))) {
        if (isExpired(record, now)) continue;
        const entry = this.#codec.entry(key, record);
        if (!entry || entry.sid === undefined) continue;
        const { sid, session: sess } = entry;
        let at = list.length;
        if (copies) {
          const hashed = sid !== key;
          const before = copies.get(sid);
          if (before && (before.hashed || !hashed)) continue;
          if (before) at = before.at;
          copies.set(sid, { hashed, at });
        }
        if (this.#allAsList) list[at] = Object.assign(sess, { id: sid });
        // defineProperty: a sid such as "__proto__" must become a key, not replace the prototype.
        else Object.defineProperty(map, sid, { value: sess, enumerable: true, writable: true, configurable: true });
      }
      return this.#allAsList ? list : map;
    });
  }

  async #ids(): Promise<string[]> {
    this.#life.assertNotClosed();
    if (!this.#supports.ids) throw this.#notSupported('ids');
    return this.#op('ids', async () => {
      const out: string[] = [];
      for await (const sid of this.#idSource(Date.now())) out.push(sid);
      return out;
    });
  }

  async #length(): Promise<number> {
    this.#life.assertNotClosed();
    if (!this.#supports.length) throw this.#notSupported('length');
    const length = this._length;
    return this.#op('length', async () => {
      const now = Date.now();
      if (typeof length === 'function') return this.#hook('length', () => length.call(this, now));
      let count = 0;
      for await (const _ of this.#keySource(now)) count++;
      return count;
    });
  }

  async #clear(): Promise<void> {
    this.#life.assertNotClosed();
    const clear = this._clear;
    if (!this.#supports.clear || typeof clear !== 'function') throw this.#notSupported('clear');
    this.#expiries.clear();
    return this.#op('clear', async () => {
      const steps = this.#hook('clear', async () => clear.call(this));
      const batches = await steps;
      if (batches && typeof (batches as AsyncIterable<unknown>)[Symbol.asyncIterator] === 'function') {
        for await (const _ of this.#stream('clear', batches as AsyncIterable<unknown>)) {
          // each batch is one bounded step
        }
      }
    });
  }

  async #prune(): Promise<number> {
    this.#life.assertNotClosed();
    if (!this.#supports.prune) return 0;
    return this.#op('prune', () => this.#pruner.run());
  }

  /** One pruning pass over the backend's batches, each bounded by the operation timeout. */
  #prunePass(): AsyncIterable<number> {
    const prune = this._prune;
    if (typeof prune !== 'function') return (async function* () {})();
    return this.#stream('prune', prune.call(this, Date.now(), this.#pruneBatchSize), false);
  }

  /**
   * A backend's stream, each step bounded by the operation timeout, yielding to the event loop whenever
   * {@link SLICE_MS} of synchronous work has passed (a million sessions in memory or SQLite must not freeze the
   * process). `bulk`: a bulk read, which fails with `CLOSED` at its next step once the store closes rather than
   * holding `close()` up until it has read everything (a pruning pass stops by itself).
   */
  async *#stream<T>(label: string, source: AsyncIterable<T>, bulk = true): AsyncGenerator<T> {
    const iterator = source[Symbol.asyncIterator]();
    let sliceStart = performance.now();
    let stepping = false;
    try {
      for (;;) {
        stepping = true;
        const step = await this.#hook(label, () => iterator.next());
        stepping = false;
        if (step.done) return;
        yield step.value;
        if (bulk && performance.now() - sliceStart > SLICE_MS) {
          await yieldToEventLoop();
          sliceStart = performance.now();
          if (this.#life.isClosed) throw this.#life.closedError();
        }
      }
    } finally {
      // Stopped between steps (a pass stopping at close, a consumer breaking out): awaited, so that the backend's
      // own cleanup (a lock released, a cursor closed) is done when this stream is, but bounded like a step (a
      // frozen server must not hang a loop's `break`). After a step failed or timed out the iterator may still be
      // stuck in that step, and return() would wait for it: not awaited then.
      const done = this.#hook(label, async () => iterator.return?.()).catch(() => {});
      if (!stepping) await done;
    }
  }

  /**
   * The sids of unexpired sessions, each once: backends may repeat one (Redis SCAN does; a session re-inserted
   * into an in-memory map during the scan is seen again), so the sids seen are remembered here, in one place.
   */
  async *#idSource(now: number): AsyncIterable<string> {
    if (!this.#hashed) {
      yield* this.#keySource(now);
      return;
    }
    // Hashed ids: the sid is in the record (sealed), so listing sids reads the records.
    const seen = new Set<string>();
    for await (const [key, record] of this.#stream('ids', this._entries!(now))) {
      if (isExpired(record, now)) continue;
      const sid = this.#codec.entry(key, record)?.sid;
      if (sid === undefined || seen.has(sid)) continue;
      seen.add(sid);
      yield sid;
    }
  }

  /** The keys of unexpired sessions, each once (the sids themselves, unless ids are hashed). */
  async *#keySource(now: number): AsyncIterable<string> {
    const seen = new Set<string>();
    if (typeof this._ids === 'function') {
      for await (const sid of this.#stream('ids', this._ids(now))) {
        if (seen.has(sid)) continue;
        seen.add(sid);
        yield sid;
      }
      return;
    }
    for await (const [sid, record] of this.#stream('ids', this._entries!(now))) {
      if (isExpired(record, now) || seen.has(sid)) continue;
      seen.add(sid);
      yield sid;
    }
  }

  #notSupported(method: string): SessionStoreError {
    return new SessionStoreError(ErrorCode.NOT_SUPPORTED, `the ${this.#name} store does not support ${method}()`);
  }
}

function isExpired(record: StoredRecord<unknown>, now: number): boolean {
  return record.expiresAt !== null && record.expiresAt <= now;
}

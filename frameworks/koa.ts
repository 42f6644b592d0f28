/**
 * session-stores for koa: {@link koaStore} turns any store of this package, or any express-session store, into a
 * [koa-session](https://github.com/koajs/session) external store.
 *
 * ```ts
 * import Koa from 'koa';
 * import session from 'koa-session';
 * import { koaStore } from 'session-stores/koa';
 * import { SQLiteStore } from 'session-stores/sqlite';
 *
 * const app = new Koa();
 * app.keys = ['change me'];
 * app.use(session({ store: koaStore(new SQLiteStore({ filename: 'sessions.db' })), maxAge: 7 * 86_400_000 }, app));
 * ```
 * @packageDocumentation
 */
import { ErrorCode, SessionStoreError } from '../shared/errors.js';

/** A session as koa-session hands it to its store: the data plus koa's `_expire`, `_maxAge` or `_session`. */
export type KoaSessionData = Record<string, unknown>;

/** koa-session's `maxAge`: milliseconds, or `'session'` for a browser-session cookie. */
export type KoaMaxAge = number | 'session';

/**
 * An express-session store, as {@link koaStore} uses it: `get`, `set` and `destroy` taking a Node callback (as
 * express-session calls them) or returning a promise (or both, as this package's stores do). Every store of this
 * package is one, and so is any store written for express-session (its `MemoryStore`, connect-redis, connect-mongo…).
 */
export interface ExpressStyleStore {
  /** Reads a session; `null`, `undefined` or an error with code `ENOENT` mean there is none. */
  get(sid: string, callback: (err: unknown, session?: unknown) => void): unknown;
  /** Stores a session until its `cookie.expires` (or the store's own default lifetime when that is null). */
  set(sid: string, session: never, callback: (err?: unknown) => void): unknown;
  /** Removes a session. */
  destroy(sid: string, callback: (err?: unknown) => void): unknown;
}

/**
 * What {@link koaStore} returns: koa-session's external store interface (its `store` option). Every method returns a
 * promise; the extra arguments koa-session passes (`ctx`, `rolling`, `changed`) are accepted and not needed.
 */
export interface KoaStore<S extends ExpressStyleStore = ExpressStyleStore> {
  /** The store this adapter writes to: for `close()`, `length()`, `sessionsOf()` and the like. */
  readonly store: S;
  /**
   * The session stored under `key`, exactly as koa-session stored it (with its `_expire` and `_maxAge`), or null
   * when there is none, it has expired, or `key` is not a valid session id (a forged unsigned cookie).
   */
  get(key: string, maxAge?: KoaMaxAge, options?: { rolling?: boolean; ctx?: unknown }): Promise<KoaSessionData | null>;
  /**
   * Stores `session` under `key` for `maxAge` ms from now (koa-session passes its cookie's `maxAge` plus 10 s,
   * so the store outlives the cookie), or for the store's default ttl when `maxAge` is `'session'`. Saving again
   * (koa's `rolling`, `renew`, or a changed session) moves the expiry.
   * @throws SessionStoreError `SESSION_STORE_INVALID_OPTION` when `maxAge` is neither a finite number nor `'session'`
   */
  set(
    key: string,
    session: KoaSessionData,
    maxAge?: KoaMaxAge,
    options?: { rolling?: boolean; changed?: boolean; ctx?: unknown },
  ): Promise<void>;
  /** Removes the session (leaving a tombstone on stores with `supports.revocation`: a logout is final). */
  destroy(key: string, options?: { ctx?: unknown }): Promise<void>;
}

/**
 * Where the adapter keeps a `cookie` property of the koa session itself, since `cookie` carries the expiry for
 * express-session stores. koa-session never stores a property starting with `_` except its own (`toJSON()` skips
 * them), so this name cannot collide with application data.
 */
const KOA_COOKIE = '_cookie';

/**
 * Adapts `store` to koa-session's external store interface, for its `store` option:
 * `session({ store: koaStore(new RedisStore(client)), maxAge: 7 * 86_400_000 }, app)`.
 *
 * Expiry follows koa: a session saved with `maxAge` ms expires in the store `maxAge` ms later (whatever the
 * store's default ttl), and one saved with `maxAge: 'session'` lives for the store's default ttl. The adapter
 * writes the expiry as the `cookie.expires` every express-session store reads, so koa's own `_expire` and `_maxAge`
 * are stored as data and returned unchanged: koa-session checks them itself. koa's `rolling` and `renew` save the
 * session again, which moves its expiry. `genid`, `prefix` and `externalKey` only change the key the store is
 * given. Reads with a key the store rejects as a session id resolve null, so a forged cookie starts a new session
 * instead of failing the request.
 */
export function koaStore<S extends ExpressStyleStore>(store: S): KoaStore<S> {
  if (
    store === null ||
    typeof store !== 'object' ||
    ['get', 'set', 'destroy'].some((m) => typeof (store as unknown as Record<string, unknown>)[m] !== 'function')
  ) {
    throw new SessionStoreError(ErrorCode.INVALID_OPTION, 'koaStore() needs a store with get(), set() and destroy() methods');
  }
  return {
    store,
    async get(key) {
      let stored: unknown;
      try {
        stored = await call(store, 'get', key);
      } catch (err) {
        if (isMissing(err)) return null;
        throw err;
      }
      return stored === null || typeof stored !== 'object' ? null : fromStore(stored as Record<string, unknown>);
    },
    async set(key, session, maxAge) {
      await call(store, 'set', key, toStore(session, maxAge, Date.now()));
    },
    async destroy(key) {
      await call(store, 'destroy', key);
    },
  };
}

/** The session as the store keeps it: koa's data, plus a `cookie` whose `expires` is now + `maxAge`. */
function toStore(session: KoaSessionData, maxAge: KoaMaxAge | undefined, now: number): Record<string, unknown> {
  if (session === null || typeof session !== 'object' || Array.isArray(session)) {
    throw new SessionStoreError(ErrorCode.INVALID_SESSION, 'the koa session must be an object');
  }
  let cookie: { originalMaxAge: number | null; expires: Date | null };
  if (maxAge === 'session' || maxAge === undefined) cookie = { originalMaxAge: null, expires: null };
  else if (typeof maxAge === 'number' && Number.isFinite(maxAge)) cookie = { originalMaxAge: maxAge, expires: new Date(now + maxAge) };
  else throw new SessionStoreError(ErrorCode.INVALID_OPTION, `maxAge must be a number of ms or 'session', got ${String(maxAge)}`);
  const { cookie: own, ...data } = session;
  return own === undefined ? { cookie, ...data } : { cookie, ...data, [KOA_COOKIE]: own };
}

/** The session as koa stored it: without the adapter's `cookie`, with the session's own `cookie` back in place. */
function fromStore(stored: Record<string, unknown>): KoaSessionData {
  const { cookie: _ours, [KOA_COOKIE]: own, ...data } = stored;
  return own === undefined ? data : { cookie: own, ...data };
}

/** Missing sessions as some stores report them (session-file-store: `ENOENT`), and ids a store refuses to read. */
function isMissing(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === 'ENOENT' || code === ErrorCode.INVALID_SID;
}

/**
 * Calls `store[method](...args, callback)` and settles with the callback or with the promise the method returns,
 * whichever comes first: express-session stores call back, newer ones return a promise, this package's do both.
 */
function call(store: ExpressStyleStore, method: 'get' | 'set' | 'destroy', ...args: unknown[]): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const callback = (err: unknown, value?: unknown): void => (err ? reject(err) : resolve(value));
    const returned = (store[method] as (...a: unknown[]) => unknown).call(store, ...args, callback);
    if (returned !== null && typeof returned === 'object' && typeof (returned as PromiseLike<unknown>).then === 'function') {
      (returned as PromiseLike<unknown>).then(resolve, reject);
    }
  });
}

import type { SessionData } from 'express-session';
import type { EncryptionOptions } from './encryption.js';
import type { HashIdsOptions } from './hashed-ids.js';
import type { Serializer } from './serializer.js';

/**
 * What a backend keeps for one session: the serialized payload and the absolute expiry in epoch milliseconds
 * (`null`: the record never expires, e.g. Redis with `disableTTL`).
 */
export interface StoredRecord<Stored = string> {
  data: Stored;
  expiresAt: number | null;
}

/** The default TTL: seconds (fractions allowed), or a function of the session that returns seconds. */
export type Ttl = number | ((session: SessionData) => number);

/** Options every store accepts. Backends add their own. */
export interface BaseStoreOptions<Stored = string> {
  /**
   * Lifetime in **seconds** of a session whose cookie has no `expires` (a browser-session cookie), or a function
   * of the session returning seconds. Fractions give millisecond precision. Sessions whose cookie has `expires`
   * always expire exactly then. Default: 86400 (one day), as connect-redis and connect-pg-simple.
   */
  ttl?: Ttl;
  /** Make `touch()` a no-op that succeeds: the expiry then only moves when the session is saved. Default false. */
  disableTouch?: boolean;
  /**
   * Lazy touch, in **seconds** (connect-mongo's name and unit): a `touch()` that would move the stored expiry by
   * less than this is skipped without a database write. The store remembers the expiry it last read or wrote for
   * each sid in this process (bounded by `touchCacheSize`). Default 0 (every touch writes).
   */
  touchAfter?: number;
  /** How many sids lazy touch remembers (least recently used are forgotten). Default 10000. */
  touchCacheSize?: number;
  /** Encodes sessions for storage. Default JSON, byte-compatible with the store being replaced. */
  serializer?: Serializer<Stored>;
  /**
   * What `get()` does with a stored record the serializer cannot decode. `'miss'` (default): behave as if the
   * session did not exist (express-session starts a new one; the record is left untouched for inspection) and
   * emit `'error'` if, and only if, someone listens. `'error'`: fail with `SESSION_STORE_DECODE_FAILED`.
   */
  onDecodeError?: 'miss' | 'error';
  /** Longest sid accepted, in UTF-16 code units (backends may also limit its UTF-8 bytes). Default 1024. */
  maxSidLength?: number;
  /**
   * How often to delete expired sessions, in milliseconds, for backends that do not expire data themselves.
   * Each run waits a jittered 50–150% of this. `false` or `0` disables pruning (expired sessions are still never
   * returned). The timer never keeps the process alive.
   */
  pruneIntervalMs?: number | false;
  /**
   * How many expired sessions one pruning batch deletes; batches run one after another. Default 1000. Backends whose
   * statements run synchronously use smaller ones (SQLite: at most 250 rows per statement).
   */
  pruneBatchSize?: number;
  /**
   * Longest wait, in ms, for one database operation (and for opening the store) before it fails with
   * `SESSION_STORE_TIMEOUT`; the store then pings the database and reports `'disconnect'` if that does not answer
   * either, until the database answers again. A frozen
   * server or a lost network therefore delays a request by this much, never for the whole outage.
   * `0` disables the bound. Default 5000.
   */
  operationTimeoutMs?: number;
  /**
   * How often, in ms, a store that reported `'disconnect'` pings its database to find out it is back (express-session
   * sends no requests to a disconnected store, so nothing else would notice). Default 1000.
   */
  reconnectCheckIntervalMs?: number;
  /**
   * Logout is final: `destroy()` leaves a tombstone that a later `set()` or `touch()` of the same sid cannot
   * overwrite (express-session writes a session back at the end of every request that loaded it, so a slow
   * request finishing after a logout would otherwise log the user in again). The tombstone lives this long, in
   * ms: as long as a request that loaded the session before the logout could still be running. Default 600000
   * (10 minutes: twice Node's default `server.requestTimeout` of 5 minutes). `false` turns revocation off
   * (`destroy()` then just deletes, as every incumbent does). Stores that cannot keep tombstones say so in
   * `supports.revocation`.
   */
  revocationWindowMs?: number | false;
  /**
   * Who a session belongs to, for "log out everywhere" (`sessionsOf()`, `destroyOwner()`): a property path of the
   * session (`'userId'`, `'passport.user'`) or a function of the session. Sessions without an owner (anonymous
   * ones) are not indexed. Each backend keeps the index with its natural tool, so listing or destroying one
   * owner's sessions costs in proportion to that owner's sessions. Default: none (`supports.owners` false).
   */
  owner?: string | ((session: SessionData) => unknown);
  /**
   * Encrypt sessions at rest (AES-256-GCM, a fresh nonce per write, the sid bound as associated data so a record
   * copied to another sid does not decrypt), with key rotation: `{ keys: [newest, ...older] }`. A record that fails
   * authentication, or a plaintext one (unless `allowPlaintext` while migrating), is handled like any record that
   * cannot be decoded (`onDecodeError`). The record keeps the session's cookie settings in the clear (no user
   * data), so a store we replace reading it sees an anonymous session. Default: off.
   */
  encryption?: EncryptionOptions;
  /**
   * Store each session under a hash of its sid (SHA-256, or an HMAC with `{ secret }`), so a dump of the database
   * holds no session id anybody could use as a cookie. `get`/`set`/`touch`/`destroy` take the real sid as before.
   * Listings need the sid back: with `encryption` on, it is sealed into each record and `all()`, `ids()` and
   * `sessionsOf()` return it; without encryption they fail with `SESSION_STORE_NOT_SUPPORTED` (the store holds no
   * sid to return), while `length()`, `clear()` and `destroyOwner()` keep working. `{ migrate: true }` reads
   * sessions stored under plain sids and moves them. Default: off.
   */
  hashIds?: boolean | HashIdsOptions;
}

/** What `_set` is told besides the record (see `SessionStore`). */
export interface WriteContext {
  /** The owner to index the session under (the `owner` option), or null. */
  owner: string | null;
  /** Revocation is on: the write must not replace a tombstone (one round trip, atomically). */
  guarded: boolean;
}

/**
 * What a store can do with the options it was given: `store.supports`. The base derives the methods from the
 * hooks a backend implements, the backend declares the rest, and the conformance suite reads the same object,
 * so a store never claims a capability it does not have.
 */
export interface StoreCapabilities {
  /** `touch()` extends the expiry (false with `disableTouch`, or Redis' `disableTTL`). */
  touch: boolean;
  /** Touches that would barely move the expiry are skipped (`touchAfter` > 0). */
  lazyTouch: boolean;
  /** The database deletes expired data by itself (Redis TTL, MongoDB TTL index). */
  nativeExpiry: boolean;
  /** Expiry is kept to the millisecond, not rounded to seconds. */
  msPrecision: boolean;
  /** `all()` works. */
  all: boolean;
  /** `ids()` works. */
  ids: boolean;
  /** `length()` works. */
  length: boolean;
  /** `clear()` works. */
  clear: boolean;
  /** `prune()` deletes expired sessions (stores without native expiry). */
  prune: boolean;
  /** `close()` releases the store. */
  close: boolean;
  /**
   * The store keeps its sessions in a namespace of a shared backend (key prefix, table, collection, directory),
   * named by `store.namespace`; stores in different namespaces never see each other's sessions.
   */
  namespaces: boolean;
  /** Every method also returns a promise. */
  promises: boolean;
  /** Failures are `SessionStoreError`s with stable `SESSION_STORE_*` codes. */
  sessionStoreErrors: boolean;
  /** `destroy()` leaves a tombstone that late writes cannot overwrite (see `revocationWindowMs`). */
  revocation: boolean;
  /** Sessions are indexed by owner: `sessionsOf()` and `destroyOwner()` work (see the `owner` option). */
  owners: boolean;
  /** Sessions are encrypted at rest (the `encryption` option). */
  encrypted: boolean;
  /** Sessions are stored under hashes of their sids (the `hashIds` option). */
  hashedIds: boolean;
}

/** What a backend declares about itself to the base (see `SessionStore`'s constructor). */
export interface BackendInfo {
  /** Short name used in messages, e.g. `'redis'`. */
  name: string;
  /**
   * What the backend can do with its options, beyond the hooks it implements: e.g. `touch: false` when its
   * options make touch impossible, `nativeExpiry: true`. Methods are derived from the hooks and can only be
   * narrowed here, never widened.
   */
  capabilities?: Partial<
    Pick<StoreCapabilities, 'touch' | 'nativeExpiry' | 'msPrecision' | 'all' | 'ids' | 'length' | 'clear' | 'revocation'>
  >;
  /** The namespace of this store in its backend (`store.namespace`), when it has one. */
  namespace?: string;
  /**
   * The pause before each pruning pass, from the interval. Default: a random 50–150% of it, so that a fleet of
   * processes started together does not prune in lockstep.
   */
  pruneDelay?: (intervalMs: number) => number;
  /** Default pruning interval in ms for this backend (the user's `pruneIntervalMs` wins). */
  pruneIntervalMs?: number | false;
  /**
   * Longest sid the backend can store and index, in UTF-8 bytes (indexes limit bytes, not characters: a sid of
   * 1024 three-byte characters is 3072 bytes). Longer sids are rejected with `SESSION_STORE_INVALID_SID` before any
   * database call. Default: no limit beyond `maxSidLength`.
   */
  maxSidBytes?: number;
  /** Default TTL in seconds when the user gives none (e.g. 14 days for MongoDB, as connect-mongo). */
  defaultTtl?: number;
  /** `all()` resolves to a list of sessions each with its `id` (connect-redis' shape) rather than an object by sid. */
  allAsList?: boolean;
  /**
   * Whether `operationTimeoutMs` applies. Default true; in-process stores whose operations cannot hang (memory)
   * turn it off to save the bookkeeping.
   */
  timeouts?: boolean;
}

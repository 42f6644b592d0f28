import type { SessionData } from 'express-session';
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
  /** Longest sid accepted, in UTF-16 code units. Default 1024. */
  maxSidLength?: number;
  /**
   * How often to delete expired sessions, in milliseconds, for backends that do not expire data themselves.
   * Each run waits a jittered 50–150% of this. `false` or `0` disables pruning (expired sessions are still never
   * returned). The timer never keeps the process alive.
   */
  pruneIntervalMs?: number | false;
  /** How many expired sessions one pruning batch deletes; batches run one after another. Default 1000. */
  pruneBatchSize?: number;
}

/** What a store can do; tells users and the conformance suite which features apply. */
export interface StoreCapabilities {
  /** `touch()` extends the expiry (false with `disableTouch`). */
  touch: boolean;
  /** Skips touches that would barely move the expiry (`touchAfter` > 0). */
  lazyTouch: boolean;
  /** The database deletes expired data by itself (Redis TTL, MongoDB TTL index). */
  nativeExpiry: boolean;
  all: boolean;
  length: boolean;
  ids: boolean;
  clear: boolean;
  /** `prune()` deletes expired sessions (stores without native expiry). */
  prune: boolean;
}

/** What a backend tells the base about itself. */
export interface BackendInfo {
  /** Short name used in messages, e.g. `'redis'`. */
  name: string;
  /** The database removes expired records by itself. */
  nativeExpiry?: boolean;
  /** Default pruning interval in ms for this backend (the user's `pruneIntervalMs` wins). */
  pruneIntervalMs?: number | false;
}

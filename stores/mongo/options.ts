import type { SessionData } from 'express-session';
import type { Document, MongoClientOptions, WriteConcernSettings } from 'mongodb';
import { ErrorCode, SessionStoreError } from '../../shared/errors.js';
import { any, bool, fn, obj, oneOf, scaled, str } from '../../shared/options.js';
import type { BaseStoreOptions } from '../../shared/types.js';

/**
 * What MongoStore keeps in the `session` field: the JSON string connect-mongo writes by default, or the session
 * object itself with `stringify: false` (or whatever a custom serializer returns).
 */
export type MongoSessionPayload = string | Document;

/**
 * How expired sessions are deleted (connect-mongo's option):
 * - `'native'`: a TTL index on `expires` lets the server delete them. Servers without TTL indexes (FerretDB,
 *   some MongoDB-compatible services) make the store fall back to `'interval'` by itself.
 * - `'interval'`: the store deletes them every `autoRemoveInterval` minutes (jittered, never keeps the process
 *   alive).
 * - `'disabled'`: nothing deletes them (expired sessions are still never returned; call `prune()` yourself).
 */
export type AutoRemove = 'native' | 'interval' | 'disabled';

/**
 * A `MongoClient` of the `mongodb` driver, major 5, 6 or 7 (structural: a client from any of them, or from a second
 * copy of the driver in node_modules, is accepted without a cast). The store uses it as given and never closes it.
 */
export interface MongoClientLike {
  readonly options: { dbName?: string };
  db(dbName?: string): { collection(name: string): unknown; command(command: Document): Promise<Document> };
  connect(): Promise<unknown>;
  close(): Promise<void>;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- the driver types listener arguments per event
  on(event: string, listener: (...args: any[]) => void): unknown;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- the driver types listener arguments per event
  off(event: string, listener: (...args: any[]) => void): unknown;
}

/** Options of {@link MongoStore}. Names and units are connect-mongo's, so its options can be passed unchanged. */
export interface MongoStoreOptions extends BaseStoreOptions<MongoSessionPayload> {
  /** A `MongoClient` to use. The store never closes a client it was given. One of `client`, `clientPromise`, `mongoUrl` is required. */
  client?: MongoClientLike;
  /** A promise of a `MongoClient` (e.g. from `MongoClient.connect()`). The store never closes it. */
  clientPromise?: Promise<MongoClientLike>;
  /** A connection string: the store creates its own client, and closes it on `close()`. */
  mongoUrl?: string;
  /** Options for the client created from `mongoUrl`. */
  mongoOptions?: MongoClientOptions;
  /** Database name. Default: the one in the connection string (`test` when there is none), as connect-mongo. */
  dbName?: string;
  /** Collection holding the sessions, and nothing else. Default `'sessions'`. */
  collectionName?: string;
  /**
   * Lifetime in **seconds** of a session whose cookie has no `expires`. Default 1209600 (14 days), as
   * connect-mongo (the other stores default to one day).
   */
  ttl?: BaseStoreOptions['ttl'];
  /** How expired sessions are deleted. Default `'native'` (a TTL index, falling back to `'interval'`). */
  autoRemove?: AutoRemove;
  /** Minutes between deletions of expired sessions with `autoRemove: 'interval'` (or the fallback). Default 10. */
  autoRemoveInterval?: number;
  /**
   * `true` (default): `session` holds `JSON.stringify(session)`, as connect-mongo writes it. `false`: it holds
   * the session as a document, queryable with MongoDB (connect-mongo's `stringify: false` layout); BSON then
   * limits what a session may hold (see `documentSerializer`). Either store reads both layouts.
   */
  stringify?: boolean;
  /** connect-mongo's custom encoder; the value is stored in `session` as is. Prefer `serializer`. */
  serialize?: (session: SessionData) => MongoSessionPayload;
  /** connect-mongo's custom decoder of what `serialize` stored. Prefer `serializer`. */
  unserialize?: (payload: MongoSessionPayload) => SessionData;
  /** Also keep `createdAt` (set on insert) and `updatedAt` (every write) in each document, as connect-mongo. */
  timestamps?: boolean;
  /** Write concern for set/touch/destroy/clear (connect-mongo's `writeOperationOptions`). */
  writeOperationOptions?: WriteConcernSettings;
  /**
   * connect-mongo's encryption, in its format (kruptein: AES-256-GCM, PBKDF2-SHA512), so a deployment that
   * encrypts with connect-mongo switches without logging anybody out: `{ secret }` (connect-mongo's other `crypto`
   * settings are accepted at their defaults only). Sessions not in that format are refused like undecodable ones.
   * For new deployments prefer `encryption` (key rotation, the sid bound to each record); the two cannot be combined.
   */
  crypto?: {
    secret: string | false;
    algorithm?: string;
    hashing?: string;
    encodeas?: string;
    key_size?: number;
    iv_size?: number;
    at_size?: number;
  };
  /** connect-mongo's custom crypto adapters are refused (`SESSION_STORE_INVALID_OPTION`): use `crypto` or `encryption`. */
  cryptoAdapter?: never;
  /**
   * connect-mongo's `transformId`: the `_id` stored for a sid (e.g. a hash of it, so a dump holds no usable sid).
   * `ids()` and `all()` then list the stored ids, which `get()` cannot take back. Default: the sid itself.
   */
  transformId?: (sid: string) => string;
}

const refused = (why: string) => (): never => {
  throw new SessionStoreError(ErrorCode.INVALID_OPTION, why);
};

/** What MongoStore accepts (see {@link MongoStoreOptions}). */
export const MONGO_OPTIONS = {
  options: {
    client: any,
    clientPromise: any,
    mongoUrl: str(),
    mongoOptions: obj,
    dbName: str(),
    collectionName: str(),
    autoRemove: oneOf('native', 'interval', 'disabled'),
    stringify: bool,
    serialize: fn,
    unserialize: fn,
    timestamps: bool,
    writeOperationOptions: obj,
    // Checked in full by mongoCrypto().
    crypto: (value: unknown) => value,
    cryptoAdapter: refused('cryptoAdapter (connect-mongo encryption) is not supported: use the encryption option (AES-256-GCM)'),
    transformId: fn,
  },
  aliases: { autoRemoveInterval: scaled('pruneIntervalMs', 60_000) },
};

/** Seconds in 14 days: connect-mongo's default ttl. */
export const DEFAULT_MONGO_TTL_SECONDS = 14 * 24 * 60 * 60;

/** Duck-typed so that a client from another copy of the `mongodb` package is recognised too. */
export function isMongoClient(value: unknown): value is MongoClientLike {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as MongoClientLike).db === 'function' &&
    typeof (value as MongoClientLike).connect === 'function' &&
    typeof (value as MongoClientLike).on === 'function'
  );
}

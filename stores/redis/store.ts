import { ErrorCode, SessionStoreError } from '../../shared/errors.js';
import { any, bool, num, renamed, str } from '../../shared/options.js';
import { type SessionList, SessionStore, storeOptions } from '../../shared/store.js';
import type { BaseStoreOptions, StoredRecord, WriteContext } from '../../shared/types.js';
import { RedisCommands } from './commands.js';
import type { RedisConnection } from './connection.js';
import { type IoRedisLike, ioredisConnection, isIoRedis } from './connection-ioredis.js';
import {
  type NodeRedisClientLike,
  type NodeRedisClusterLike,
  isNodeRedisClient,
  isNodeRedisCluster,
  nodeRedisConnection,
} from './connection-node-redis.js';

/**
 * A Redis client: an ioredis `Redis` or `Cluster`, or a node-redis v4–v6 client (`createClient`) or cluster
 * (`createCluster`). The store uses it as given and never quits it.
 */
export type RedisClient = IoRedisLike | NodeRedisClientLike | NodeRedisClusterLike;

/** Options of {@link RedisStore}: connect-redis' options with the same names, units and defaults, plus the shared ones. */
export interface RedisStoreOptions extends BaseStoreOptions<string> {
  /** The client to use (see {@link RedisClient}). Required. */
  client: RedisClient;
  /**
   * Prepended to each sid to form its key. Default `'sess:'`, as connect-redis. Must not be empty (`clear()`
   * would then be a `FLUSHDB` of everything in the database). Glob characters (`*`, `?`, `[`) are safe: bulk
   * operations match the prefix literally. Two stores sharing a Redis must use prefixes that do not start with
   * one another (`app:` and `app:admin:` overlap: the first would list the second's sessions).
   */
  prefix?: string;
  /**
   * Store sessions without an expiry on the key (connect-redis' option). `touch()` then does nothing
   * (`supports.touch` is false), and sessions live until destroyed or evicted by Redis. Default false.
   */
  disableTTL?: boolean;
  /** The `COUNT` hint of each `SCAN` in `all()`, `ids()`, `length()` and `clear()`: keys per batch. Default 100. */
  scanCount?: number;
  /**
   * Prefix of the owner index keys (the `owner` option): one Redis set per owner, `ownerPrefix + owner`, holding the
   * owner's sids and expiring with the last of them. Default `'owners:' + prefix`. It must not start with `prefix`
   * (the sets would then be listed as sessions, by this store and by connect-redis).
   */
  ownerPrefix?: string;
  /**
   * Read each session's expiry from Redis on `get()` (`GET` and `PEXPIRETIME` written together: one round trip).
   * Default `true`: the session comes back with `cookie.expires` equal to the stored expiry, to the millisecond,
   * touched or not. `false` sends `GET` alone, as connect-redis does (Redis measured 0.54 + 0.18 µs per call for
   * `GET` + `PEXPIRETIME` against 0.53 µs for `GET`, and the client encodes and parses one command instead of two):
   * the session's `cookie.expires` is then the one written by the last `set()`, which later `touch()`es do not
   * update (Redis still expires the key at the touched time), and `touchAfter` cannot skip touches (it needs the
   * stored expiry): with `touchAfter` set, the expiry is read anyway.
   */
  readExpiry?: boolean;
  /** @deprecated The old name of `operationTimeoutMs`. */
  commandTimeout?: number;
}

const OPTIONS = {
  options: { client: any, prefix: str(), disableTTL: bool, scanCount: num(1, { integer: true }), ownerPrefix: str(), readExpiry: bool },
  aliases: { commandTimeout: renamed('operationTimeoutMs') },
};

/**
 * A Redis session store for express-session: drop-in for connect-redis (same key layout `sess:<sid>` holding
 * `JSON.stringify(session)`, same options), with millisecond expiry, one round trip per operation, and
 * `all()` / `ids()` / `length()` / `clear()` that work on Redis Cluster.
 *
 * Redis expires the keys itself (`SET … PXAT`, touch = `PEXPIREAT`, which never recreates a missing key), so
 * the store runs no pruning timer. It emits `'disconnect'` when the client loses its connection (or a command
 * times out and a `PING` does not answer either) and `'connect'` when it is back; express-session skips
 * sessions in between, and operations fail fast instead of queueing behind a dead connection. With ioredis, also
 * pass `maxRetriesPerRequest: 1` (or `enableOfflineQueue: false`) so commands issued just before an outage fail
 * quickly. On a node-redis client the store listens to `'error'` (the only sign of a reconnect strategy giving
 * up), so an unobserved Redis error no longer crashes the process: add your own listener to log them.
 *
 * Logout is final (`revocationWindowMs`): `destroy()` replaces the key with a tombstone, an empty string expiring
 * at the end of the window, and `set()` is a small script that writes only when the key is not a tombstone (one
 * round trip, atomic). connect-redis reads an empty value as no session. A late `touch()` of a tombstone may extend
 * it, never beyond the expiry the session itself would have had. With the `owner` option, each owner's sids are
 * kept in a set (`ownerPrefix + owner`) written together with the session and expiring with its last session;
 * entries of destroyed sessions are dropped when `sessionsOf()` meets them.
 *
 * @example
 * ```ts
 * import { createClient } from 'redis';
 * import { RedisStore } from 'session-stores/redis';
 * const client = await createClient({ url: process.env.REDIS_URL }).on('error', console.error).connect();
 * const store = new RedisStore({ client });
 * ```
 */
export class RedisStore extends SessionStore<string, SessionList> {
  /** The prefix of every session key of this store. */
  readonly prefix: string;
  /** The prefix of the owner index sets (see the `ownerPrefix` option). */
  readonly ownerPrefix: string;
  /** The client passed in (never closed by the store). */
  readonly client: RedisClient;
  /** Keys per `SCAN` batch. */
  readonly scanCount: number;
  /** Whether keys are written without an expiry. */
  readonly disableTTL: boolean;
  /** Whether `get()` reads the stored expiry (see the `readExpiry` option). */
  readonly readExpiry: boolean;
  readonly #connection: RedisConnection;
  readonly #redis: RedisCommands;
  #unwatch: (() => void) | undefined;

  /** @param options the options, or just the client (then every option has its default) */
  constructor(options: RedisStoreOptions | RedisClient) {
    const opts = storeOptions<RedisStoreOptions>(isClient(options) ? { client: options } : options, OPTIONS);
    const client = opts.client;
    let connection: RedisConnection;
    if (isIoRedis(client)) connection = ioredisConnection(client);
    else if (isNodeRedisCluster(client) || isNodeRedisClient(client)) connection = nodeRedisConnection(client);
    else {
      throw new SessionStoreError(
        ErrorCode.INVALID_OPTION,
        'client must be an ioredis Redis or Cluster, or a node-redis client or cluster (createClient / createCluster)',
      );
    }
    const prefix = opts.prefix ?? 'sess:';
    const ownerPrefix = opts.ownerPrefix ?? `owners:${prefix}`;
    if (ownerPrefix.startsWith(prefix) || prefix.startsWith(ownerPrefix)) {
      throw new SessionStoreError(
        ErrorCode.INVALID_OPTION,
        `ownerPrefix ${JSON.stringify(ownerPrefix)} and prefix ${JSON.stringify(prefix)} overlap: owner sets would be read as sessions`,
      );
    }
    super(opts, {
      name: 'redis',
      namespace: connection.keyPrefix + prefix,
      capabilities: { nativeExpiry: true, touch: opts.disableTTL !== true, revocation: true },
      // connect-redis' shape: a list of sessions, each with its id.
      allAsList: true,
    });
    this.#connection = connection;
    this.#redis = new RedisCommands(connection);
    this.client = client;
    this.prefix = prefix;
    this.ownerPrefix = ownerPrefix;
    this.scanCount = opts.scanCount ?? 100;
    this.disableTTL = opts.disableTTL === true;
    this.readExpiry = opts.readExpiry !== false || (opts.touchAfter ?? 0) > 0;
  }

  protected override async _open(): Promise<void> {
    this.#unwatch = this.#connection.watch((up) => this.setConnected(up));
    // A node-redis client before connect() fails every command ("The client is closed"): say so until it is ready.
    if (!this.#connection.usable()) this.setConnected(false);
  }

  protected override async _get(sid: string): Promise<StoredRecord<string> | null> {
    const key = this.prefix + sid;
    if (!this.readExpiry) return record([await this.#run(() => this.#redis.value(key)), -1]);
    return record(await this.#run(() => this.#redis.readOne(key)));
  }

  protected override async _set(sid: string, data: string, expiresAt: number, _now: number, context: WriteContext): Promise<void> {
    const at = this.disableTTL ? null : Math.ceil(expiresAt);
    const key = this.prefix + sid;
    if (context.owner === null) await this.#run(() => this.#redis.set(key, data, at, context.guarded));
    else
      await this.#run(() =>
        Promise.all([this.#redis.set(key, data, at, context.guarded), this.#redis.ownerAdd(this.ownerPrefix + context.owner, sid, at)]),
      );
  }

  protected override async _touch(sid: string, expiresAt: number, _now: number, owner: string | null): Promise<boolean> {
    const at = Math.ceil(expiresAt);
    const key = this.prefix + sid;
    if (owner === null) return this.#run(() => this.#redis.pexpireat(key, at));
    // The owner's set must live as long as its longest session, touched ones included.
    const [touched] = await this.#run(() =>
      Promise.all([this.#redis.pexpireat(key, at), this.#redis.ownerAdd(this.ownerPrefix + owner, sid, at)]),
    );
    return touched;
  }

  protected override async _destroy(sid: string, _now: number, tombstoneUntil: number | null): Promise<void> {
    const key = this.prefix + sid;
    await this.#run(() => (tombstoneUntil === null ? this.#redis.del([key]) : this.#redis.tombstone(key, Math.ceil(tombstoneUntil))));
  }

  protected override async *_entries(): AsyncIterable<[string, StoredRecord<string>]> {
    for await (const keys of this.#scan()) {
      const values = await this.#run(() => this.#redis.read(keys));
      for (let i = 0; i < keys.length; i++) {
        // Missing (destroyed or expired since the SCAN saw it) or a tombstone: not a session.
        const found = record(values[i]!);
        if (found) yield [keys[i]!.slice(this.prefix.length), found];
      }
    }
  }

  protected override async *_ids(): AsyncIterable<string> {
    // SCAN already skips keys Redis considers expired; the base removes the repeats SCAN may return. Tombstones
    // (and keys deleted since) have length 0.
    for await (const keys of this.#scan()) {
      const lengths = await this.#run(() => this.#redis.lengths(keys));
      for (let i = 0; i < keys.length; i++) if (lengths[i]! > 0) yield keys[i]!.slice(this.prefix.length);
    }
  }

  protected override async *_sessionsOf(owner: string): AsyncIterable<[string, StoredRecord<string>]> {
    const ownerKey = this.ownerPrefix + owner;
    const sids = await this.#run(() => this.#redis.ownerMembers(ownerKey));
    const values = await this.#run(() => this.#redis.read(sids.map((sid) => this.prefix + sid)));
    const stale: string[] = [];
    for (let i = 0; i < sids.length; i++) {
      const found = record(values[i]!);
      if (found) yield [sids[i]!, found];
      else stale.push(sids[i]!);
    }
    // Destroyed or expired sessions leave their sid in the set: drop the ones met here.
    await this.#run(() => this.#redis.ownerRemove(ownerKey, stale));
  }

  protected override async *_clear(): AsyncIterable<number> {
    for (const prefix of [this.prefix, this.ownerPrefix]) {
      for await (const keys of this.#redis.scan(prefix, this.scanCount)) {
        await this.#run(() => this.#redis.del(keys));
        yield keys.length;
      }
    }
  }

  protected override async _ping(): Promise<void> {
    await this.#redis.ping();
  }

  protected override async _close(): Promise<void> {
    this.#unwatch?.();
  }

  /** SCAN batches of session keys (the base bounds each step in time). */
  #scan(): AsyncIterable<string[]> {
    return this.#redis.scan(this.prefix, this.scanCount);
  }

  /** Fails fast while the client is known to be disconnected (express-session already skips the store then). */
  #run<T>(command: () => Promise<T>): Promise<T> {
    if (!this.connected) return Promise.reject(new Error('the Redis client is not connected'));
    return command();
  }
}

/** A read reply as a record: null for a missing key or a tombstone (an empty value). */
function record([data, at]: [string | null, number]): StoredRecord<string> | null {
  if (data === null || data === '') return null;
  return { data, expiresAt: at >= 0 ? at : null };
}

function isClient(value: unknown): value is RedisClient {
  return isIoRedis(value) || isNodeRedisCluster(value) || isNodeRedisClient(value);
}

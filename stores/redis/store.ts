import { ErrorCode, SessionStoreError } from '../../shared/errors.js';
import { any, bool, num, renamed, str } from '../../shared/options.js';
import { type SessionList, SessionStore, storeOptions } from '../../shared/store.js';
import type { BaseStoreOptions, StoredRecord } from '../../shared/types.js';
import type { RedisAdapter } from './adapter.js';
import { type IoRedisLike, ioredisAdapter, isIoRedis } from './adapter-ioredis.js';
import {
  type NodeRedisClientLike,
  type NodeRedisClusterLike,
  isNodeRedisClient,
  isNodeRedisCluster,
  nodeRedisAdapter,
} from './adapter-node-redis.js';

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
  /** @deprecated The old name of `operationTimeoutMs`. */
  commandTimeout?: number;
}

const OPTIONS = {
  options: { client: any, prefix: str(), disableTTL: bool, scanCount: num(1, { integer: true }) },
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
 * @example
 * ```ts
 * import { createClient } from 'redis';
 * import { RedisStore } from 'session-stores/redis';
 * const client = await createClient({ url: process.env.REDIS_URL }).on('error', console.error).connect();
 * const store = new RedisStore({ client });
 * ```
 */
export class RedisStore extends SessionStore<string, SessionList> {
  /** The prefix of every key of this store. */
  readonly prefix: string;
  /** The client passed in (never closed by the store). */
  readonly client: RedisClient;
  /** Keys per `SCAN` batch. */
  readonly scanCount: number;
  /** Whether keys are written without an expiry. */
  readonly disableTTL: boolean;
  readonly #redis: RedisAdapter;
  #unwatch: (() => void) | undefined;

  /** @param options the options, or just the client (then every option has its default) */
  constructor(options: RedisStoreOptions | RedisClient) {
    const opts = storeOptions<RedisStoreOptions>(isClient(options) ? { client: options } : options, OPTIONS);
    const client = opts.client;
    let redis: RedisAdapter;
    if (isIoRedis(client)) redis = ioredisAdapter(client);
    else if (isNodeRedisCluster(client) || isNodeRedisClient(client)) redis = nodeRedisAdapter(client);
    else {
      throw new SessionStoreError(
        ErrorCode.INVALID_OPTION,
        'client must be an ioredis Redis or Cluster, or a node-redis client or cluster (createClient / createCluster)',
      );
    }
    const prefix = opts.prefix ?? 'sess:';
    const keyPrefix = isIoRedis(client) ? (client.options?.keyPrefix ?? '') : '';
    super(opts, {
      name: 'redis',
      namespace: keyPrefix + prefix,
      capabilities: { nativeExpiry: true, touch: opts.disableTTL !== true },
      // connect-redis' shape: a list of sessions, each with its id.
      allAsList: true,
    });
    this.#redis = redis;
    this.client = client;
    this.prefix = prefix;
    this.scanCount = opts.scanCount ?? 100;
    this.disableTTL = opts.disableTTL === true;
  }

  protected override async _open(): Promise<void> {
    this.#unwatch = this.#redis.watch((up) => this.setConnected(up));
    // A node-redis client before connect() fails every command ("The client is closed"): say so until it is ready.
    if (!this.#redis.usable()) this.setConnected(false);
  }

  protected override async _get(sid: string): Promise<StoredRecord<string> | null> {
    const [data, at] = await this.#run(() => this.#redis.readOne(this.prefix + sid));
    if (data === null) return null;
    return { data, expiresAt: at >= 0 ? at : null };
  }

  protected override async _set(sid: string, data: string, expiresAt: number): Promise<void> {
    await this.#run(() => this.#redis.set(this.prefix + sid, data, this.disableTTL ? null : Math.ceil(expiresAt)));
  }

  protected override async _touch(sid: string, expiresAt: number): Promise<boolean> {
    return this.#run(() => this.#redis.pexpireat(this.prefix + sid, Math.ceil(expiresAt)));
  }

  protected override async _destroy(sid: string): Promise<void> {
    await this.#run(() => this.#redis.del([this.prefix + sid]));
  }

  protected override async *_entries(): AsyncIterable<[string, StoredRecord<string>]> {
    for await (const keys of this.#scan()) {
      const values = await this.#run(() => this.#redis.read(keys));
      for (let i = 0; i < keys.length; i++) {
        const [data, at] = values[i]!;
        // Missing: destroyed or expired since the SCAN saw it.
        if (data !== null) yield [keys[i]!.slice(this.prefix.length), { data, expiresAt: at >= 0 ? at : null }];
      }
    }
  }

  protected override async *_ids(): AsyncIterable<string> {
    // SCAN already skips keys Redis considers expired; the base removes the repeats SCAN may return.
    for await (const keys of this.#scan()) for (const key of keys) yield key.slice(this.prefix.length);
  }

  protected override async *_clear(): AsyncIterable<number> {
    for await (const keys of this.#scan()) {
      await this.#run(() => this.#redis.del(keys));
      yield keys.length;
    }
  }

  protected override async _ping(): Promise<void> {
    await this.#redis.ping();
  }

  protected override async _close(): Promise<void> {
    this.#unwatch?.();
  }

  /** SCAN batches (the base bounds each step in time). */
  #scan(): AsyncIterable<string[]> {
    return this.#redis.scan(this.prefix, this.scanCount);
  }

  /** Fails fast while the client is known to be disconnected (express-session already skips the store then). */
  #run<T>(command: () => Promise<T>): Promise<T> {
    if (!this.connected) return Promise.reject(new Error('the Redis client is not connected'));
    return command();
  }
}

function isClient(value: unknown): value is RedisClient {
  return isIoRedis(value) || isNodeRedisCluster(value) || isNodeRedisClient(value);
}

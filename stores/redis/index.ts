import { ErrorCode, SessionStoreError } from '../../shared/errors.js';
import { SessionStore } from '../../shared/store.js';
import type { BaseStoreOptions, StoredRecord } from '../../shared/types.js';
import { assertNumberOption } from '../../shared/validate.js';
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
 * A connected Redis client: an ioredis `Redis` or `Cluster`, or a node-redis v4/v5 client (`createClient`) or
 * cluster (`createCluster`). The store uses it as given and never quits it.
 */
export type RedisClient = IoRedisLike | NodeRedisClientLike | NodeRedisClusterLike;

/** Options of {@link RedisStore}: connect-redis' options with the same names, units and defaults, plus the shared ones. */
export interface RedisStoreOptions extends BaseStoreOptions<string> {
  /** The client to use (see {@link RedisClient}). Required. */
  client: RedisClient;
  /**
   * Prepended to each sid to form its key. Default `'sess:'`, as connect-redis. Glob characters (`*`, `?`, `[`)
   * are safe: bulk operations match the prefix literally. Two stores sharing a Redis must use prefixes that do
   * not start with one another (`app:` and `app:admin:` overlap: the first would list the second's sessions).
   */
  prefix?: string;
  /**
   * Store sessions without an expiry on the key (connect-redis' option). `touch()` then does nothing, and sessions
   * live until destroyed or evicted by Redis. Default false.
   */
  disableTTL?: boolean;
  /** The `COUNT` hint of each `SCAN` in `all()`, `ids()`, `length()` and `clear()`: keys per batch. Default 100. */
  scanCount?: number;
  /**
   * Longest wait for one Redis command, in ms, before the operation fails with `SESSION_STORE_BACKEND`, so a
   * request never hangs on a Redis that is down (node-redis queues commands while reconnecting, ioredis by
   * default retries them 20 times). `0` disables it. Default 5000.
   */
  commandTimeout?: number;
}

/**
 * A Redis session store for express-session: drop-in for connect-redis (same key layout `sess:<sid>` holding
 * `JSON.stringify(session)`, same options), with millisecond expiry, one round trip per operation, and
 * `all()` / `ids()` / `length()` / `clear()` that work on Redis Cluster.
 *
 * Redis expires the keys itself (`SET … PXAT`, touch = `PEXPIREAT`, which never recreates a missing key), so
 * the store runs no pruning timer. It emits `'disconnect'` when the client loses its connection and `'connect'`
 * when it is ready again; express-session skips sessions in between, and operations fail fast instead of
 * queueing behind a dead connection. With ioredis, also pass `maxRetriesPerRequest: 1` (or
 * `enableOfflineQueue: false`) so commands issued just before an outage fail quickly. On a node-redis client the
 * store listens to `'error'` (the only sign of a reconnect strategy giving up), so an unobserved Redis error no
 * longer crashes the process: add your own listener to log them. Cluster clients report the state of the
 * cluster connection as a whole (`'connect'`/`'disconnect'` of node-redis, `'ready'`/`'close'` of ioredis).
 *
 * @example
 * ```ts
 * import { createClient } from 'redis';
 * import { RedisStore } from 'session-stores/redis';
 * const client = await createClient({ url: process.env.REDIS_URL }).on('error', console.error).connect();
 * app.use(session({ store: new RedisStore({ client }), secret, resave: false, saveUninitialized: false }));
 * ```
 */
export class RedisStore extends SessionStore<string> {
  /** The prefix of every key of this store. */
  readonly prefix: string;
  /** The client passed in (never closed by the store). */
  readonly client: RedisClient;
  readonly #redis: RedisAdapter;
  readonly #scanCount: number;
  readonly #disableTTL: boolean;
  readonly #timeoutMs: number;
  readonly #unwatch: () => void;

  /** @param options the options, or just the client (then every option has its default) */
  constructor(options: RedisStoreOptions | RedisClient) {
    const opts: RedisStoreOptions = isClient(options) ? { client: options } : (options as RedisStoreOptions);
    super(opts, { name: 'redis', nativeExpiry: true, pruneIntervalMs: false });
    const client = opts?.client;
    if (isIoRedis(client)) this.#redis = ioredisAdapter(client);
    else if (isNodeRedisCluster(client) || isNodeRedisClient(client)) this.#redis = nodeRedisAdapter(client);
    else {
      throw new SessionStoreError(
        ErrorCode.INVALID_OPTION,
        'client must be an ioredis Redis or Cluster, or a node-redis client or cluster (createClient / createCluster)',
      );
    }
    this.client = client;
    this.prefix = opts.prefix ?? 'sess:';
    if (typeof this.prefix !== 'string') throw new SessionStoreError(ErrorCode.INVALID_OPTION, 'prefix must be a string');
    this.#scanCount = opts.scanCount ?? 100;
    assertNumberOption('scanCount', this.#scanCount, 1);
    this.#timeoutMs = opts.commandTimeout ?? 5000;
    assertNumberOption('commandTimeout', this.#timeoutMs, 0);
    this.#disableTTL = opts.disableTTL === true;
    this.#unwatch = this.#redis.watch((up) => this.setConnected(up));
  }

  protected override async _get(sid: string): Promise<StoredRecord<string> | null> {
    const [[data, at]] = (await this.#run(() => this.#redis.read([this.prefix + sid]))) as [[string | null, number]];
    if (data === null) return null;
    return { data, expiresAt: at >= 0 ? at : null };
  }

  protected override async _set(sid: string, data: string, expiresAt: number): Promise<void> {
    await this.#run(() => this.#redis.set(this.prefix + sid, data, this.#disableTTL ? null : Math.ceil(expiresAt)));
  }

  protected override async _touch(sid: string, expiresAt: number): Promise<boolean> {
    // connect-redis semantics: keys without TTL stay without TTL.
    if (this.#disableTTL) return false;
    return this.#run(() => this.#redis.pexpireat(this.prefix + sid, Math.ceil(expiresAt)));
  }

  protected override async _destroy(sid: string): Promise<void> {
    await this.#run(() => this.#redis.del([this.prefix + sid]));
  }

  protected override async *_entries(): AsyncIterable<[string, StoredRecord<string>]> {
    const seen = new Set<string>();
    for await (const keys of this.#scan()) {
      const fresh = keys.filter((k) => !seen.has(k));
      for (const k of fresh) seen.add(k);
      const values = await this.#run(() => this.#redis.read(fresh));
      for (let i = 0; i < fresh.length; i++) {
        const [data, at] = values[i]!;
        // Missing: destroyed or expired since the SCAN saw it.
        if (data !== null) yield [fresh[i]!.slice(this.prefix.length), { data, expiresAt: at >= 0 ? at : null }];
      }
    }
  }

  protected override async *_ids(): AsyncIterable<string> {
    // SCAN already skips keys Redis considers expired; a Set removes the repeats SCAN may return.
    const seen = new Set<string>();
    for await (const keys of this.#scan()) {
      for (const key of keys) {
        if (seen.has(key)) continue;
        seen.add(key);
        yield key.slice(this.prefix.length);
      }
    }
  }

  protected override async _clear(): Promise<void> {
    for await (const keys of this.#scan()) await this.#run(() => this.#redis.del(keys));
  }

  protected override async _close(): Promise<void> {
    this.#unwatch();
  }

  /** SCAN batches, each wrapped in the command timeout. */
  async *#scan(): AsyncIterable<string[]> {
    const iterator = this.#redis.scan(this.prefix, this.#scanCount)[Symbol.asyncIterator]();
    try {
      for (;;) {
        const step = await this.#run(() => iterator.next());
        if (step.done) return;
        yield step.value;
      }
    } finally {
      // Not awaited: after a timeout the generator may still be stuck in its SCAN, and return() would wait for it.
      iterator.return?.()?.catch(() => {});
    }
  }

  /**
   * Fails fast while the client is known to be disconnected (express-session already skips the store then), and
   * bounds every command by `commandTimeout`, so no request waits on a dead connection.
   */
  #run<T>(command: () => Promise<T>): Promise<T> {
    if (!this.connected) return Promise.reject(new Error('the Redis client is not connected'));
    const pending = command();
    if (this.#timeoutMs === 0) return pending;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`Redis did not answer within ${this.#timeoutMs} ms`)), this.#timeoutMs);
      timer.unref();
      pending.then(
        (value) => {
          clearTimeout(timer);
          resolve(value);
        },
        (err: unknown) => {
          clearTimeout(timer);
          reject(err);
        },
      );
    });
  }
}

function isClient(value: unknown): value is RedisClient {
  return isIoRedis(value) || isNodeRedisCluster(value) || isNodeRedisClient(value);
}

export default RedisStore;

/**
 * What RedisStore needs from a Redis client, whatever the library: one implementation per client family
 * (connection-ioredis.ts, connection-node-redis.ts) turns the client into these few primitives; every command the
 * store sends is built on them, once, in commands.ts.
 */
export interface RedisConnection {
  /** Whether the client is a Redis Cluster client: multi-key commands must then stay within one slot. */
  readonly cluster: boolean;
  /** A prefix the client itself adds to keys (ioredis `keyPrefix`) but not to SCAN patterns or results. */
  readonly keyPrefix: string;
  /** Sends one command, routed (on a cluster) to the node that owns `key`. */
  send(key: string, args: Array<string | number>): Promise<unknown>;
  /** One sender per master node (just the client when standalone), for commands that go to every node (SCAN). */
  masters(): Promise<Array<(args: Array<string | number>) => Promise<unknown>>>;
  /**
   * Calls `listener(true)` when the client becomes ready and `listener(false)` when it loses its connection,
   * through one set of client listeners shared by every store on the client. Returns what stops this watch.
   */
  watch(listener: (up: boolean) => void): () => void;
  /**
   * Whether the client can serve commands: false for a node-redis client on which `connect()` was never called (or
   * that was closed), and for an ioredis client that was quit. A client still connecting queues commands: usable.
   */
  usable(): boolean;
}

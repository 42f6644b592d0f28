import { watchEvents } from '../../shared/watch.js';
import type { RedisConnection } from './connection.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- drivers type listener arguments as any
type Listener = (...args: any[]) => void;

/**
 * The part of an ioredis `Redis` or `Cluster` the store uses (structural, so ioredis stays an optional peer).
 * Every command goes through ioredis' generic `call`, whose signature both classes share exactly.
 */
export interface IoRedisLike {
  readonly status: string;
  readonly isCluster: boolean;
  readonly options?: { keyPrefix?: string };
  call(command: string, args: Array<string | number>): Promise<unknown>;
  on(event: string, listener: Listener): unknown;
  off(event: string, listener: Listener): unknown;
}

interface IoRedisCluster extends IoRedisLike {
  nodes(role: 'master'): IoRedisLike[];
}

/** True when `client` looks like an ioredis `Redis` or `Cluster`. */
export function isIoRedis(client: unknown): client is IoRedisLike {
  const c = client as Partial<IoRedisLike> | null;
  return (
    typeof c === 'object' && c !== null && typeof c.isCluster === 'boolean' && typeof c.status === 'string' && typeof c.call === 'function'
  );
}

/** {@link RedisConnection} over ioredis; Cluster commands are routed by ioredis from their keys. */
export function ioredisConnection(client: IoRedisLike): RedisConnection {
  const call = (node: IoRedisLike) => (args: Array<string | number>) => node.call(String(args[0]), args.slice(1));
  return {
    cluster: client.isCluster,
    keyPrefix: client.options?.keyPrefix ?? '',
    send: (_key, args) => client.call(String(args[0]), args.slice(1)),
    masters: async () => (client.isCluster ? (client as IoRedisCluster).nodes('master') : [client]).map(call),
    watch: (listener) =>
      // No 'error' listener: 'close' already reports every lost connection, and listening would silence ioredis'
      // own "Unhandled error event" logging the application may rely on.
      watchEvents(client, { up: ['ready'], down: ['close', 'end', 'reconnecting'] }, listener),
    usable: () => client.status !== 'end',
  };
}

import { watchEvents } from '../../shared/watch.js';
import { type RedisAdapter, READ_SCRIPT, READ_SCRIPT_SHA, escapeGlob, isNoScript, pairReply, singleKeyReader } from './adapter.js';

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

/** {@link RedisAdapter} over ioredis; Cluster commands are routed by ioredis from their key. */
export function ioredisAdapter(client: IoRedisLike): RedisAdapter {
  const cluster = client.isCluster;
  // ioredis prepends `keyPrefix` to keys but not to SCAN patterns or SCAN results: handle it ourselves.
  const keyPrefix = client.options?.keyPrefix ?? '';

  const script = async (keys: string[]): Promise<unknown> => {
    try {
      return await client.call('EVALSHA', [READ_SCRIPT_SHA, keys.length, ...keys]);
    } catch (err) {
      if (!isNoScript(err)) throw err;
      return client.call('EVAL', [READ_SCRIPT, keys.length, ...keys]);
    }
  };

  async function* scanNode(node: IoRedisLike, match: string, count: number): AsyncIterable<string[]> {
    let cursor = '0';
    do {
      const [next, keys] = (await node.call('SCAN', [cursor, 'MATCH', match, 'COUNT', count])) as [string, string[]];
      cursor = String(next);
      if (keys.length > 0) yield keyPrefix ? keys.map((k) => k.slice(keyPrefix.length)) : keys;
    } while (cursor !== '0');
  }

  const readOne = singleKeyReader(
    (name, key) => client.call(name, [key]),
    async (key) => pairReply(await script([key]), 1)[0]!,
  );

  return {
    cluster,
    readOne,
    async read(keys) {
      if (!cluster || keys.length <= 1) return pairReply(await script(keys), keys.length);
      return Promise.all(keys.map(async (k) => pairReply(await script([k]), 1)[0]!));
    },
    async set(key, value, pxat) {
      await client.call('SET', pxat === null ? [key, value] : [key, value, 'PXAT', pxat]);
    },
    async pexpireat(key, at) {
      return Number(await client.call('PEXPIREAT', [key, at])) === 1;
    },
    async del(keys) {
      if (keys.length === 0) return;
      if (!cluster) await client.call('DEL', keys);
      else await Promise.all(keys.map((k) => client.call('DEL', [k])));
    },
    async *scan(prefix, count) {
      const match = `${escapeGlob(keyPrefix + prefix)}*`;
      const nodes = cluster ? (client as IoRedisCluster).nodes('master') : [client];
      for (const node of nodes) yield* scanNode(node, match, count);
    },
    watch(listener) {
      // No 'error' listener: 'close' already reports every lost connection, and listening would silence
      // ioredis' own "Unhandled error event" logging the application may rely on.
      return watchEvents(client, { up: ['ready'], down: ['close', 'end', 'reconnecting'] }, listener);
    },
    usable() {
      return client.status !== 'end';
    },
    async ping() {
      await client.call('PING', []);
    },
  };
}

import { type RedisAdapter, READ_SCRIPT, READ_SCRIPT_SHA, escapeGlob, isNoScript, pairReply, subscribe } from './adapter.js';

/** The part of an ioredis `Redis` or `Cluster` the store uses (structural, so ioredis stays an optional peer). */
export interface IoRedisLike {
  readonly status: string;
  readonly isCluster: boolean;
  readonly options?: { keyPrefix?: string };
  evalsha(sha: string, numkeys: number, ...keys: string[]): Promise<unknown>;
  eval(script: string, numkeys: number, ...keys: string[]): Promise<unknown>;
  set(key: string, value: string, ...args: Array<string | number>): Promise<unknown>;
  pexpireat(key: string, at: number): Promise<number>;
  del(...keys: string[]): Promise<number>;
  scan(cursor: string, ...args: Array<string | number>): Promise<[string, string[]]>;
  on(event: string, listener: (...args: unknown[]) => void): unknown;
  off(event: string, listener: (...args: unknown[]) => void): unknown;
  /** Cluster only. */
  nodes?(role: 'master'): IoRedisLike[];
}

/** True when `client` looks like an ioredis `Redis` or `Cluster`. */
export function isIoRedis(client: unknown): client is IoRedisLike {
  const c = client as Partial<IoRedisLike> | null;
  return (
    typeof c === 'object' &&
    c !== null &&
    typeof c.isCluster === 'boolean' &&
    typeof c.status === 'string' &&
    typeof c.evalsha === 'function'
  );
}

/** {@link RedisAdapter} over ioredis; Cluster commands are routed by ioredis from their key. */
export function ioredisAdapter(client: IoRedisLike): RedisAdapter {
  const cluster = client.isCluster;
  // ioredis prepends `keyPrefix` to keys but not to SCAN patterns or SCAN results: handle it ourselves.
  const keyPrefix = client.options?.keyPrefix ?? '';

  const script = async (keys: string[]): Promise<unknown> => {
    try {
      return await client.evalsha(READ_SCRIPT_SHA, keys.length, ...keys);
    } catch (err) {
      if (!isNoScript(err)) throw err;
      return client.eval(READ_SCRIPT, keys.length, ...keys);
    }
  };

  async function* scanNode(node: IoRedisLike, match: string, count: number): AsyncIterable<string[]> {
    let cursor = '0';
    do {
      const [next, keys] = await node.scan(cursor, 'MATCH', match, 'COUNT', count);
      cursor = next;
      if (keys.length > 0) yield keyPrefix ? keys.map((k) => k.slice(keyPrefix.length)) : keys;
    } while (cursor !== '0');
  }

  return {
    cluster,
    async read(keys) {
      if (!cluster || keys.length <= 1) return pairReply(await script(keys), keys.length);
      return Promise.all(keys.map(async (k) => pairReply(await script([k]), 1)[0]!));
    },
    async set(key, value, pxat) {
      if (pxat === null) await client.set(key, value);
      else await client.set(key, value, 'PXAT', pxat);
    },
    async pexpireat(key, at) {
      return (await client.pexpireat(key, at)) === 1;
    },
    async del(keys) {
      if (keys.length === 0) return;
      if (!cluster) await client.del(...keys);
      else await Promise.all(keys.map((k) => client.del(k)));
    },
    async *scan(prefix, count) {
      const match = `${escapeGlob(keyPrefix + prefix)}*`;
      const nodes = cluster && client.nodes ? client.nodes('master') : [client];
      for (const node of nodes) yield* scanNode(node, match, count);
    },
    watch(listener) {
      const up = (): void => listener(true);
      const down = (): void => listener(false);
      const events: Array<[string, () => void]> = [
        ['ready', up],
        ['close', down],
        ['end', down],
        ['reconnecting', down],
      ];
      // No 'error' listener: 'close' already reports every lost connection, and listening would silence
      // ioredis' own "Unhandled error event" logging the application may rely on.
      return subscribe(client, events);
    },
  };
}

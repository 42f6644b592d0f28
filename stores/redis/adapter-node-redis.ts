import { watchEvents } from '../../shared/watch.js';
import { type RedisAdapter, READ_SCRIPT, READ_SCRIPT_SHA, escapeGlob, isNoScript, pairReply, singleKeyReader } from './adapter.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- drivers type listener arguments as any
type Listener = (...args: any[]) => void;

/** The part of a node-redis (v4–v6) client the store uses. Raw `sendCommand` reads the same in every version. */
export interface NodeRedisClientLike {
  readonly isReady: boolean;
  readonly isOpen: boolean;
  sendCommand(args: string[]): Promise<unknown>;
  on(event: string, listener: Listener): unknown;
  off(event: string, listener: Listener): unknown;
}

/** The part of a node-redis (v4–v6) cluster (`createCluster`) the store uses. */
export interface NodeRedisClusterLike {
  readonly masters: unknown[];
  nodeClient(node: never): unknown;
  sendCommand(firstKey: string | undefined, isReadonly: boolean | undefined, args: string[]): Promise<unknown>;
  on(event: string, listener: Listener): unknown;
  off(event: string, listener: Listener): unknown;
}

/** True when `client` looks like a node-redis cluster. */
export function isNodeRedisCluster(client: unknown): client is NodeRedisClusterLike {
  const c = client as Partial<NodeRedisClusterLike> | null;
  return typeof c === 'object' && c !== null && typeof c.nodeClient === 'function' && typeof c.sendCommand === 'function' && 'masters' in c;
}

/** True when `client` looks like a node-redis client. */
export function isNodeRedisClient(client: unknown): client is NodeRedisClientLike {
  const c = client as Partial<NodeRedisClientLike> | null;
  return typeof c === 'object' && c !== null && typeof c.sendCommand === 'function' && 'isReady' in c;
}

/** {@link RedisAdapter} over a node-redis client or cluster. */
export function nodeRedisAdapter(client: NodeRedisClientLike | NodeRedisClusterLike): RedisAdapter {
  const cluster = isNodeRedisCluster(client);
  // Writes and reads go to masters (isReadonly false): a replica could return a session just destroyed.
  const send = cluster
    ? (key: string, args: string[]) => client.sendCommand(key, false, args)
    : (_key: string, args: string[]) => (client as NodeRedisClientLike).sendCommand(args);
  let clusterUp = false;

  const script = async (keys: string[]): Promise<unknown> => {
    const tail = [String(keys.length), ...keys];
    try {
      return await send(keys[0]!, ['EVALSHA', READ_SCRIPT_SHA, ...tail]);
    } catch (err) {
      if (!isNoScript(err)) throw err;
      return send(keys[0]!, ['EVAL', READ_SCRIPT, ...tail]);
    }
  };

  async function* scanNode(node: NodeRedisClientLike, match: string, count: number): AsyncIterable<string[]> {
    let cursor = '0';
    do {
      const [next, keys] = (await node.sendCommand(['SCAN', cursor, 'MATCH', match, 'COUNT', String(count)])) as [unknown, unknown[]];
      cursor = String(next);
      if (keys.length > 0) yield keys.map(String);
    } while (cursor !== '0');
  }

  const readOne = singleKeyReader(
    (name, key) => send(key, [name, key]),
    async (key) => pairReply(await script([key]), 1)[0]!,
  );

  return {
    cluster,
    readOne,
    async read(keys) {
      if (keys.length === 0) return [];
      if (!cluster || keys.length === 1) return pairReply(await script(keys), keys.length);
      return Promise.all(keys.map(async (k) => pairReply(await script([k]), 1)[0]!));
    },
    async set(key, value, pxat) {
      await send(key, pxat === null ? ['SET', key, value] : ['SET', key, value, 'PXAT', String(pxat)]);
    },
    async pexpireat(key, at) {
      return Number(await send(key, ['PEXPIREAT', key, String(at)])) === 1;
    },
    async del(keys) {
      if (keys.length === 0) return;
      if (!cluster) await send(keys[0]!, ['DEL', ...keys]);
      else await Promise.all(keys.map((k) => send(k, ['DEL', k])));
    },
    async *scan(prefix, count) {
      const match = `${escapeGlob(prefix)}*`;
      if (!cluster) {
        yield* scanNode(client as NodeRedisClientLike, match, count);
        return;
      }
      // Snapshot the masters: the list is replaced when the cluster topology is rediscovered.
      for (const master of [...client.masters]) {
        yield* scanNode((await client.nodeClient(master as never)) as NodeRedisClientLike, match, count);
      }
    },
    watch(listener) {
      const track = (up: boolean): void => {
        clusterUp = up;
        listener(up);
      };
      if (cluster) return watchEvents(client, { up: ['connect'], down: ['disconnect'] }, track);
      // node-redis reports a reconnect strategy giving up only through 'error' (with isReady false).
      const onError = (emit: (up: boolean) => void) => (): void => {
        if (!(client as NodeRedisClientLike).isReady) emit(false);
      };
      return watchEvents(client, { up: ['ready'], down: ['end', 'reconnecting'], other: [['error', onError]] }, track);
    },
    usable() {
      // A cluster client has no isOpen: its masters list is filled once connect() has discovered the slots.
      return cluster ? clusterUp || client.masters.length > 0 : (client as NodeRedisClientLike).isOpen;
    },
    async ping() {
      if (cluster)
        await Promise.all(
          [...client.masters].map(async (m) => ((await client.nodeClient(m as never)) as NodeRedisClientLike).sendCommand(['PING'])),
        );
      else await (client as NodeRedisClientLike).sendCommand(['PING']);
    },
  };
}

import { watchEvents } from '../../shared/watch.js';
import type { RedisConnection } from './connection.js';

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

const strings = (args: Array<string | number>): string[] => args.map(String);

/** {@link RedisConnection} over a node-redis client or cluster. */
export function nodeRedisConnection(client: NodeRedisClientLike | NodeRedisClusterLike): RedisConnection {
  if (isNodeRedisCluster(client)) {
    let up = false;
    return {
      cluster: true,
      keyPrefix: '',
      // Reads go to masters too (isReadonly false): a replica could return a session just destroyed.
      send: (key, args) => client.sendCommand(key, false, strings(args)),
      // Snapshot the masters: the list is replaced when the cluster topology is rediscovered.
      masters: async () =>
        Promise.all(
          [...client.masters].map(async (master) => {
            const node = (await client.nodeClient(master as never)) as NodeRedisClientLike;
            return (args: Array<string | number>) => node.sendCommand(strings(args));
          }),
        ),
      watch: (listener) =>
        watchEvents(client, { up: ['connect'], down: ['disconnect'] }, (state) => {
          up = state;
          listener(state);
        }),
      // A cluster client has no isOpen: its masters list is filled once connect() has discovered the slots.
      usable: () => up || client.masters.length > 0,
    };
  }
  const send = (args: Array<string | number>) => client.sendCommand(strings(args));
  // node-redis reports a reconnect strategy giving up only through 'error' (with isReady false).
  const onError = (emit: (up: boolean) => void) => (): void => {
    if (!client.isReady) emit(false);
  };
  return {
    cluster: false,
    keyPrefix: '',
    send: (_key, args) => send(args),
    masters: async () => [send],
    watch: (listener) => watchEvents(client, { up: ['ready'], down: ['end', 'reconnecting'], other: [['error', onError]] }, listener),
    usable: () => client.isOpen,
  };
}

import type { SessionData } from 'express-session';
import { RedisStore as ConnectRedisStore } from 'connect-redis';
import { createClient } from 'redis';
import { RedisStore } from '../../stores/redis/index.js';
import { type BackendFactory, type Contender, RawStore, expiryOf } from '../lib/contender.js';

type Client = ReturnType<typeof createClient>;

/** A node-redis client of its own for each contender (the client connect-redis 9 requires). */
async function connect(url: string): Promise<Client> {
  const client = createClient({ url });
  client.on('error', () => {}); // a dying server surfaces as failed operations
  return client.connect() as Promise<Client>;
}

/** Deletes the contender's keys (its namespace is its key prefix) and closes its client. */
async function drop(client: Client, prefix: string): Promise<void> {
  for await (const keys of client.scanIterator({ MATCH: `${prefix}*`, COUNT: 1000 })) {
    if (keys.length) await client.unlink(keys);
  }
  await client.close();
}

/**
 * The floor: `GET` + `PTTL` (pipelined: node-redis writes commands of one tick together) and JSON.parse; `SET … PX`;
 * `PEXPIRE`; `DEL`. The raw touch may extend a key that expired between the read and the touch: a store may not.
 */
function rawRedis(client: Client, prefix: string): RawStore {
  return new RawStore({
    async get(sid) {
      const [data, ttl] = await Promise.all([client.get(prefix + sid), client.pTTL(prefix + sid)]);
      return data !== null && ttl !== 0 ? (JSON.parse(data) as SessionData) : null;
    },
    async set(sid, sess) {
      await client.set(prefix + sid, JSON.stringify(sess), { expiration: { type: 'PX', value: Math.max(1, expiryOf(sess) - Date.now()) } });
    },
    async touch(sid, sess) {
      await client.pExpire(prefix + sid, Math.max(1, expiryOf(sess) - Date.now()));
    },
    async destroy(sid) {
      await client.del(prefix + sid);
    },
  });
}

/** Redis: ours (on node-redis, as connect-redis), connect-redis 9, and node-redis commands. */
export const redis: BackendFactory = async (url) => {
  if (!url) throw new Error('redis needs a server URL');
  const contenders: Contender[] = [
    {
      name: 'ours (RedisStore)',
      role: 'ours',
      async create({ ns, touchAfter, options }) {
        const client = await connect(url);
        const store = new RedisStore({ client, prefix: `${ns}:`, touchAfter, ...options });
        return { store, close: async () => (await store.close(), await drop(client, `${ns}:`)) };
      },
    },
    {
      name: 'connect-redis 9',
      role: 'incumbent',
      async create({ ns }) {
        const client = await connect(url);
        const store = new ConnectRedisStore({ client, prefix: `${ns}:` });
        return { store, close: () => drop(client, `${ns}:`) };
      },
    },
    {
      name: 'raw node-redis',
      role: 'raw',
      async create({ ns }) {
        const client = await connect(url);
        return { store: rawRedis(client, `${ns}:`), close: () => drop(client, `${ns}:`) };
      },
    },
  ];
  return { name: 'redis', server: 'Redis', contenders };
};

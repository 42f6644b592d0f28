/**
 * RedisStore against real servers: the conformance suite on standalone Redis and on a 3-master Redis Cluster,
 * each with ioredis and node-redis, plus what is specific to Redis (key layout, glob-escaped prefixes, PXAT
 * millisecond expiry, one command per operation, cluster-safe bulk operations).
 */
import type { SessionData } from 'express-session';
import { Cluster, Redis } from 'ioredis';
import { createClient, createCluster } from 'redis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { isSessionStoreError } from '../../shared/errors.js';
import { RedisStore, type RedisClient, type RedisStoreOptions } from '../../stores/redis/index.js';
import RedisStoreDefault from '../../stores/redis/index.js';
import { redisCluster, serverOrSkip, skipIfMissing, uniqueName } from '../servers/index.js';
import { AT_REST_MODES, conformanceIn, HOUR, atRestOptions, sess } from './helpers.js';
import { redisRaw } from './raw.js';

const redis = await serverOrSkip('redis');
const cluster = redis ? await skipIfMissing('redis-cluster', redisCluster) : undefined;

type Family = { name: string; open: () => Promise<RedisClient>; quit: (c: RedisClient) => Promise<void> };

const families: Family[] = [];
if (redis) {
  families.push(
    {
      name: 'standalone, ioredis',
      open: async () => {
        const c = new Redis(redis.url, { maxRetriesPerRequest: 1 });
        await new Promise((resolve) => c.once('ready', resolve));
        return c as unknown as RedisClient;
      },
      quit: async (c) => void (await (c as unknown as Redis).quit()),
    },
    {
      name: 'standalone, node-redis',
      open: async () =>
        (await createClient({ url: redis.url })
          .on('error', () => {})
          .connect()) as unknown as RedisClient,
      quit: async (c) => void (await (c as unknown as ReturnType<typeof createClient>).close()),
    },
  );
}
if (cluster) {
  families.push(
    {
      name: 'cluster, ioredis',
      open: async () => {
        const c = new Cluster(cluster.nodes, { redisOptions: { maxRetriesPerRequest: 1 } });
        await new Promise((resolve) => c.once('ready', resolve));
        return c as unknown as RedisClient;
      },
      quit: async (c) => void (await (c as unknown as Cluster).quit()),
    },
    {
      name: 'cluster, node-redis',
      open: async () =>
        (await createCluster({ rootNodes: cluster.nodes.map((n) => ({ url: `redis://${n.host}:${n.port}` })) })
          .on('error', () => {})
          .connect()) as unknown as RedisClient,
      quit: async (c) => void (await (c as unknown as ReturnType<typeof createCluster>).close()),
    },
  );
}

describe.skipIf(families.length === 0)('RedisStore', () => {
  it('exports the class as named and default export', () => {
    expect(RedisStoreDefault).toBe(RedisStore);
  });

  it('rejects something that is not a Redis client', () => {
    for (const bad of [undefined, {}, { client: {} }, { client: { get() {} } }]) {
      try {
        new RedisStore(bad as unknown as RedisStoreOptions);
        expect.unreachable('accepted a non-client');
      } catch (err) {
        expect(isSessionStoreError(err, 'SESSION_STORE_INVALID_OPTION')).toBe(true);
      }
    }
  });
});

for (const family of families) {
  describe(`RedisStore (${family.name})`, () => {
    let client: RedisClient;
    // A raw ioredis connection to inspect what the store wrote; a Cluster client for the cluster families.
    let raw: Redis | Cluster;
    const base = uniqueName('rs');
    let counter = 0;
    const opened: RedisStore[] = [];

    beforeAll(async () => {
      client = await family.open();
      raw = family.name.startsWith('cluster') ? new Cluster(cluster!.nodes) : new Redis(redis!.url);
    });
    afterEach(async () => {
      for (const store of opened.splice(0)) {
        if (!store.closed) {
          await store.clear();
          await store.close();
        }
      }
    });
    afterAll(async () => {
      await raw?.quit();
      if (client) await family.quit(client);
    });

    const open = (options: Partial<RedisStoreOptions> = {}): RedisStore => {
      const store = new RedisStore({ client, prefix: `${base}:${++counter}:`, ...options });
      opened.push(store);
      return store;
    };

    describe('conformance', () => {
      // Plain, then (on ioredis) with sessions encrypted, under hashed ids, and both (issue 17).
      for (const mode of [undefined, ...(family.name === 'standalone, ioredis' ? AT_REST_MODES : [])]) {
        conformanceIn(mode, {
          name: mode ? `${family.name} (${mode.label})` : family.name,
          test: it,
          describe,
          // SCAN sees one node of a cluster: the raw view is for a standalone server.
          raw: family.name.startsWith('standalone') ? redisRaw : undefined,
          factory: (hints) =>
            new RedisStore({
              client,
              // Encoded, so that no namespace's prefix is a prefix of another's ("a:" vs "a:b:"): key prefixes
              // only isolate stores whose prefixes do not nest.
              prefix: `${base}:${encodeURIComponent(hints?.namespace ?? `c${++counter}`)}:`,
              ttl: hints?.ttl,
              touchAfter: hints?.touchAfter,
              disableTouch: hints?.disableTouch,
              owner: hints?.owner,
              ...atRestOptions(hints, mode),
            }),
          teardown: async (store) => {
            const s = store as RedisStore;
            if (!s.closed) await s.clear();
            await s.close();
          },
        });
      }
    });

    it('accepts the bare client, uses connect-redis layout: sess:<sid> holding JSON.stringify(session)', async () => {
      const store = new RedisStore(client);
      expect(store.prefix).toBe('sess:');
      const sid = `${base}-layout`;
      const session = sess(Date.now() + HOUR, { user: 'ann', n: [1, 2] });
      await store.set(sid, session);
      try {
        expect(await raw.get(`sess:${sid}`)).toBe(JSON.stringify(session));
      } finally {
        await store.destroy(sid);
        await store.close();
      }
      // A tombstone, which connect-redis reads as no session.
      expect(await raw.get(`sess:${sid}`)).toBe('');
    });

    it('stores the exact millisecond expiry (PXAT) and touch moves it exactly (PEXPIREAT)', async () => {
      const store = open();
      const expires = Date.now() + 61_234;
      await store.set('ms', sess(expires));
      const key = `${store.prefix}ms`;
      expect(await raw.call('PEXPIRETIME', key)).toBe(expires);
      const pttl = await raw.pttl(key);
      expect(pttl).toBeGreaterThan(60_000);
      expect(pttl).toBeLessThanOrEqual(61_234);
      await store.touch('ms', sess(expires + 7));
      expect(await raw.call('PEXPIRETIME', key)).toBe(expires + 7);
      const got = (await store.get('ms')) as SessionData;
      expect(new Date(got.cookie.expires as unknown as string).getTime()).toBe(expires + 7);
    });

    it('touch never recreates a destroyed or expired key', async () => {
      const store = open();
      await store.set('gone', sess(Date.now() + 30));
      await store.set('destroyed', sess(Date.now() + HOUR));
      await store.destroy('destroyed');
      await new Promise((r) => setTimeout(r, 50));
      await store.touch('gone', sess(Date.now() + HOUR));
      await store.touch('destroyed', sess(Date.now() + HOUR));
      // One key per command: on a cluster the two keys live in different slots.
      expect(await raw.exists(`${store.prefix}gone`)).toBe(0);
      // The destroyed one is a tombstone (an empty value): never a session again, whatever touch did to it.
      expect(await raw.get(`${store.prefix}destroyed`)).toBe('');
      expect(await store.get('destroyed')).toBeNull();
      await store.set('destroyed', sess(Date.now() + HOUR, { late: true }));
      expect(await raw.get(`${store.prefix}destroyed`)).toBe('');
    });

    it('destroy() leaves a tombstone expiring at the end of revocationWindowMs; without revocation it deletes', async () => {
      const store = open({ revocationWindowMs: 60_000 });
      await store.set('t', sess(Date.now() + HOUR));
      const before = Date.now();
      await store.destroy('t');
      const at = Number(await raw.call('PEXPIRETIME', `${store.prefix}t`));
      expect(at).toBeGreaterThanOrEqual(before + 60_000);
      expect(at).toBeLessThanOrEqual(Date.now() + 60_000 + 1);
      expect(await store.ids()).toEqual([]);
      expect(await store.all()).toEqual([]);
      const plain = open({ revocationWindowMs: false });
      expect(plain.supports.revocation).toBe(false);
      await plain.set('p', sess(Date.now() + HOUR));
      await plain.destroy('p');
      expect(await raw.exists(`${plain.prefix}p`)).toBe(0);
      await plain.set('p', sess(Date.now() + HOUR, { again: true }));
      expect(await plain.get('p')).not.toBeNull();
    });

    it('owner sets: outside the session prefix, expire with their last session, stale sids dropped', async () => {
      const store = open({ owner: 'user' });
      expect(store.ownerPrefix).toBe(`owners:${store.prefix}`);
      const far = Date.now() + HOUR;
      await store.set('o1', sess(far, { user: 'ann' }));
      await store.set('o2', sess(Date.now() + 60_000, { user: 'ann' }));
      const setKey = `${store.ownerPrefix}ann`;
      expect((await raw.smembers(setKey)).sort()).toEqual(['o1', 'o2']);
      expect(Number(await raw.call('PEXPIRETIME', setKey))).toBe(Math.ceil(far));
      // A touch beyond the set's expiry keeps the set alive with the session.
      await store.touch('o2', sess(far + 5_000, { user: 'ann' }));
      expect(Number(await raw.call('PEXPIRETIME', setKey))).toBe(Math.ceil(far + 5_000));
      expect(await store.ids()).not.toContain('ann');
      await store.destroy('o1');
      expect((await store.sessionsOf('ann')).map((s) => s.sid)).toEqual(['o2']);
      expect(await raw.smembers(setKey)).toEqual(['o2']);
      expect(() => open({ prefix: 'a:', ownerPrefix: 'a:owners:' })).toThrow(/overlap/);
      await store.clear();
      expect(await raw.exists(setKey)).toBe(0);
    });

    it('disableTTL writes keys without expiry and touch leaves them so', async () => {
      const store = open({ disableTTL: true });
      await store.set('forever', sess(Date.now() + HOUR, { n: 1 }));
      expect(await raw.pttl(`${store.prefix}forever`)).toBe(-1);
      await store.touch('forever', sess(Date.now() + 2 * HOUR));
      expect(await raw.pttl(`${store.prefix}forever`)).toBe(-1);
      expect(((await store.get('forever')) as unknown as { n: number }).n).toBe(1);
    });

    it('a prefix with glob characters matches only its own keys', async () => {
      const prefix = `${base}:g[ab]?*\\:`;
      const store = open({ prefix, scanCount: 5 });
      // Each of these matches the unescaped pattern `${prefix}*`, none starts with the literal prefix.
      const foreign = [`${base}:ga1x\\:1`, `${base}:gbZZZZ\\:2`, `${base}:ga?*\\:3`, `${base}:g[ab]Q*\\:4`, `${base}:gb?x\\:5`];
      for (const k of foreign) await raw.set(k, JSON.stringify(sess(Date.now() + HOUR, { foreign: k })), 'PX', 60_000);
      try {
        for (let i = 0; i < 12; i++) await store.set(`s${i}`, sess(Date.now() + HOUR, { mark: i }));
        expect((await store.ids()).sort()).toEqual(Array.from({ length: 12 }, (_, i) => `s${i}`).sort());
        expect(await store.length()).toBe(12);
        expect(Object.keys(await store.all())).toHaveLength(12);
        await store.clear();
        expect(await store.length()).toBe(0);
        for (const k of foreign) expect(await raw.exists(k)).toBe(1);
      } finally {
        for (const k of foreign) await raw.del(k);
      }
    });

    it('bulk operations cover every key across many slots and SCAN batches (no CROSSSLOT)', async () => {
      const store = open({ scanCount: 20 });
      const n = 150;
      const expires = Date.now() + HOUR;
      await Promise.all(Array.from({ length: n }, (_, i) => store.set(`k${i}`, sess(expires, { mark: i }))));
      // A touched session must come back from all() with its new expiry (read together with the value).
      await store.touch('k7', sess(expires + 1234));
      // connect-redis' shape: a list of sessions, each with its id.
      const all = Object.fromEntries((await store.all()).map((s) => [s.id, s as SessionData & { id: string; mark: number }]));
      expect(Object.keys(all)).toHaveLength(n);
      expect(all.k3!.mark).toBe(3);
      expect(new Date(all.k7!.cookie.expires as unknown as string).getTime()).toBe(expires + 1234);
      expect(await store.length()).toBe(n);
      expect(new Set(await store.ids()).size).toBe(n);
      await store.clear();
      expect(await store.length()).toBe(0);
    });

    it('never closes the client it was given', async () => {
      const store = new RedisStore({ client, prefix: `${base}:noquit:` });
      await store.close();
      const other = open();
      await other.set('still', sess(Date.now() + HOUR));
      expect(await other.get('still')).not.toBeNull();
    });
  });
}

describe.skipIf(!redis)('RedisStore: one round trip per operation (MONITOR)', () => {
  for (const which of ['ioredis', 'node-redis'] as const) {
    // get() writes GET and PEXPIRETIME together, without waiting for the first reply: one round trip.
    it.each([
      ['with revocation', {}, { set: ['EVALSHA'], get: ['GET', 'PEXPIRETIME'], touch: ['PEXPIREAT'], destroy: ['SET'] }],
      [
        'without revocation',
        { revocationWindowMs: false as const },
        { set: ['SET'], get: ['GET', 'PEXPIRETIME'], touch: ['PEXPIREAT'], destroy: ['DEL'] },
      ],
    ])(`set, touch and destroy send one command each, get() two pipelined (${which}, %s)`, async (_mode, options, expected) => {
      const prefix = `${uniqueName('rt')}:`;
      const client =
        which === 'ioredis'
          ? (new Redis(redis!.url) as unknown as RedisClient)
          : ((await createClient({ url: redis!.url })
              .on('error', () => {})
              .connect()) as unknown as RedisClient);
      const monitorConn = new Redis(redis!.url);
      const monitor = await monitorConn.monitor();
      const seen: string[][] = [];
      monitor.on('monitor', (_time: string, args: string[], source: string) => {
        // Commands a script runs show up with source "lua": they are not round trips.
        if (!source.includes('lua') && args.some((a) => a.includes(prefix))) seen.push(args);
      });
      const store = new RedisStore({ client, prefix, ...options });
      try {
        const expires = Date.now() + HOUR;
        const ops: Array<[string, number, () => Promise<unknown>]> = [
          ['set', 1, () => store.set('a', sess(expires))],
          ['get', 2, () => store.get('a')],
          ['touch', 1, () => store.touch('a', sess(expires + 1))],
          ['destroy', 1, () => store.destroy('a')],
        ];
        const counts: Record<string, string[]> = {};
        for (const [name, expected, run] of ops) {
          await run();
          // MONITOR output trails the replies: wait for what is expected (a command too many shows at the next step).
          const deadline = Date.now() + 10_000;
          while (seen.length < expected && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
          counts[name] = seen.splice(0).map((args) => args[0]!.toUpperCase());
        }
        expect(counts).toEqual(expected);
      } finally {
        await store.close();
        monitorConn.disconnect();
        monitor.disconnect();
        if (which === 'ioredis') await (client as unknown as Redis).quit();
        else await (client as unknown as ReturnType<typeof createClient>).close();
      }
    });
  }
});

describe.skipIf(!redis)('RedisStore: ioredis keyPrefix', () => {
  it('scans, lists and clears keys under the client keyPrefix', async () => {
    const keyPrefix = `${uniqueName('kp')}:`;
    const client = new Redis(redis!.url, { keyPrefix });
    const raw = new Redis(redis!.url);
    const store = new RedisStore({ client: client as unknown as RedisClient });
    try {
      await store.set('one', sess(Date.now() + HOUR, { n: 1 }));
      expect(await raw.exists(`${keyPrefix}sess:one`)).toBe(1);
      expect(await store.ids()).toEqual(['one']);
      expect((await store.all()).map((s) => s.id)).toEqual(['one']);
      await store.clear();
      expect(await raw.exists(`${keyPrefix}sess:one`)).toBe(0);
    } finally {
      await store.close();
      await client.quit();
      await raw.quit();
    }
  });
});

// connect-redis' own API, as its documentation and test suite use it (issue 14).
describe.skipIf(!redis)('RedisStore: connect-redis API', () => {
  it('has its public fields with its defaults, and all() resolves a list of sessions each with its id', async () => {
    const client = await createClient({ url: redis!.url })
      .on('error', () => {})
      .connect();
    const store = new RedisStore({ client, prefix: `${uniqueName('cr')}:` });
    try {
      expect(store.client).toBe(client);
      expect(store.ttl).toBe(86400);
      expect(store.scanCount).toBe(100);
      expect(store.serializer).toBe(JSON);
      expect(store.disableTouch).toBe(false);
      expect(store.disableTTL).toBe(false);
      const kept = { foo: 'bar', cookie: { originalMaxAge: null } };
      await store.set('123', kept as unknown as SessionData);
      expect(await store.get('123')).toEqual(kept);
      const expires = new Date(Date.now() + 60_000);
      await store.set('456', { cookie: { originalMaxAge: null, expires } } as unknown as SessionData);
      const all = (await store.all()).sort((a, b) => (a.id > b.id ? 1 : -1));
      expect(all).toEqual([
        { id: '123', foo: 'bar', cookie: { originalMaxAge: null } },
        { id: '456', cookie: { originalMaxAge: null, expires: expires.toISOString() } },
      ]);
      await store.clear();
    } finally {
      await store.close();
      await client.close();
    }
  });
});

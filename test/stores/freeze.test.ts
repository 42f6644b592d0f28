/**
 * Frozen servers (issue 13, defect 2): a server stopped with SIGSTOP keeps its connections open and answers
 * nothing, which only an operation timeout bounds. The first-round PostgresStore and MongoStore waited for the
 * whole outage (30 s and more), 'disconnect' came after 10 s on PostgreSQL and never on MongoDB. Now every
 * operation fails with SESSION_STORE_TIMEOUT within operationTimeoutMs, the store pings and reports
 * 'disconnect', and after the thaw 'connect' and the sessions written before the freeze.
 */
import { MongoClient } from 'mongodb';
import { createClient } from 'redis';
import { afterAll, describe, expect, it } from 'vitest';
import type { SessionStore } from '../../shared/index.js';
import { MongoStore } from '../../stores/mongo/index.js';
import { PostgresStore } from '../../stores/postgres/index.js';
import { RedisStore } from '../../stores/redis/index.js';
import { type ControllableServer, privateMongo, privatePostgres, privateRedis, skipIfMissing, uniqueName } from '../servers/index.js';
import { HOUR, sess } from './helpers.js';

const TIMEOUT_MS = 1000;

interface Case {
  name: string;
  server: () => Promise<ControllableServer>;
  open: (url: string) => Promise<{ store: SessionStore; close: () => Promise<void> }>;
}

const cases: Case[] = [
  {
    name: 'PostgresStore',
    server: privatePostgres,
    open: async (url) => {
      const store = new PostgresStore({
        conString: url,
        createTableIfMissing: true,
        operationTimeoutMs: TIMEOUT_MS,
        reconnectCheckIntervalMs: 100,
      });
      return { store, close: () => store.close() };
    },
  },
  {
    name: 'MongoStore',
    server: privateMongo,
    open: async (url) => {
      const client = new MongoClient(url, { serverSelectionTimeoutMS: 2000 });
      const store = new MongoStore({ client, dbName: uniqueName('freeze'), operationTimeoutMs: TIMEOUT_MS, reconnectCheckIntervalMs: 100 });
      return { store, close: async () => (await store.close(), await client.close()) };
    },
  },
  {
    name: 'RedisStore (node-redis)',
    server: () => privateRedis(),
    open: async (url) => {
      const client = await createClient({ url })
        .on('error', () => {})
        .connect();
      const store = new RedisStore({ client, operationTimeoutMs: TIMEOUT_MS, reconnectCheckIntervalMs: 100 });
      return { store, close: async () => (await store.close(), await client.close().catch(() => {})) };
    },
  },
];

/** Polls `condition` every 10 ms; fails after `ms`. */
async function until(condition: () => boolean, what: string, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`${what} did not happen within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

for (const c of cases) {
  const kind = c.name.startsWith('Postgres') ? 'postgres' : c.name.startsWith('Mongo') ? 'mongo' : 'redis';
  const server = await skipIfMissing(kind, c.server);
  describe.skipIf(!server)(`${c.name}: a frozen server (SIGSTOP) [${server?.description}]`, () => {
    afterAll(async () => {
      await server?.thaw();
      await server?.close();
    });

    it(
      'fails every operation within operationTimeoutMs, reports disconnect, and recovers after the thaw',
      { timeout: 60_000 },
      async () => {
        const { store, close } = await c.open(server!.url);
        const events: string[] = [];
        store.on('disconnect', () => events.push('disconnect'));
        store.on('connect', () => events.push('connect'));
        store.on('error', () => {});
        const unhandled: unknown[] = [];
        const onUnhandled = (err: unknown): void => void unhandled.push(err);
        process.on('unhandledRejection', onUnhandled);
        try {
          await store.set('before', sess(Date.now() + HOUR, { v: 1 }));
          await server!.freeze();
          const t0 = Date.now();
          const outcomes = await Promise.all(
            [store.get('before'), store.set('during', sess(Date.now() + HOUR)), store.touch('before', sess(Date.now() + 2 * HOUR))].map(
              (op) =>
                op.then(
                  () => ({ code: 'ok', ms: Date.now() - t0 }),
                  (err: { code?: string }) => ({ code: err.code, ms: Date.now() - t0 }),
                ),
            ),
          );
          const slowest = Math.max(...outcomes.map((o) => o.ms));
          await until(() => events.includes('disconnect'), "'disconnect'", 10_000);
          const disconnectedAfter = Date.now() - t0;
          await server!.thaw();
          await until(() => events.at(-1) === 'connect', "'connect' after the thaw", 20_000);
          console.log(
            `[freeze] ${c.name}: operations failed after ${outcomes.map((o) => `${o.ms} ms (${o.code})`).join(', ')}; ` +
              `'disconnect' ${disconnectedAfter} ms after the freeze`,
          );
          for (const o of outcomes) expect(o.code).toBe('SESSION_STORE_TIMEOUT');
          // The bound holds whatever the load: the timeout plus the sweep's tick, with a wide margin for a busy machine.
          expect(slowest).toBeLessThan(TIMEOUT_MS + 2000);
          expect(await store.get('before')).toMatchObject({ v: 1 });
          expect(unhandled).toEqual([]);
        } finally {
          process.off('unhandledRejection', onUnhandled);
          await server!.thaw();
          await close();
        }
      },
    );
  });
}

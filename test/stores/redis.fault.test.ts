/**
 * Redis goes away under load: an express app keeps serving while redis-server is stopped and started again.
 * Nothing may crash or leave an unhandled rejection; requests while Redis is down fail cleanly (500, or served
 * without a session once the store reported 'disconnect'); afterwards sessions written before the outage are
 * there again (the server persists them with an fsync'ed AOF) and requests succeed.
 */
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import express from 'express';
import session from 'express-session';
import { Redis } from 'ioredis';
import { createClient } from 'redis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisStore, type RedisClient } from '../../stores/redis/index.js';
import { privateRedis, skipIfMissing, type ControllableServer } from '../servers/index.js';

const server = await skipIfMissing('redis', () => privateRedis({ persist: true }));

function summary(list: Outcome[]): string {
  const counts = new Map<string, number>();
  for (const o of list) {
    const key = o.status === 200 ? (o.user ? '200+session' : '200 no session') : String(o.status);
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return [...counts].map(([k, n]) => `${n}×${k}`).join(', ');
}

type Outcome = {
  phase: 'up' | 'stopping' | 'down' | 'starting' | 'back';
  status: number | 'error';
  user: string | null;
  error?: string;
};

describe.skipIf(!server)('RedisStore: Redis stops and starts under load', () => {
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown): void => void unhandled.push(reason);
  beforeAll(() => void process.on('unhandledRejection', onUnhandled));
  afterAll(async () => {
    process.off('unhandledRejection', onUnhandled);
    await (server as ControllableServer | undefined)?.close();
  });

  it('a Redis that does not answer fails the operation after operationTimeoutMs and reports it; a lost one fails at once', async () => {
    const redis = server!;
    await redis.start().catch(() => {});
    // node-redis queues commands while reconnecting: without the store's guards these would hang.
    const client = await createClient({ url: redis.url })
      .on('error', () => {})
      .connect();
    const admin = await createClient({ url: redis.url })
      .on('error', () => {})
      .connect();
    const store = new RedisStore({
      client: client as unknown as RedisClient,
      prefix: 'fault-timeout:',
      operationTimeoutMs: 200,
      reconnectCheckIntervalMs: 50,
    });
    try {
      await store.ready();
      const paused = new Promise((resolve) => store.once('disconnect', resolve));
      const resumed = new Promise((resolve) => store.once('connect', resolve));
      await admin.sendCommand(['CLIENT', 'PAUSE', '1000', 'ALL']);
      let t0 = Date.now();
      await expect(store.get('x')).rejects.toMatchObject({ code: 'SESSION_STORE_TIMEOUT' });
      expect(Date.now() - t0).toBeLessThan(900);
      // The timeout made the store ping: no answer, so 'disconnect'; the pause ends, a ping answers, 'connect'.
      await paused;
      await resumed;
      expect(await store.get('x')).toBeNull();

      const lost = new Promise((resolve) => store.once('disconnect', resolve));
      await redis.stop();
      await lost;
      t0 = Date.now();
      await expect(store.set('y', { cookie: { expires: null } } as never)).rejects.toMatchObject({ code: 'SESSION_STORE_BACKEND' });
      expect(Date.now() - t0).toBeLessThan(100);
      const back = new Promise((resolve) => store.once('connect', resolve));
      await redis.start();
      await back;
      expect(await store.get('x')).toBeNull();
      expect(unhandled).toEqual([]);
    } finally {
      await store.close();
      await client.close().catch(() => {});
      await admin.close().catch(() => {});
    }
  }, 30_000);

  for (const family of ['ioredis', 'node-redis'] as const) {
    it(`keeps serving and recovers (${family})`, { timeout: 60_000 }, async () => {
      const redis = server!;
      await redis.start().catch(() => {}); // running already unless the previous case left it stopped
      // The settings the README recommends: fail fast instead of queueing behind a dead connection.
      const client: RedisClient =
        family === 'ioredis'
          ? (new Redis(redis.url, { maxRetriesPerRequest: 1 }).on('error', () => {}) as unknown as RedisClient)
          : ((await createClient({ url: redis.url })
              .on('error', () => {})
              .connect()) as unknown as RedisClient);
      if (family === 'ioredis') await new Promise((resolve) => (client as unknown as Redis).once('ready', resolve));
      const store = new RedisStore({ client, prefix: `fault-${family}:`, operationTimeoutMs: 2_000 });
      const events: string[] = [];
      store.on('disconnect', () => events.push('disconnect'));
      store.on('connect', () => events.push('connect'));

      const app = express();
      app.use(session({ store, secret: 'fault', resave: false, saveUninitialized: false, cookie: { maxAge: 3_600_000 } }));
      app.post('/login/:user', (req, res) => {
        (req.session as unknown as { user: string }).user = req.params.user;
        res.send('ok');
      });
      app.post('/visit', (req, res) => {
        // No req.session: express-session skipped the store because it reported 'disconnect'.
        const s = req.session as unknown as { user?: string; visits?: number } | undefined;
        if (s) s.visits = (s.visits ?? 0) + 1;
        res.json({ user: s?.user ?? null });
      });
      app.get('/me', (req, res) => {
        res.json({ user: (req.session as unknown as { user?: string } | undefined)?.user ?? null });
      });
      app.use((_err: unknown, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
        // express-session reports a failed save after the response has gone out: nothing left to answer then.
        if (res.headersSent) return;
        res.status(500).json({ error: 'store unavailable' });
      });
      const http: Server = app.listen(0, '127.0.0.1');
      await new Promise((resolve) => http.once('listening', resolve));
      const base = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;

      const users = ['ann', 'bob', 'cid'];
      const cookies = new Map<string, string>();
      try {
        for (const user of users) {
          const res = await fetch(`${base}/login/${user}`, { method: 'POST' });
          expect(res.status).toBe(200);
          await res.text(); // the body comes after the store's save completes; the headers come before
          cookies.set(user, res.headers.get('set-cookie')!.split(';')[0]!);
        }

        let phase: Outcome['phase'] = 'up';
        const outcomes: Outcome[] = [];
        let running = true;
        const load = (async () => {
          let i = 0;
          while (running) {
            const user = users[i++ % users.length]!;
            const path = i % 2 ? '/me' : '/visit';
            const at = phase;
            try {
              const res = await fetch(base + path, {
                method: path === '/me' ? 'GET' : 'POST',
                headers: { cookie: cookies.get(user)! },
                signal: AbortSignal.timeout(10_000),
              });
              const body = (await res.json()) as { user?: string | null };
              outcomes.push({ phase: at, status: res.status, user: body.user ?? null });
            } catch (err) {
              const cause = (err as { cause?: unknown }).cause;
              outcomes.push({ phase: at, status: 'error', user: null, error: `${String(err)} ${cause ? String(cause) : ''}` });
            }
            await sleep(10);
          }
        })();

        // Each phase lasts until the load has seen it, not for a fixed time a slow machine could outrun.
        const seen = async (what: (o: Outcome) => boolean, label: string): Promise<void> => {
          const until = Date.now() + 20_000;
          while (!outcomes.some(what)) {
            if (Date.now() > until) throw new Error(`no request ${label} within 20 s`);
            await sleep(20);
          }
        };
        await seen((o) => o.phase === 'up', 'while Redis was up');
        phase = 'stopping';
        await redis.stop();
        phase = 'down';
        await seen((o) => o.phase === 'down' && o.status === 200 && o.user === null, 'served without a session while Redis was down');
        phase = 'starting';
        await redis.start();
        // Reconnect backoff tops out at about 2 s in both clients.
        const deadline = Date.now() + 15_000;
        while (!store.connected && Date.now() < deadline) await sleep(50);
        expect(store.connected).toBe(true);
        phase = 'back';
        await seen((o) => o.phase === 'back', 'after Redis was back');
        running = false;
        await load;

        const down = outcomes.filter((o) => o.phase === 'down');
        // Around the transitions either outcome is right, as long as it is a clean one.
        const stopping = outcomes.filter((o) => o.phase === 'stopping' || o.phase === 'starting');
        const up = outcomes.filter((o) => o.phase === 'up');
        const back = outcomes.filter((o) => o.phase === 'back');
        expect(up.length).toBeGreaterThan(0);
        expect(down.length).toBeGreaterThan(0);
        expect(back.length).toBeGreaterThan(0);
        expect(up.every((o) => o.status === 200 && o.user !== null)).toBe(true);
        // While down: a clean 500, or served without a session; never a hang, a reset connection or a crash.
        for (const o of down) expect(o.status === 500 || (o.status === 200 && o.user === null), JSON.stringify(o)).toBe(true);
        expect(down.some((o) => o.status === 200 && o.user === null)).toBe(true);
        for (const o of stopping) expect(o.status === 200 || o.status === 500, JSON.stringify(o)).toBe(true);
        console.log(
          family,
          Object.fromEntries(
            ['up', 'stopping', 'down', 'starting', 'back'].map((p) => [p, summary(outcomes.filter((o) => o.phase === p))]),
          ),
        );
        expect(
          back.every((o) => o.status === 200 && o.user !== null),
          JSON.stringify(back),
        ).toBe(true);
        expect(events.slice(0, 1)).toEqual(['disconnect']);
        expect(events.at(-1)).toBe('connect');

        // Sessions written before the outage survived it.
        for (const user of users) {
          const res = await fetch(`${base}/me`, { headers: { cookie: cookies.get(user)! } });
          expect(await res.json()).toEqual({ user });
        }
        expect(unhandled).toEqual([]);
      } finally {
        http.close();
        await store.close();
        if (family === 'ioredis') (client as unknown as Redis).disconnect();
        else await (client as unknown as ReturnType<typeof createClient>).close().catch(() => {});
      }
    });
  }
});

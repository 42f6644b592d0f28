// MariaDB/MySQL restarts and freezes (SIGSTOP) while requests flow through an express app: no crash, no unhandled
// rejection, no request waiting past the operation timeout, recovery after, and no acknowledged session lost.
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import express from 'express';
import session from 'express-session';
import mysql from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MySQLStore } from '../../stores/mysql/index.js';
import { privateMysql, skipIfMissing, type ControllableServer } from '../servers/index.js';
import { withDatabase } from './mysql-helpers.js';

const OPERATION_TIMEOUT_MS = 1000;
const dbServer = await skipIfMissing('mysql', () => privateMysql());

interface Browser {
  cookie?: string;
  acked: number; // the highest counter value the app confirmed as saved
}

describe.skipIf(!dbServer)(`MySQLStore across a restart and a freeze [${dbServer?.description}]`, () => {
  const server = dbServer as ControllableServer;
  let store: MySQLStore;
  let http: Server;
  let base: string;
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown) => unhandled.push(reason);
  const events: string[] = [];

  beforeAll(async () => {
    process.on('unhandledRejection', onUnhandled);
    const admin = await mysql.createConnection({ uri: server.url });
    await admin.query('CREATE DATABASE IF NOT EXISTS fault');
    await admin.end();
    store = new MySQLStore({
      uri: withDatabase(server.url, 'fault'),
      poolOptions: { connectionLimit: 5, connectTimeout: 2000 },
      checkExpirationInterval: 200,
      reconnectCheckIntervalMs: 100,
      operationTimeoutMs: OPERATION_TIMEOUT_MS,
    });
    store.on('disconnect', () => events.push('disconnect'));
    store.on('connect', () => events.push('connect'));
    store.on('error', () => {}); // background failures (pruning while down) are expected here
    await store.ready();

    const app = express();
    const sessions = session({ store, secret: 'fault', resave: false, saveUninitialized: false, cookie: { maxAge: 600_000 } });
    // express-session reports a failed end-of-request save/touch through next(err) *after* the response was written.
    const late: unknown[] = [];
    app.use((req, res, next) => sessions(req, res, (err?: unknown) => (err && res.headersSent ? void late.push(err) : next(err))));
    app.get('/inc', (req, res, next) => {
      // express-session leaves req.session unset while the store reports 'disconnect'.
      if (!req.session) return void res.status(503).send('store unavailable');
      const s = req.session as typeof req.session & { n?: number };
      s.n = (s.n ?? 0) + 1;
      // Save before answering: a 200 means the session is in the database.
      s.save((err) => (err ? next(err) : res.json({ n: s.n })));
    });
    app.get('/n', (req, res) => {
      if (!req.session) return void res.status(503).send('store unavailable');
      res.json({ n: (req.session as { n?: number }).n ?? 0 });
    });
    app.use((err: unknown, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
      if (!res.headersSent) res.status(500).send(String(err));
    });
    http = app.listen(0, '127.0.0.1');
    await new Promise((r) => http.once('listening', r));
    base = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    process.off('unhandledRejection', onUnhandled);
    await server?.thaw();
    http?.closeAllConnections();
    await new Promise((r) => http?.close(r));
    await store?.close();
    await server?.close();
  });

  async function request(b: Browser, path: string): Promise<{ status: number; body: string; ms: number }> {
    const t0 = Date.now();
    const res = await fetch(base + path, { headers: b.cookie ? { cookie: b.cookie } : {}, signal: AbortSignal.timeout(20_000) });
    const set = res.headers.get('set-cookie');
    if (set) b.cookie = set.split(';')[0];
    return { status: res.status, body: await res.text(), ms: Date.now() - t0 };
  }

  /** Traffic from `browsers` until `stop()`; checks every answer as it comes. */
  function traffic(browsers: Browser[], outage: { during: boolean; after: boolean }) {
    const statuses = new Map<number, number>();
    let running = true;
    let okAfter = 0;
    let slowest = 0;
    const loops = browsers.map(async (b) => {
      while (running) {
        let r: { status: number; body: string; ms: number };
        try {
          r = await request(b, '/inc');
        } catch (err) {
          running = false;
          throw new Error(`request failed at the HTTP level (the app hung or crashed): ${String(err)} ${String((err as Error).cause)}`);
        }
        statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
        if (outage.during) slowest = Math.max(slowest, r.ms);
        if (r.status === 200) {
          const n = JSON.parse(r.body).n as number;
          expect(n, 'a counter went backwards: an acknowledged write was lost').toBeGreaterThan(b.acked);
          b.acked = n;
          if (outage.after) okAfter++;
        } else {
          expect([500, 503]).toContain(r.status);
        }
        await new Promise((res) => setTimeout(res, 20));
      }
    });
    return {
      statuses,
      okAfter: () => okAfter,
      slowest: () => slowest,
      stop: async () => {
        running = false;
        await Promise.all(loops);
      },
    };
  }

  async function settle(browsers: Browser[], load: ReturnType<typeof traffic>): Promise<void> {
    const deadline = Date.now() + 30_000;
    while (load.okAfter() < 3 * browsers.length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    await load.stop();
    expect(load.okAfter()).toBeGreaterThanOrEqual(3 * browsers.length);
    expect(events.at(-1)).toBe('connect');
    expect(store.connected).toBe(true);
    // Every browser still has at least what was acknowledged to it.
    for (const b of browsers) {
      const r = await request(b, '/n');
      expect(r.status).toBe(200);
      expect(JSON.parse(r.body).n).toBeGreaterThanOrEqual(b.acked);
    }
    expect(unhandled).toEqual([]);
  }

  const browsers: Browser[] = Array.from({ length: 8 }, () => ({ acked: 0 }));

  it('keeps serving across a restart, fails cleanly while down, recovers, loses nothing acknowledged', { timeout: 90_000 }, async () => {
    for (const b of browsers) {
      const r = await request(b, '/inc');
      expect(r.status).toBe(200);
      b.acked = JSON.parse(r.body).n;
    }
    const outage = { during: false, after: false };
    const load = traffic(browsers, outage);
    await new Promise((r) => setTimeout(r, 500));
    const t0 = Date.now();
    outage.during = true;
    await server.stop();
    await new Promise((r) => setTimeout(r, 1500)); // requests hit a dead server meanwhile
    await server.start();
    outage.during = false;
    outage.after = true;
    const downMs = Date.now() - t0;
    await settle(browsers, load);
    console.log(
      `[fault] restart: down ${downMs} ms; responses ${JSON.stringify(Object.fromEntries(load.statuses))}; events ${events.join(',')}; ` +
        `${load.okAfter()} successful increments after restart`,
    );
    expect(load.statuses.get(200) ?? 0).toBeGreaterThan(0);
    expect((load.statuses.get(500) ?? 0) + (load.statuses.get(503) ?? 0)).toBeGreaterThan(0); // the outage was seen
    expect(events).toContain('disconnect');
  });

  it(
    'a frozen server (SIGSTOP) delays no request much past the operation timeout; all recovers after the thaw',
    { timeout: 90_000 },
    async () => {
      events.length = 0;
      const outage = { during: false, after: false };
      const load = traffic(browsers, outage);
      await new Promise((r) => setTimeout(r, 500));
      outage.during = true;
      await server.freeze();
      const t0 = Date.now();
      while (!events.includes('disconnect') && Date.now() - t0 < 15_000) await new Promise((r) => setTimeout(r, 20));
      const disconnectedAfter = Date.now() - t0;
      await new Promise((r) => setTimeout(r, 1500)); // requests meet a frozen or disconnected store meanwhile
      await server.thaw();
      outage.during = false;
      outage.after = true;
      await settle(browsers, load);
      console.log(
        `[fault] freeze: 'disconnect' ${disconnectedAfter} ms after the freeze; slowest request during it ${load.slowest()} ms; ` +
          `responses ${JSON.stringify(Object.fromEntries(load.statuses))}; events ${events.join(',')}`,
      );
      expect(events).toContain('disconnect');
      // A request makes at most a get and a save, each bounded by the timeout; the margin is for a loaded machine.
      expect(load.slowest()).toBeLessThan(2 * OPERATION_TIMEOUT_MS + 3000);
    },
  );
});

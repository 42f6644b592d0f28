// PostgreSQL restarts while requests flow through an express app: no crash, no unhandled rejection, clean
// failures while it is down, recovery after, and no acknowledged session lost.
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import express from 'express';
import session from 'express-session';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PostgresStore } from '../../stores/postgres/index.js';
import { privatePostgres, skipIfMissing, type ControllableServer } from '../servers/index.js';

const pgServer = await skipIfMissing('postgres', () => privatePostgres());

interface Browser {
  cookie?: string;
  acked: number; // the highest counter value the app confirmed as saved
}

describe.skipIf(!pgServer)(`PostgresStore across a PostgreSQL restart [${pgServer?.description}]`, () => {
  const server = pgServer as ControllableServer;
  let store: PostgresStore;
  let http: Server;
  let base: string;
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown) => unhandled.push(reason);
  const events: string[] = [];

  beforeAll(async () => {
    process.on('unhandledRejection', onUnhandled);
    store = new PostgresStore({
      conObject: { connectionString: server.url, max: 5, connectionTimeoutMillis: 2000 },
      createTableIfMissing: true,
      pruneSessionInterval: 0.2,
      reconnectCheckIntervalMs: 100,
    });
    store.on('disconnect', () => events.push('disconnect'));
    store.on('connect', () => events.push('connect'));
    store.on('error', () => {}); // background failures (pruning while down) are expected here
    await store.ready();

    const app = express();
    const sessions = session({ store, secret: 'fault', resave: false, saveUninitialized: false, cookie: { maxAge: 600_000 } });
    // express-session reports a failed end-of-request save/touch through next(err) *after* the response was written;
    // Express then runs its final handler, which destroys the (keep-alive) socket. Not the store's business: log it.
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
    http?.closeAllConnections();
    await new Promise((r) => http?.close(r));
    await store?.close();
    await server?.close();
  });

  async function request(b: Browser, path: string): Promise<{ status: number; body: string }> {
    const res = await fetch(base + path, { headers: b.cookie ? { cookie: b.cookie } : {}, signal: AbortSignal.timeout(10_000) });
    const set = res.headers.get('set-cookie');
    if (set) b.cookie = set.split(';')[0];
    return { status: res.status, body: await res.text() };
  }

  it('keeps serving, fails cleanly while down, recovers, loses nothing acknowledged', { timeout: 90_000 }, async () => {
    const browsers: Browser[] = Array.from({ length: 8 }, () => ({ acked: 0 }));
    for (const b of browsers) {
      const r = await request(b, '/inc');
      expect(r.status).toBe(200);
      b.acked = JSON.parse(r.body).n;
    }

    const statuses = new Map<number, number>();
    let running = true;
    let restarted = false;
    let okAfterRestart = 0;
    const traffic = browsers.map(async (b) => {
      while (running) {
        let r: { status: number; body: string };
        try {
          r = await request(b, '/inc');
        } catch (err) {
          running = false;
          throw new Error(`request failed at the HTTP level (the app hung or crashed): ${String(err)} ${String((err as Error).cause)}`);
        }
        statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
        if (r.status === 200) {
          const n = JSON.parse(r.body).n as number;
          expect(n, 'a counter went backwards: an acknowledged write was lost').toBeGreaterThan(b.acked);
          b.acked = n;
          if (restarted) okAfterRestart++;
        } else {
          expect([500, 503]).toContain(r.status);
        }
        await new Promise((res) => setTimeout(res, 20));
      }
    });

    await new Promise((r) => setTimeout(r, 500));
    const t0 = Date.now();
    await server.stop();
    await new Promise((r) => setTimeout(r, 1500)); // requests hit a dead server meanwhile
    await server.start();
    const downMs = Date.now() - t0;
    restarted = true;
    const deadline = Date.now() + 30_000;
    while (okAfterRestart < 3 * browsers.length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    running = false;
    await Promise.all(traffic);

    console.log(
      `fault: down ${downMs} ms; responses ${JSON.stringify(Object.fromEntries(statuses))}; events ${events.join(',')}; ` +
        `${okAfterRestart} successful increments after restart`,
    );
    expect(statuses.get(200) ?? 0).toBeGreaterThan(0);
    expect((statuses.get(500) ?? 0) + (statuses.get(503) ?? 0)).toBeGreaterThan(0); // the outage was seen
    expect(okAfterRestart).toBeGreaterThanOrEqual(3 * browsers.length);
    expect(events).toContain('disconnect');
    expect(events.at(-1)).toBe('connect');
    expect(store.connected).toBe(true);

    // Every browser still has at least what was acknowledged to it.
    for (const b of browsers) {
      const r = await request(b, '/n');
      expect(r.status).toBe(200);
      expect(JSON.parse(r.body).n).toBeGreaterThanOrEqual(b.acked);
    }
    expect(unhandled).toEqual([]);
  });
});

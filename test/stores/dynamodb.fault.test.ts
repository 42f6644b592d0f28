// The DynamoDB server (a dynalite child process on LevelDB) is killed and restarted, then frozen and thawed, while
// requests flow through an express app: no crash, no unhandled rejection, every request answered within a bound,
// clean failures while it is down, recovery after, and no acknowledged session lost.
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import express from 'express';
import session from 'express-session';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoDBStore } from '../../stores/dynamodb/index.js';
import { privateDynamoDB, skipIfMissing, type ControllableServer } from '../servers/index.js';
import { dynamoClientConfig } from '../servers/probe.js';

const dynamo = await skipIfMissing('dynamodb', () => privateDynamoDB());

/** The store's bound on one request; every HTTP request must be answered well within a few of these. */
const OPERATION_TIMEOUT_MS = 1000;
/** Generous: the bound is what matters (a hang would be the whole outage), not the speed of a loaded machine. */
const LATENCY_BOUND_MS = 4 * OPERATION_TIMEOUT_MS + 3000;

interface Browser {
  cookie?: string;
  acked: number; // the highest counter value the app confirmed as saved
}

describe.skipIf(!dynamo)(`DynamoDBStore across a server kill and a freeze [${dynamo?.description}]`, () => {
  const server = dynamo as ControllableServer;
  let client: DynamoDBClient;
  let store: DynamoDBStore;
  let http: Server;
  let base: string;
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown) => unhandled.push(reason);
  const events: string[] = [];

  beforeAll(async () => {
    process.on('unhandledRejection', onUnhandled);
    client = new DynamoDBClient(dynamoClientConfig(server.url, 2));
    store = new DynamoDBStore({
      client,
      table: 'fault_sessions',
      createTable: true,
      operationTimeoutMs: OPERATION_TIMEOUT_MS,
      reconnectCheckIntervalMs: 100,
    });
    store.on('disconnect', () => events.push('disconnect'));
    store.on('connect', () => events.push('connect'));
    store.on('error', () => {});
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
    http?.closeAllConnections();
    await new Promise((r) => http?.close(r));
    await store?.close();
    client?.destroy();
    await server?.close();
  });

  let slowest = 0;
  async function request(b: Browser, path: string): Promise<{ status: number; body: string }> {
    const t0 = Date.now();
    const res = await fetch(base + path, { headers: b.cookie ? { cookie: b.cookie } : {}, signal: AbortSignal.timeout(30_000) });
    const set = res.headers.get('set-cookie');
    if (set) b.cookie = set.split(';')[0];
    const body = await res.text();
    slowest = Math.max(slowest, Date.now() - t0);
    return { status: res.status, body };
  }

  /** Runs traffic from `browsers` while `outage` runs; resolves the statuses seen once `okAfter` requests succeeded after it. */
  async function underLoad(browsers: Browser[], outage: () => Promise<void>): Promise<{ statuses: Map<number, number>; downMs: number }> {
    const statuses = new Map<number, number>();
    let running = true;
    let recovered = false;
    let okAfter = 0;
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
          if (recovered) okAfter++;
        } else {
          expect([500, 503]).toContain(r.status);
        }
        await new Promise((res) => setTimeout(res, 20));
      }
    });
    await new Promise((r) => setTimeout(r, 500));
    const t0 = Date.now();
    await outage();
    const downMs = Date.now() - t0;
    recovered = true;
    const deadline = Date.now() + 30_000;
    while (okAfter < 3 * browsers.length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    running = false;
    await Promise.all(traffic);
    expect(okAfter, 'the app did not recover after the outage').toBeGreaterThanOrEqual(3 * browsers.length);
    return { statuses, downMs };
  }

  async function checkAcked(browsers: Browser[]): Promise<void> {
    for (const b of browsers) {
      const r = await request(b, '/n');
      expect(r.status).toBe(200);
      expect(JSON.parse(r.body).n).toBeGreaterThanOrEqual(b.acked);
    }
  }

  const browsers: Browser[] = Array.from({ length: 8 }, () => ({ acked: 0 }));

  it('SIGKILL and restart under load: clean failures, recovery, nothing acknowledged lost', { timeout: 120_000 }, async () => {
    for (const b of browsers) {
      const r = await request(b, '/inc');
      expect(r.status).toBe(200);
      b.acked = JSON.parse(r.body).n;
    }
    const { statuses, downMs } = await underLoad(browsers, async () => {
      await (server.kill ? server.kill() : server.stop());
      await new Promise((r) => setTimeout(r, 1500)); // requests hit a dead server meanwhile
      await server.start();
    });
    console.log(
      `fault (kill): down ${downMs} ms; responses ${JSON.stringify(Object.fromEntries(statuses))}; events ${events.join(',')}; slowest ${slowest} ms`,
    );
    expect(statuses.get(200) ?? 0).toBeGreaterThan(0);
    expect((statuses.get(500) ?? 0) + (statuses.get(503) ?? 0)).toBeGreaterThan(0); // the outage was seen
    expect(events).toContain('disconnect');
    expect(events.at(-1)).toBe('connect');
    expect(store.connected).toBe(true);
    expect(slowest, 'a request waited past the operation timeout bound').toBeLessThan(LATENCY_BOUND_MS);
    await checkAcked(browsers);
    expect(unhandled).toEqual([]);
  });

  it('a frozen server (SIGSTOP): requests fail within the operation timeout, recovery after thaw', { timeout: 120_000 }, async () => {
    slowest = 0;
    events.length = 0;
    const { statuses, downMs } = await underLoad(browsers, async () => {
      await server.freeze();
      // Long enough for several operation timeouts to pass.
      await new Promise((r) => setTimeout(r, 3 * OPERATION_TIMEOUT_MS));
      await server.thaw();
    });
    console.log(
      `fault (freeze): frozen ${downMs} ms; responses ${JSON.stringify(Object.fromEntries(statuses))}; events ${events.join(',')}; slowest ${slowest} ms`,
    );
    expect((statuses.get(500) ?? 0) + (statuses.get(503) ?? 0)).toBeGreaterThan(0);
    expect(store.connected).toBe(true);
    expect(slowest, 'a request hung on the frozen server').toBeLessThan(LATENCY_BOUND_MS);
    await checkAcked(browsers);
    expect(unhandled).toEqual([]);
  });
});

/**
 * MongoStore when the server goes away: a private server (FerretDB here) is stopped and started again while
 * requests flow through an express app. Nothing may crash, hang or leak an unhandled rejection; requests fail
 * cleanly (500 from the error handler) or run without a session while the store reports 'disconnect'; after
 * 'connect' the same sessions are back.
 */
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import express from 'express';
import session from 'express-session';
import { MongoClient } from 'mongodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isSessionStoreError } from '../../shared/errors.js';
import { MongoStore } from '../../stores/mongo/index.js';
import { type ControllableServer, privateMongo, skipIfMissing, uniqueName } from '../servers/index.js';

const server = await skipIfMissing('mongo', privateMongo);

/** Resolves when `store` emits `event`, or rejects after `ms`. */
function once(store: MongoStore, event: 'connect' | 'disconnect', ms: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no '${event}' within ${ms} ms`)), ms);
    store.once(event, () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

describe.skipIf(!server)(`MongoStore fault tolerance [mongo: ${server?.description ?? 'none'}]`, () => {
  const srv = server as ControllableServer;
  const dbName = uniqueName('mongo_fault');
  const unhandled: unknown[] = [];
  const onUnhandled = (err: unknown): void => void unhandled.push(err);
  let client: MongoClient;
  let store: MongoStore;
  let http: Server;
  let base: string;
  const events: string[] = [];
  const storeErrors: unknown[] = [];
  const appErrors: unknown[] = [];

  beforeAll(async () => {
    process.on('unhandledRejection', onUnhandled);
    process.on('uncaughtException', onUnhandled);
    // Small timeouts: during the outage requests must fail fast rather than queue for 30 s.
    client = new MongoClient(srv.url, { serverSelectionTimeoutMS: 500, heartbeatFrequencyMS: 500, connectTimeoutMS: 1000 });
    store = new MongoStore({ client, dbName, autoRemove: 'interval', autoRemoveInterval: 0.005 });
    store.on('connect', () => events.push('connect'));
    store.on('disconnect', () => events.push('disconnect'));
    store.on('error', (err) => storeErrors.push(err));
    await store.ready();

    const app = express();
    app.use(session({ store, secret: 'fault-secret', resave: false, saveUninitialized: false, cookie: { maxAge: 60_000 } }));
    app.get('/login', (req, res) => {
      (req.session as unknown as Record<string, unknown>).user = 'alice';
      res.send('ok');
    });
    app.get('/count', (req, res) => {
      if (!req.session) return void res.send('no session');
      const s = req.session as unknown as { n?: number };
      s.n = (s.n ?? 0) + 1;
      res.send(String(s.n));
    });
    app.use((err: unknown, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
      appErrors.push(err);
      // express-session reports a failed save after the response has gone out: nothing left to answer then.
      if (!res.headersSent) res.status(500).send(isSessionStoreError(err) ? err.code : 'unexpected');
    });
    http = app.listen(0, '127.0.0.1');
    await new Promise((resolve) => http.once('listening', resolve));
    base = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    await new Promise((resolve) => {
      http?.close(resolve);
      http?.closeAllConnections();
    });
    await store?.close();
    await client?.close();
    await srv.close();
    process.off('unhandledRejection', onUnhandled);
    process.off('uncaughtException', onUnhandled);
  });

  it('survives a stop/start under load and recovers its sessions', async () => {
    const login = await fetch(`${base}/login`);
    await login.text(); // the body comes after the store's save completes; the headers come before
    const cookie = login.headers.get('set-cookie')!.split(';')[0]!;
    expect(await (await fetch(`${base}/count`, { headers: { cookie } })).text()).toBe('1');

    const results: Array<{ status: number; body: string; ms: number }> = [];
    let running = true;
    const load = (async () => {
      while (running) {
        const t0 = Date.now();
        try {
          const res = await fetch(`${base}/count`, { headers: { cookie }, signal: AbortSignal.timeout(10_000) });
          results.push({ status: res.status, body: await res.text(), ms: Date.now() - t0 });
        } catch (err) {
          results.push({ status: 0, body: String(err), ms: Date.now() - t0 });
        }
        await sleep(20);
      }
    })();

    await sleep(200);
    const down = once(store, 'disconnect', 10_000).then(() => Date.now());
    const tStop = Date.now();
    await srv.stop();
    const tStopped = Date.now();
    const disconnectMs = Math.max(0, (await down) - tStopped);
    expect(store.connected).toBe(false);

    // A direct call while down fails fast and cleanly.
    const t0 = Date.now();
    const err = await store.get('anything').catch((e: unknown) => e);
    const failMs = Date.now() - t0;
    expect(isSessionStoreError(err, 'SESSION_STORE_BACKEND')).toBe(true);
    await sleep(500);

    const up = once(store, 'connect', 20_000);
    const tStart = Date.now();
    await srv.start();
    await up;
    const reconnectMs = Date.now() - tStart;
    await sleep(300);
    running = false;
    await load;

    const after = await (await fetch(`${base}/count`, { headers: { cookie } })).text();
    const statuses = results.map((r) => r.status);
    const counts = results.filter((r) => r.status === 200 && /^\d+$/.test(r.body)).map((r) => Number(r.body));
    console.log(
      `[mongo fault] ${results.length} requests: ${counts.length} counted, ` +
        `${results.filter((r) => r.body === 'no session').length} without session (disconnected), ` +
        `${statuses.filter((s) => s === 500).length} failed with 500; stop() took ${tStopped - tStop} ms, 'disconnect' ${disconnectMs} ms after it, ` +
        `get() while down failed in ${failMs} ms, reconnect after ${reconnectMs} ms, slowest request ${Math.max(...results.map((r) => r.ms))} ms`,
    );

    expect(unhandled).toEqual([]);
    expect(statuses.every((s) => s === 200 || s === 500)).toBe(true); // no hung or dropped request
    expect(results.filter((r) => r.status === 500).every((r) => /^SESSION_STORE_(BACKEND|TIMEOUT)$/.test(r.body))).toBe(true);
    // While the server restarts the driver may see it come and go more than once: every change is reported,
    // alternating, starting with the outage and ending connected.
    expect(events[0]).toBe('disconnect');
    expect(events.at(-1)).toBe('connect');
    expect(events.every((e, i) => e === (i % 2 === 0 ? 'disconnect' : 'connect'))).toBe(true);
    // The session outlived the outage (the server keeps its data) and counting resumed where it stopped.
    expect(Number(after)).toBeGreaterThan(Math.max(1, ...counts));
    expect(failMs).toBeLessThan(3_000);
    expect(
      storeErrors.filter((e) => !isSessionStoreError(e, 'SESSION_STORE_BACKEND') && !isSessionStoreError(e, 'SESSION_STORE_TIMEOUT')),
    ).toEqual([]);
  });
});

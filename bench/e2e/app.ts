/**
 * The end-to-end app, run in its own process (forked by bench/e2e/harness.ts with an IPC channel): express 5 and
 * express-session (`resave: false`, `saveUninitialized: false`) on one contender's store.
 *
 *   POST /login?u=<n>  logs user n in (the session is created and saved: set)
 *   GET  /read         a page that only reads the session: get + touch
 *   POST /write        a page that changes the session: get + set
 *
 * Configuration comes in the BENCH_APP environment variable (JSON of {@link AppConfig}); the process answers
 * the parent's `stats` message with its RSS, `cpu` with its CPU time so far (µs), and `close` by closing the server
 * and the store, then exits.
 */
import type { AddressInfo } from 'node:net';
import express from 'express';
import session from 'express-session';
import { BACKENDS } from '../contenders/index.js';
import { MAX_AGE_MS, sessionOf } from '../lib/payload.js';

/** What the harness tells the app. */
export interface AppConfig {
  backend: string;
  contender: string;
  url?: string;
  ns: string;
  touchAfter?: number;
}

/** What the app reports back. */
export interface AppStats {
  rss: number;
  heapUsed: number;
  /** Requests of a logged-in user that found no session: must be 0. */
  misses: number;
  /** Requests that failed with a store error: must be 0. */
  errors: number;
}

/** The session fields this app uses (kept off express-session's global SessionData, which examples/ augments). */
type AppSession = { user?: { id: number; name: string }; views?: number };
const data = (req: express.Request) => req.session as unknown as AppSession;

const cfg = JSON.parse(process.env.BENCH_APP ?? '{}') as AppConfig;
const backend = await (await BACKENDS[cfg.backend]!.load())(cfg.url);
const contender = backend.contenders.find((c) => c.name === cfg.contender);
if (!contender) throw new Error(`no contender ${cfg.contender} in ${cfg.backend}`);
const instance = await contender.create({ ns: cfg.ns, touchAfter: cfg.touchAfter });

let misses = 0;
const app = express();
app.disable('x-powered-by');
app.disable('etag');
app.use(
  session({
    store: instance.store,
    secret: 'bench secret, not a real one',
    resave: false,
    saveUninitialized: false,
    cookie: { maxAge: MAX_AGE_MS, sameSite: 'lax' },
  }),
);
app.post('/login', (req, res) => {
  const { cookie: _cookie, ...data } = sessionOf('small', Number(req.query.u ?? 0)) as unknown as Record<string, unknown>;
  Object.assign(req.session, data);
  res.send('ok');
});
app.get('/read', (req, res) => {
  const sess = data(req);
  if (!sess.user) {
    misses++;
    res.status(401).send('who are you?');
    return;
  }
  res.send(`<p>Hello ${sess.user.name}</p>`);
});
app.post('/write', (req, res) => {
  const sess = data(req);
  if (!sess.user) {
    misses++;
    res.status(401).send('who are you?');
    return;
  }
  sess.views = (sess.views ?? 0) + 1;
  res.send(`<p>${sess.views} views</p>`);
});

// Failures are counted and answered 500 (autocannon counts them), not logged: the report shows them.
let errors = 0;
app.use((_err: unknown, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
  errors++;
  // A failed touch/set is reported after the response was written: nothing left to answer.
  if (!res.headersSent) res.status(500).send('store error');
});

const server = app.listen(0, '127.0.0.1', () => {
  process.send!({ type: 'ready', port: (server.address() as AddressInfo).port });
});

process.on('message', (msg: { type: string }) => {
  if (msg.type === 'cpu') {
    const c = process.cpuUsage();
    process.send!({ type: 'cpu', us: c.user + c.system });
  } else if (msg.type === 'stats') {
    const m = process.memoryUsage();
    process.send!({ type: 'stats', stats: { rss: m.rss, heapUsed: m.heapUsed, misses, errors } satisfies AppStats });
  } else if (msg.type === 'close') {
    // Let requests still in flight when the load stopped finish before the store goes away.
    const force = setTimeout(() => server.closeAllConnections(), 5000);
    server.close(() => {
      clearTimeout(force);
      // express-session touches/saves after the response: give those a moment before the store goes away.
      setTimeout(() => void instance.close().finally(() => process.exit(0)), 250);
    });
    server.closeIdleConnections();
  }
});

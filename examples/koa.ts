/**
 * koa 3 + koa-session 7 on session-stores, through `koaStore()`. `node --import tsx examples/koa.ts` runs it on
 * SQLite (examples/sessions.db); `SESSION_STORE=redis|postgres|mongo|file|memory` switches stores (see
 * examples/stores.ts). Environment: PORT (default 3000), SESSION_SECRET.
 *
 *   curl -c jar -b jar localhost:3000/                      {"user":null,"visits":1}
 *   curl -c jar -b jar -X POST 'localhost:3000/login?name=ada'
 *   curl -c jar -b jar localhost:3000/                      {"user":"ada","visits":2}
 *   curl -c jar -b jar -X POST localhost:3000/logout
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import Koa from 'koa';
import session from 'koa-session';
import { koaStore } from '../frameworks/koa.js';
import { openStore } from './stores.js';

/** What this app keeps in a session. */
interface Visit {
  user?: string;
  visits?: number;
  regenerate(): Promise<void>;
}

const opened = await openStore();
const app = new Koa();
app.keys = [process.env.SESSION_SECRET ?? 'session-stores example: set SESSION_SECRET'];
app.use(
  session(
    {
      // The store keeps each session exactly as long as koa's maxAge (7 days here), whatever its own default ttl.
      store: koaStore(opened.store),
      maxAge: 7 * 86_400_000,
      renew: true, // saved again (with a new expiry) once less than half of maxAge is left
      sameSite: 'lax',
    },
    app,
  ),
);

app.use(async (ctx) => {
  const s = ctx.session as Visit | null;
  if (!s) return;
  if (ctx.method === 'GET' && ctx.path === '/') {
    s.visits = (s.visits ?? 0) + 1;
    ctx.body = { user: s.user ?? null, visits: s.visits };
  } else if (ctx.method === 'POST' && ctx.path === '/login') {
    const name = String(ctx.query.name ?? '').trim();
    if (name.length === 0 || name.length > 64) ctx.throw(400, 'name: 1 to 64 characters');
    await s.regenerate(); // a new key at login: a key planted before login (session fixation) is worth nothing
    s.user = name;
    ctx.body = { ok: true };
  } else if (ctx.method === 'POST' && ctx.path === '/logout') {
    ctx.session = null; // destroys the stored session (for good, on stores with revocation)
    ctx.body = { ok: true };
  }
});

const server = http.createServer(app.callback());
server.listen(Number(process.env.PORT ?? 3000), '127.0.0.1', () => {
  const { port } = server.address() as AddressInfo;
  console.log(`koa example on http://127.0.0.1:${port} (sessions: ${opened.description})`);
});
const stop = (): void => {
  server.close(() => void opened.close().then(() => process.exit(0)));
  server.closeIdleConnections();
};
process.once('SIGINT', stop);
process.once('SIGTERM', stop);

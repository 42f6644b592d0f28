/**
 * fastify 5 + @fastify/session 11 on session-stores: the stores plug in as they are. `node --import tsx
 * examples/fastify.ts` runs it on SQLite (examples/sessions.db); `SESSION_STORE=redis|postgres|mongo|file|memory`
 * switches stores (see examples/stores.ts). Environment: PORT (default 3000), SESSION_SECRET (32+ characters).
 *
 *   curl -c jar -b jar localhost:3000/                      {"user":null,"visits":1}
 *   curl -c jar -b jar -X POST 'localhost:3000/login?name=ada'
 *   curl -c jar -b jar localhost:3000/                      {"user":"ada","visits":2}
 *   curl -c jar -b jar -X POST localhost:3000/logout
 */
import fastifyCookie from '@fastify/cookie';
import fastifySession from '@fastify/session';
import Fastify from 'fastify';
import { openStore } from './stores.js';

declare module 'fastify' {
  interface Session {
    user?: string;
    visits?: number;
  }
}

const opened = await openStore();
const app = Fastify();
await app.register(fastifyCookie);
await app.register(fastifySession, {
  store: opened.store,
  secret: process.env.SESSION_SECRET ?? 'session-stores example: set SESSION_SECRET (32+ characters)',
  saveUninitialized: false,
  // rolling (the default): every response saves the session, so the store's expiry follows cookie.maxAge.
  cookie: { maxAge: 7 * 86_400_000, secure: 'auto', sameSite: 'lax' },
});

app.get('/', async (request) => {
  request.session.visits = (request.session.visits ?? 0) + 1;
  return { user: request.session.user ?? null, visits: request.session.visits };
});

app.post<{ Querystring: { name?: string } }>('/login', async (request, reply) => {
  const name = (request.query.name ?? '').trim();
  if (name.length === 0 || name.length > 64) return reply.code(400).send({ error: 'name: 1 to 64 characters' });
  const { visits } = request.session;
  await request.session.regenerate(); // a new id at login: an id planted before login (session fixation) is worth nothing
  request.session.user = name;
  request.session.visits = visits;
  return { ok: true };
});

app.post('/logout', async (request) => {
  await request.session.destroy(); // for good, on stores with revocation
  return { ok: true };
});

const url = await app.listen({ port: Number(process.env.PORT ?? 3000), host: '127.0.0.1' });
console.log(`fastify example on ${url} (sessions: ${opened.description})`);
const stop = (): void => void app.close().then(() => opened.close().then(() => process.exit(0)));
process.once('SIGINT', stop);
process.once('SIGTERM', stop);

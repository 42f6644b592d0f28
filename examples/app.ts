/**
 * A small express 5 app on session-stores: log in with a name, count visits, regenerate the session id, log out,
 * see how many sessions the store holds, list "your sessions" (every device logged in as you, with its last
 * activity) and "log out everywhere else" (the stores' `owner` option, `sessionsOf()` and `destroyOwner()`). `npm start` runs it on SQLite (examples/sessions.db);
 * `SESSION_STORE=redis|postgres|mongo|mysql|file|memory npm start` switches stores (see examples/stores.ts).
 *
 * Environment: PORT (default 3000), SESSION_SECRET (set it outside development), SESSION_STORE and the
 * variables of the chosen store.
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import express, { type Express, type NextFunction, type Request, type Response } from 'express';
import session from 'express-session';
import type { SessionStore } from '../shared/index.js';
import { openStore } from './stores.js';

declare module 'express-session' {
  interface SessionData {
    user?: string;
    visits?: number;
    /** The browser that logged in (its User-Agent), shown in "your sessions". */
    device?: string;
    /** When this session last made a request, epoch ms. */
    lastSeen?: number;
  }
}

/** Any of this package's stores, whatever it keeps per session. */
export type AnyStore = SessionStore;

const DEV_SECRET = 'session-stores example: set SESSION_SECRET';

/** Options of {@link createApp}. */
export interface AppOptions {
  /** Signs the session cookie. Default: `SESSION_SECRET`, else a fixed development secret. */
  secret?: string;
  /** Session lifetime in ms (sliding: every request moves it). Default 30 minutes. */
  maxAgeMs?: number;
}

/** The example app on `store`: pages at `/`, JSON at `/api/session`, forms posting to `/login`, `/logout`, `/regenerate`. */
export function createApp(store: AnyStore, options: AppOptions = {}): Express {
  const app = express();
  app.disable('x-powered-by');
  app.use(express.urlencoded({ extended: false, limit: '4kb' }));
  app.use(express.json({ limit: '4kb' }));
  app.use(
    session({
      store,
      name: 'sid',
      secret: options.secret ?? process.env.SESSION_SECRET ?? DEV_SECRET,
      // With a store that implements touch(), these two keep writes to sessions that actually changed.
      resave: false,
      saveUninitialized: false,
      rolling: true,
      cookie: { maxAge: options.maxAgeMs ?? 30 * 60_000, httpOnly: true, sameSite: 'lax' },
    }),
  );

  // While the store reports its database unreachable ('disconnect'), express-session leaves req.session unset
  // rather than failing every request: say so instead of crashing on it.
  app.use((req, res, next) => {
    if (req.session) next();
    else res.status(503).type('text').send('Sessions are unavailable: the session store is disconnected. Try again shortly.');
  });

  // Last activity of logged-in sessions, for "your sessions" (saved with the session, so at most once a request).
  app.use((req, _res, next) => {
    if (req.session.user !== undefined) req.session.lastSeen = Date.now();
    next();
  });

  app.get('/', async (req, res) => {
    req.session.visits = (req.session.visits ?? 0) + 1;
    res.type('html').send(page(await state(req, store)));
  });

  app.get('/api/session', async (req, res) => {
    res.json(await state(req, store));
  });

  app.post('/login', async (req, res) => {
    const name = typeof req.body?.name === 'string' ? req.body.name.trim() : '';
    if (name.length === 0 || name.length > 64) {
      res.status(400).type('text').send('name: 1 to 64 characters');
      return;
    }
    const visits = req.session.visits;
    // A new session id at login: an id planted before login (session fixation) is worth nothing after it.
    await call((cb) => req.session.regenerate(cb));
    req.session.user = name;
    req.session.visits = visits;
    req.session.device = (req.get('user-agent') ?? 'unknown device').slice(0, 120);
    req.session.lastSeen = Date.now();
    await call((cb) => req.session.save(cb));
    done(req, res);
  });

  // "Log out everywhere else": every other session of this user is destroyed (and stays destroyed, even if one of
  // them is in the middle of a request), this one is kept.
  app.post('/logout-others', async (req, res) => {
    const user = req.session.user;
    if (user === undefined || !store.supports.owners) {
      res.status(400).type('text').send('log in first, on a store with an owner index');
      return;
    }
    await store.destroyOwner(user, { except: req.sessionID });
    done(req, res);
  });

  app.post('/regenerate', async (req, res) => {
    const { user, visits, device } = req.session;
    await call((cb) => req.session.regenerate(cb));
    Object.assign(req.session, { user, visits, device, lastSeen: Date.now() });
    await call((cb) => req.session.save(cb));
    done(req, res);
  });

  app.post('/logout', async (req, res) => {
    await call((cb) => req.session.destroy(cb));
    res.clearCookie('sid', { path: '/', httpOnly: true, sameSite: 'lax' });
    done(req, res);
  });

  app.use((err: unknown, _req: Request, res: Response, _next: NextFunction) => {
    console.error(err);
    if (!res.headersSent) res.status(500).type('text').send('Something went wrong with the session store.');
  });
  return app;
}

interface State {
  user: string | null;
  visits: number;
  /** The first characters of the session id: enough to see it change on regenerate. */
  sid: string | null;
  /** Unexpired sessions in the store (every visitor with a saved session). */
  sessions: number;
  /**
   * "Your sessions": every session of the logged-in user, this one first (null when logged out, or when the store
   * keeps no owner index).
   */
  devices: Device[] | null;
}

interface Device {
  /** The first characters of its session id. */
  sid: string;
  device: string;
  /** Last activity, epoch ms. */
  lastSeen: number | null;
  current: boolean;
}

async function state(req: Request, store: AnyStore): Promise<State> {
  const stored = req.session.user !== undefined || req.session.visits !== undefined;
  return {
    user: req.session.user ?? null,
    visits: req.session.visits ?? 0,
    sid: stored ? req.sessionID.slice(0, 8) : null,
    sessions: await store.length(),
    devices: await devices(req, store),
  };
}

async function devices(req: Request, store: AnyStore): Promise<Device[] | null> {
  const user = req.session.user;
  if (user === undefined || !store.supports.owners) return null;
  const mine = (await store.sessionsOf(user)).map(({ sid, session }) => ({
    sid: sid.slice(0, 8),
    device: session.device ?? 'unknown device',
    lastSeen: session.lastSeen ?? null,
    current: sid === req.sessionID,
  }));
  // This request's session may not be saved yet (its first page): list it anyway.
  if (!mine.some((d) => d.current)) {
    mine.push({ sid: req.sessionID.slice(0, 8), device: req.session.device ?? 'unknown device', lastSeen: Date.now(), current: true });
  }
  return mine.sort((a, b) => Number(b.current) - Number(a.current) || (b.lastSeen ?? 0) - (a.lastSeen ?? 0));
}

/** Forms redirect back to the page; API clients (`Accept: application/json`) get the new state. */
function done(req: Request, res: Response): void {
  if (req.accepts(['html', 'json']) === 'json') res.json({ ok: true });
  else res.redirect(303, '/');
}

function call(fn: (cb: (err?: unknown) => void) => void): Promise<void> {
  return new Promise((ok, fail) => fn((err) => (err ? fail(err) : ok())));
}

function page(s: State): string {
  const who = s.user
    ? `<p>Logged in as <b>${escape(s.user)}</b>.</p>
<form method="post" action="/regenerate"><button>New session id</button></form>
<form method="post" action="/logout"><button>Log out</button></form>`
    : `<form method="post" action="/login"><label>Name <input name="name" maxlength="64" required autofocus></label> <button>Log in</button></form>`;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>session-stores example</title>
<style>body{font:16px system-ui,sans-serif;max-width:36rem;margin:3rem auto;padding:0 1rem}form{display:inline-block;margin:0 .5rem .5rem 0}</style></head>
<body><h1>session-stores</h1>
${who}
<p>Visits in this session: <b>${s.visits}</b>${s.sid ? ` &middot; session id <code>${escape(s.sid)}…</code>` : ''}</p>
<p>Sessions on this store: <b>${s.sessions}</b></p>
${s.devices ? deviceList(s.devices) : ''}
</body></html>`;
}

function deviceList(devices: Device[]): string {
  const rows = devices
    .map(
      (d) =>
        `<li>${escape(d.device)} &middot; <code>${escape(d.sid)}…</code> &middot; ${
          d.current ? '<b>this session</b>' : `last active ${d.lastSeen ? new Date(d.lastSeen).toISOString() : 'unknown'}`
        }</li>`,
    )
    .join('');
  const others = devices.length > 1 ? '<form method="post" action="/logout-others"><button>Log out everywhere else</button></form>' : '';
  return `<h2>Your sessions</h2><ul>${rows}</ul>${others}`;
}

function escape(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

async function main(): Promise<void> {
  const opened = await openStore();
  const app = createApp(opened.store);
  const port = Number(process.env.PORT ?? 3000);
  if (!process.env.SESSION_SECRET) console.warn('SESSION_SECRET is not set: using a development secret.');
  opened.store.on('error', (err: unknown) => console.error('session store:', err));
  const server: Server = app.listen(port, () => {
    // The bound port, not PORT: PORT=0 picks a free one.
    const { port: bound } = server.address() as AddressInfo;
    console.log(`session-stores example on http://localhost:${bound} (sessions: ${opened.description})`);
  });
  server.on('error', async (err) => {
    console.error(err.message);
    await opened.close();
    process.exitCode = 1;
  });

  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    console.log(`${signal}: closing`);
    // Stop accepting, let in-flight requests finish (idle keep-alive sockets are closed at once), then the store.
    const force = setTimeout(() => server.closeAllConnections(), 5000).unref();
    server.close(async () => {
      clearTimeout(force);
      await opened.close().catch((err: unknown) => console.error(err));
      process.exit(0);
    });
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  main().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}

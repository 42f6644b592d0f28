import http from 'node:http';
import type { AddressInfo } from 'node:net';
import session from 'express-session';
import type { SessionOptions, Store } from 'express-session';

/** Cookie name express-session uses by default. */
const COOKIE = 'connect.sid';

type Session = Record<string, unknown> & {
  regenerate: (cb: (err: unknown) => void) => void;
  destroy: (cb: (err: unknown) => void) => void;
};
type Req = http.IncomingMessage & { session?: Session };
type Middleware = (req: Req, res: http.ServerResponse, next: (err?: unknown) => void) => void;

/** A running test app. */
export interface App {
  /** Base URL, e.g. `http://127.0.0.1:12345`. */
  url: string;
  /** A new browser for this app (it knows the app's session cookie). */
  browser: () => Browser;
  /** Stops the server, dropping keep-alive connections so close() cannot hang. */
  close: () => Promise<void>;
}

/** A framework's session, as the routes every test app shares ({@link route}) use it. */
export interface RouteSession {
  /** The session's data, read and written in place. */
  data: Record<string, unknown>;
  /** Replaces the session with one under a new sid; resolves the data of the new one. */
  regenerate: () => Promise<Record<string, unknown>>;
  /** Destroys the session (logout). */
  destroy: () => Promise<void>;
}

/**
 * The routes of every test app (express, koa, fastify), whatever the framework: `/login` (user = alice), `/me`
 * (JSON `{ user }`), `/count` (n += 1), `/read` (touches nothing), `/regenerate` (new session, user = bob), `/logout`
 * (destroy). Resolves the response body, or null for a path it does not serve.
 */
export async function route(path: string, s: RouteSession): Promise<string | null> {
  switch (path) {
    case '/login':
      s.data.user = 'alice';
      return 'ok';
    case '/me':
      return JSON.stringify({ user: s.data.user ?? null });
    case '/count':
      s.data.n = ((s.data.n as number | undefined) ?? 0) + 1;
      return String(s.data.n);
    case '/read':
      return 'read';
    case '/regenerate':
      (await s.regenerate()).user = 'bob';
      return 'ok';
    case '/logout':
      await s.destroy();
      return 'ok';
    default:
      return null;
  }
}

/**
 * An express-session app on bare node:http, so the suite needs no express. Routes: those of {@link route}, plus
 * `/has` (whether req.session exists), `/slow?ms=60` (waits, then n += 1: a slow request that modifies the
 * session it loaded), `/slow-read?ms=60` (waits, changes nothing).
 */
export async function startApp(store: Store, options: Partial<SessionOptions> = {}): Promise<App> {
  const middleware = session({
    secret: 'conformance-secret',
    resave: false,
    saveUninitialized: false,
    cookie: { maxAge: 60_000 },
    ...options,
    store,
  }) as unknown as Middleware;

  const server = http.createServer((req: Req, res) => {
    const fail = (err: unknown): void => {
      res.statusCode = 500;
      res.end(String(err));
    };
    middleware(req, res, (err) => {
      if (err) return fail(err);
      const s = req.session;
      const path = (req.url ?? '/').split('?')[0] ?? '/';
      if (path === '/has') return void res.end(s ? 'yes' : 'no');
      if (!s) return void res.end('no session');
      if (path === '/slow' || path === '/slow-read') {
        const ms = Number(new URL(req.url ?? '/', 'http://x').searchParams.get('ms') ?? 60);
        return void setTimeout(() => {
          if (path === '/slow') s.n = ((s.n as number | undefined) ?? 0) + 1;
          res.end('slow');
        }, ms);
      }
      const handle: RouteSession = {
        data: s,
        regenerate: () => new Promise((resolve, reject) => s.regenerate((e) => (e ? reject(e) : resolve(req.session as Session)))),
        destroy: () => new Promise((resolve, reject) => s.destroy((e) => (e ? reject(e) : resolve()))),
      };
      route(path, handle).then((body) => {
        if (body === null) res.statusCode = 404;
        res.end(body ?? 'not found');
      }, fail);
    });
  });
  return listen(server, (url) => new Browser(url));
}

/** Starts `server` on a free loopback port; `browser` makes browsers for it (given its URL). */
export async function listen(server: http.Server, browser: (url: string) => Browser): Promise<App> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const url = `http://127.0.0.1:${port}`;
  const close = (): Promise<void> =>
    new Promise<void>((resolve) => {
      openApps.delete(close);
      server.closeAllConnections();
      if (!server.listening) return resolve();
      server.close(() => resolve());
    });
  openApps.add(close);
  return { url, browser: () => browser(url), close };
}

/** Apps started and not yet closed: a test that timed out or threw before its `finally` leaves its app here. */
const openApps = new Set<() => Promise<void>>();

/**
 * Closes every app the suite started and did not close, with their connections, so that what remains open
 * after a run is the store's (the CLI reports it), not the suite's.
 */
export async function closeApps(): Promise<void> {
  await Promise.all([...openApps].map((close) => close()));
}

/** One response, as far as the tests care. */
export interface Reply {
  status: number;
  body: string;
  /** Whether the response set the session cookie. */
  setCookie: boolean;
}

/** How a framework writes the sid into its session cookie, and how to read it back. */
export interface SessionCookie {
  /** The cookie's name. */
  name: string;
  /** The sid in the cookie's (URI-decoded) value, or null when there is none. */
  sid: (value: string) => string | null;
}

/** express-session's cookie: `connect.sid`, signed as `s:<sid>.<signature>`. */
export const EXPRESS_COOKIE: SessionCookie = {
  name: COOKIE,
  sid: (value) => (value.startsWith('s:') ? value.slice(2, value.lastIndexOf('.')) : null),
};

/** A cookie the server asked the browser to drop (how frameworks clear the session cookie). */
const CLEARED = /;\s*(max-age=0|expires=thu, 01 jan 1970)/i;

/** A browser in miniature: keeps the cookies an app sets between requests (the session cookie and its kin). */
export class Browser {
  private readonly jar = new Map<string, string>();

  /**
   * @param base the app URL
   * @param cookie the app's session cookie (default: express-session's)
   */
  constructor(
    private readonly base: string,
    private readonly cookie: SessionCookie = EXPRESS_COOKIE,
  ) {}

  /** GETs `path`, sending and updating the cookies. */
  async get(path: string): Promise<Reply> {
    const header = [...this.jar].map(([name, value]) => `${name}=${value}`).join('; ');
    const res = await fetch(this.base + path, { headers: header ? { cookie: header } : {} });
    let setCookie = false;
    for (const line of res.headers.getSetCookie()) {
      const pair = line.split(';')[0] ?? '';
      const eq = pair.indexOf('=');
      if (eq <= 0) continue;
      const name = pair.slice(0, eq).trim();
      if (CLEARED.test(line)) this.jar.delete(name);
      else this.jar.set(name, pair.slice(eq + 1).trim());
      if (name === this.cookie.name) setCookie = true;
    }
    return { status: res.status, body: await res.text(), setCookie };
  }

  /** The sid in the session cookie, or null before the first one (or after the app cleared it). */
  sid(): string | null {
    const value = this.jar.get(this.cookie.name);
    return value === undefined ? null : this.cookie.sid(decodeURIComponent(value));
  }
}

/**
 * Records the names of store methods called while it is installed. It wraps methods on the instance rather
 * than proxying the store, because express-session keeps the store object and our stores use private fields.
 */
export function spyOn(store: Store, methods: string[]): { calls: string[]; restore: () => void } {
  const target = store as unknown as Record<string, unknown>;
  const calls: string[] = [];
  const saved = methods.map((m) => [m, Object.prototype.hasOwnProperty.call(target, m), target[m]] as const);
  for (const [m, , original] of saved) {
    if (typeof original !== 'function') continue;
    target[m] = function (this: unknown, ...args: unknown[]) {
      calls.push(m);
      return (original as (...a: unknown[]) => unknown).apply(this, args);
    };
  }
  return {
    calls,
    restore: () => {
      for (const [m, own, original] of saved) {
        if (own) target[m] = original;
        else delete target[m];
      }
    },
  };
}

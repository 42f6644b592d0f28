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

/** A running test app: express-session on bare node:http, so the suite needs no express. */
export interface App {
  /** Base URL, e.g. `http://127.0.0.1:12345`. */
  url: string;
  /** Stops the server, dropping keep-alive connections so close() cannot hang. */
  close: () => Promise<void>;
}

/**
 * Routes: `/login` (user = alice), `/me` (JSON `{ user }`), `/count` (n += 1), `/read` (touches nothing),
 * `/regenerate` (new session, user = bob), `/logout` (destroy), `/has` (whether req.session exists),
 * `/slow?ms=60` (waits, then n += 1: a slow request that modifies the session it loaded), `/slow-read?ms=60`
 * (waits, changes nothing).
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
      const path = (req.url ?? '/').split('?')[0];
      if (path === '/has') return void res.end(s ? 'yes' : 'no');
      if (!s) return void res.end('no session');
      switch (path) {
        case '/login':
          s.user = 'alice';
          return void res.end('ok');
        case '/me':
          return void res.end(JSON.stringify({ user: s.user ?? null }));
        case '/count':
          s.n = ((s.n as number | undefined) ?? 0) + 1;
          return void res.end(String(s.n));
        case '/read':
          return void res.end('read');
        case '/slow':
        case '/slow-read': {
          const ms = Number(new URL(req.url ?? '/', 'http://x').searchParams.get('ms') ?? 60);
          return void setTimeout(() => {
            if (path === '/slow') s.n = ((s.n as number | undefined) ?? 0) + 1;
            res.end('slow');
          }, ms);
        }
        case '/regenerate':
          return s.regenerate((e) => {
            if (e) return fail(e);
            (req.session as Session).user = 'bob';
            res.end('ok');
          });
        case '/logout':
          return s.destroy((e) => (e ? fail(e) : res.end('ok')));
        default:
          res.statusCode = 404;
          res.end('not found');
      }
    });
  });

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const close = (): Promise<void> =>
    new Promise<void>((resolve) => {
      openApps.delete(close);
      server.closeAllConnections();
      if (!server.listening) return resolve();
      server.close(() => resolve());
    });
  openApps.add(close);
  return { url: `http://127.0.0.1:${port}`, close };
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

/** A browser in miniature: keeps the session cookie between requests. */
export class Browser {
  private cookie: string | null = null;

  /** @param base the app URL */
  constructor(private readonly base: string) {}

  /** GETs `path`, sending and updating the session cookie. */
  async get(path: string): Promise<Reply> {
    const res = await fetch(this.base + path, { headers: this.cookie ? { cookie: this.cookie } : {} });
    let setCookie = false;
    for (const line of res.headers.getSetCookie()) {
      const pair = line.split(';')[0] ?? '';
      if (pair.startsWith(`${COOKIE}=`)) {
        this.cookie = pair;
        setCookie = true;
      }
    }
    return { status: res.status, body: await res.text(), setCookie };
  }

  /** The sid in the session cookie (it is signed: `s:<sid>.<signature>`), or null before the first one. */
  sid(): string | null {
    if (!this.cookie) return null;
    const value = decodeURIComponent(this.cookie.slice(COOKIE.length + 1));
    return value.startsWith('s:') ? value.slice(2, value.lastIndexOf('.')) : null;
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

/**
 * The test app of http-app.ts on koa (koa-session, through `koaStore`) and on fastify (@fastify/session), serving
 * the same routes ({@link route}). The frameworks are imported when an app starts, never before: they are the
 * user's packages, not dependencies of this suite, and a suite run without them reports their tests as skipped.
 */
import http from 'node:http';
import type { Store } from 'express-session';
import { koaStore } from '../frameworks/koa.js';
import { type App, Browser, type RouteSession, listen, route } from './http-app.js';
import { Unmet } from './registry.js';

/** Signs the cookies of the test apps (@fastify/session wants at least 32 characters). */
const SECRET = 'conformance-secret-conformance-secret';

/** Options of the koa app: koa-session's, minus what the app sets itself. */
export interface KoaAppOptions {
  /** Cookie and store lifetime in ms, or `'session'` (a browser-session cookie). Default 60000. */
  maxAge?: number | 'session';
  rolling?: boolean;
  renew?: boolean;
  /** koa-session's `genid` (the new session's key). */
  genid?: () => string;
  /** koa-session's `prefix` of generated keys. */
  prefix?: string;
}

/** Options of the fastify app: @fastify/session's `rolling` (default true, as there) and cookie `maxAge` (default 60000). */
export interface FastifyAppOptions {
  rolling?: boolean;
  /** Cookie lifetime in ms; null for a browser-session cookie. */
  maxAge?: number | null;
}

/** koa-session's cookie (`koa.sess`, signed in a separate `.sig` cookie): its value is the key itself. */
const KOA_COOKIE = { name: 'koa.sess', sid: (value: string) => value || null };

/** @fastify/session's cookie (`sessionId`): `<sid>.<signature>`. */
const FASTIFY_COOKIE = { name: 'sessionId', sid: (value: string) => (value.includes('.') ? value.slice(0, value.lastIndexOf('.')) : null) };

/**
 * Imports a framework package, or fails the test as not applicable (skipped) when it is not installed.
 * @param name the package, for the message
 */
export async function optionalImport<T>(name: string, load: () => Promise<T>): Promise<T> {
  try {
    return await load();
  } catch (err) {
    const code = (err as { code?: unknown } | null)?.code;
    const message = err instanceof Error ? err.message : '';
    if (
      code === 'ERR_MODULE_NOT_FOUND' ||
      code === 'MODULE_NOT_FOUND' ||
      /Cannot find (module|package)|Failed to load url/i.test(message)
    ) {
      throw new Unmet(`${name} is not installed (npm install --save-dev ${name})`);
    }
    throw err;
  }
}

/** A koa 3 app with koa-session 7 on `koaStore(store)`, serving {@link route}. */
export async function startKoaApp(store: Store, options: KoaAppOptions = {}): Promise<App> {
  const { default: Koa } = await optionalImport('koa', () => import('koa'));
  const { default: session } = await optionalImport('koa-session', () => import('koa-session'));
  const app = new Koa();
  app.keys = [SECRET];
  const { maxAge = 60_000, ...rest } = options;
  app.use(session({ ...rest, maxAge, store: koaStore(store) }, app));
  app.use(async (ctx) => {
    const handle: RouteSession = {
      data: ctx.session as unknown as Record<string, unknown>,
      regenerate: async () => {
        await ctx.session!.regenerate();
        return ctx.session as unknown as Record<string, unknown>;
      },
      destroy: async () => {
        // koa-session destroys the stored session when the middleware commits, before the response is sent.
        ctx.session = null;
      },
    };
    const body = await route(ctx.path, handle);
    ctx.status = body === null ? 404 : 200;
    ctx.body = body ?? 'not found';
  });
  return listen(http.createServer(app.callback()), (url) => new Browser(url, KOA_COOKIE));
}

/** A fastify 5 app with @fastify/cookie and @fastify/session 11 on `store` as it is, serving {@link route}. */
export async function startFastifyApp(store: Store, options: FastifyAppOptions = {}): Promise<App> {
  const { default: fastify } = await optionalImport('fastify', () => import('fastify'));
  const { default: cookie } = await optionalImport('@fastify/cookie', () => import('@fastify/cookie'));
  const { default: session } = await optionalImport('@fastify/session', () => import('@fastify/session'));
  let server: http.Server | undefined;
  const app = fastify({
    serverFactory: (handler) => {
      server = http.createServer(handler);
      return server;
    },
  });
  await app.register(cookie);
  await app.register(session, {
    secret: SECRET,
    store,
    saveUninitialized: false,
    rolling: options.rolling ?? true,
    cookie: { secure: false, ...(options.maxAge === null ? {} : { maxAge: options.maxAge ?? 60_000 }) },
  });
  app.get('/*', async (request, reply) => {
    const handle: RouteSession = {
      data: request.session as unknown as Record<string, unknown>,
      regenerate: async () => {
        await request.session.regenerate();
        return request.session as unknown as Record<string, unknown>;
      },
      destroy: () => request.session.destroy(),
    };
    const body = await route(request.url.split('?')[0] ?? '/', handle);
    reply.code(body === null ? 404 : 200).type('text/plain');
    return body ?? 'not found';
  });
  await app.ready();
  return listen(server!, (url) => new Browser(url, FASTIFY_COOKIE));
}

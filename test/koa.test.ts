/**
 * koaStore (session-stores/koa) beyond the conformance suite's `frameworks` group: what the adapter stores for each
 * koa-session setting, koa-session's `genid` and `prefix`, and express-session stores that are not ours.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import session from 'express-session';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { optionalImport, startKoaApp, type KoaAppOptions } from '../conformance/framework-apps.js';
import { Unmet } from '../conformance/registry.js';
import type { App } from '../conformance/http-app.js';
import { koaStore, type ExpressStyleStore } from '../frameworks/koa.js';
import { isSessionStoreError } from '../shared/errors.js';
import { MemoryStore } from '../stores/memory/index.js';
import { SQLiteStore } from '../stores/sqlite/index.js';

const DAY = 86_400_000;
/** koa-session gives the store its cookie's maxAge plus this, so that the store outlives the cookie. */
const MARGIN = 10_000;

const require = createRequire(import.meta.url);
const sessionFileStore = require('session-file-store') as (s: typeof session) => new (options: object) => session.Store;

const dir = mkdtempSync(join(tmpdir(), 'koa-store-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const cleanups: Array<() => Promise<unknown> | unknown> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function sqlite(options: { ttl?: number } = {}): SQLiteStore {
  const db = new Database(':memory:');
  const store = new SQLiteStore({ client: db, ...options });
  cleanups.push(
    () => db.close(),
    () => store.close(),
  );
  return store;
}

async function app(store: ExpressStyleStore, options: KoaAppOptions = {}): Promise<App> {
  const started = await startKoaApp(store as unknown as session.Store, options);
  cleanups.push(() => started.close());
  return started;
}

/** What the store itself holds under `sid` (not through the adapter). */
const raw = (store: SQLiteStore | MemoryStore, sid: string | null) => store.get(sid as string) as Promise<Record<string, unknown> | null>;

describe('koaStore: expiry from koa-session', () => {
  it('a number maxAge: the store keeps the session maxAge (+ koa’s 10 s) ms, koa gets back exactly what it stored', async () => {
    const store = sqlite({ ttl: 60 });
    const b = (await app(store, { maxAge: 7 * DAY })).browser();
    const before = Date.now();
    await b.get('/login');
    const after = Date.now();
    const stored = await raw(store, b.sid());
    expect(stored).toMatchObject({ user: 'alice', _maxAge: 7 * DAY, cookie: { originalMaxAge: 7 * DAY + MARGIN } });
    const expires = new Date((stored!.cookie as { expires: string }).expires).getTime();
    expect(expires).toBeGreaterThanOrEqual(before + 7 * DAY + MARGIN);
    expect(expires).toBeLessThanOrEqual(after + 7 * DAY + MARGIN);
    // koa-session reads its own fields back, and no `cookie` it never wrote.
    const forKoa = await koaStore(store).get(b.sid()!);
    expect(forKoa).toEqual({ user: 'alice', _expire: stored!._expire, _maxAge: 7 * DAY });
  });

  it("maxAge 'session': a browser-session cookie, stored for the store's ttl", async () => {
    const store = sqlite({ ttl: 90 });
    const b = (await app(store, { maxAge: 'session' })).browser();
    const before = Date.now();
    await b.get('/login');
    const stored = await raw(store, b.sid());
    expect(stored).toMatchObject({ user: 'alice', _session: true, cookie: { originalMaxAge: null, expires: null } });
    expect(stored).not.toHaveProperty('_expire');
    const [entry] = storedExpiries(store);
    expect(entry!.expiresAt).toBeGreaterThanOrEqual(before + 90_000);
    expect(entry!.expiresAt).toBeLessThanOrEqual(Date.now() + 90_000);
    expect((await b.get('/me')).body).toBe(JSON.stringify({ user: 'alice' }));
  });

  it('a maxAge set on one session (ctx.session.maxAge = …) is the expiry of that session', async () => {
    const store = sqlite();
    const adapter = koaStore(store);
    const now = Date.now();
    // What koa-session hands the store after `ctx.session.maxAge = 5000`.
    await adapter.set('k', { user: 'alice', _expire: now + 5000, _maxAge: 5000 }, 5000 + MARGIN);
    const expires = new Date(((await raw(store, 'k'))!.cookie as { expires: string }).expires).getTime();
    expect(expires).toBeGreaterThanOrEqual(now + 5000 + MARGIN);
    expect(expires).toBeLessThan(now + 5000 + MARGIN + 1000);
  });

  it('a past maxAge removes the session; a maxAge that is not a number is refused before anything is written', async () => {
    const store = sqlite();
    const adapter = koaStore(store);
    await adapter.set('k', { user: 'alice' }, 60_000);
    await adapter.set('k', { user: 'alice' }, -1);
    expect(await adapter.get('k')).toBeNull();
    for (const bad of [Number.NaN, Infinity, '60000', null]) {
      const err = await adapter.set('k', { v: 1 }, bad as never).catch((e: unknown) => e);
      expect(isSessionStoreError(err, 'SESSION_STORE_INVALID_OPTION')).toBe(true);
    }
    expect(await store.length()).toBe(0);
  });

  it("a session's own `cookie` property is data: kept, returned, and never read as the expiry", async () => {
    const store = sqlite({ ttl: 60 });
    const adapter = koaStore(store);
    const own = { expires: '2000-01-01T00:00:00.000Z', flavour: 'oat' };
    await adapter.set('k', { cookie: own, user: 'alice' }, 60_000);
    expect(await adapter.get('k')).toEqual({ cookie: own, user: 'alice' });
    expect((await raw(store, 'k'))!.cookie).toMatchObject({ originalMaxAge: 60_000 });
  });
});

describe('koaStore: koa-session options', () => {
  it('genid: the store is keyed by the generated id', async () => {
    const store = sqlite();
    let n = 0;
    const b = (await app(store, { genid: () => `user-session-${++n}` })).browser();
    await b.get('/login');
    expect(b.sid()).toBe('user-session-1');
    expect(await store.ids()).toEqual(['user-session-1']);
    await b.get('/regenerate');
    expect(await store.ids()).toEqual(['user-session-2']);
    expect((await b.get('/me')).body).toBe(JSON.stringify({ user: 'bob' }));
  });

  it('prefix: generated keys carry it, in the store too', async () => {
    const store = sqlite();
    const b = (await app(store, { prefix: 'koa:' })).browser();
    await b.get('/login');
    const ids = await store.ids();
    expect(ids).toHaveLength(1);
    expect(ids[0]).toMatch(/^koa:[0-9a-f-]{36}$/);
    expect(b.sid()).toBe(ids[0]);
    expect((await b.get('/me')).body).toBe(JSON.stringify({ user: 'alice' }));
  });

  it('get() of a key the store refuses as a session id (a forged, unsigned cookie) resolves null: a new session, not a 500', async () => {
    const store = sqlite();
    const adapter = koaStore(store);
    expect(await adapter.get('bad\u0000sid')).toBeNull();
    await expect(store.get('bad\u0000sid')).rejects.toMatchObject({ code: 'SESSION_STORE_INVALID_SID' });
  });

  it('destroy leaves a tombstone on stores with revocation: a late save of the same key does not log the user back in', async () => {
    const store = new MemoryStore();
    cleanups.push(() => store.close());
    expect(store.supports.revocation).toBe(true);
    const adapter = koaStore(store);
    await adapter.set('k', { user: 'alice' }, 60_000);
    await adapter.destroy('k');
    await adapter.set('k', { user: 'alice' }, 60_000); // a slow request finishing after the logout
    expect(await adapter.get('k')).toBeNull();
  });

  it("the store's owner index sees koa sessions (their data is stored flat)", async () => {
    const store = new MemoryStore({ owner: 'user' });
    cleanups.push(() => store.close());
    const b = (await app(store)).browser();
    await b.get('/login');
    expect((await store.sessionsOf('alice')).map((s) => s.sid)).toEqual([b.sid()]);
    expect(await store.destroyOwner('alice')).toBe(1);
    expect((await b.get('/me')).body).toBe(JSON.stringify({ user: null }));
  });
});

describe('koaStore: express-session stores that are not ours', () => {
  it("express-session's MemoryStore (callbacks only): login, read, regenerate, logout, and expiry by maxAge", async () => {
    const store = new session.MemoryStore();
    const b = (await app(store, { maxAge: 7 * DAY })).browser();
    await b.get('/login');
    expect((await b.get('/me')).body).toBe(JSON.stringify({ user: 'alice' }));
    const first = b.sid();
    await b.get('/regenerate');
    expect(b.sid()).not.toBe(first);
    expect((await b.get('/me')).body).toBe(JSON.stringify({ user: 'bob' }));
    const all = await new Promise<Record<string, { cookie: { expires: string } }>>((resolve, reject) =>
      store.all((err, sessions) => (err ? reject(err) : resolve(sessions as never))),
    );
    expect(Object.keys(all)).toEqual([b.sid()]);
    expect(new Date(all[b.sid()!]!.cookie.expires).getTime()).toBeGreaterThan(Date.now() + 7 * DAY);
    await b.get('/logout');
    expect((await b.get('/me')).body).toBe(JSON.stringify({ user: null }));

    // MemoryStore drops a session once its cookie.expires has passed: the adapter's expiry is what it reads.
    const adapter = koaStore(store);
    const saved = Date.now();
    await adapter.set('short', { user: 'eve' }, 200);
    const early = await adapter.get('short');
    if (Date.now() < saved + 200) expect(early).toEqual({ user: 'eve' }); // unless the machine was slower than that

    const deadline = Date.now() + 5000;
    while ((await adapter.get('short')) !== null && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    expect(await adapter.get('short')).toBeNull();
  });

  it('session-file-store: a missing session (its ENOENT error) is no session', async () => {
    const store = new (sessionFileStore(session))({ path: join(dir, 'files'), retries: 0, logFn: () => {} });
    cleanups.push(() => (store as unknown as { close?: () => void }).close?.());
    const adapter = koaStore(store);
    expect(await adapter.get('missing')).toBeNull();
    await adapter.set('k', { user: 'alice' }, 60_000);
    expect(await adapter.get('k')).toMatchObject({ user: 'alice' });
  });

  it('a store whose methods only return promises', async () => {
    const map = new Map<string, string>();
    const promiseStore = {
      get: async (sid: string) => (map.has(sid) ? JSON.parse(map.get(sid)!) : null),
      set: async (sid: string, sess: unknown) => void map.set(sid, JSON.stringify(sess)),
      destroy: async (sid: string) => void map.delete(sid),
    };
    const b = (await app(promiseStore)).browser();
    await b.get('/login');
    expect((await b.get('/me')).body).toBe(JSON.stringify({ user: 'alice' }));
    expect(JSON.parse(map.get(b.sid()!)!)).toMatchObject({ user: 'alice', cookie: { originalMaxAge: 60_000 + MARGIN } });
    await b.get('/logout');
    expect(map.size).toBe(0);
  });

  it('refuses something that is not a store', () => {
    for (const bad of [null, {}, { get() {}, set() {} }]) {
      let err: unknown;
      try {
        koaStore(bad as never);
      } catch (e) {
        err = e;
      }
      expect(isSessionStoreError(err, 'SESSION_STORE_INVALID_OPTION')).toBe(true);
    }
  });
});

describe('the conformance frameworks group where a framework is not installed', () => {
  it('says which package is missing, as a skip rather than a failure (ESM import and CommonJS require)', async () => {
    const absent = 'session-stores-no-such-framework';
    for (const load of [() => import(absent), async () => require(absent) as unknown]) {
      const err = await optionalImport('koa', load).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(Unmet);
      expect((err as Error).message).toBe('koa is not installed (npm install --save-dev koa)');
    }
  });

  it('lets other failures through', async () => {
    const err = await optionalImport('koa', () => Promise.reject(new TypeError('boom'))).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TypeError);
  });
});

/** The expiry of every session in the store's table, as SQLiteStore wrote it. */
function storedExpiries(store: SQLiteStore): Array<{ sid: string; expiresAt: number }> {
  const rows = store.client.prepare('SELECT sid, expire FROM sessions').all() as Array<{ sid: string; expire: string }>;
  return rows.map((r) => ({ sid: r.sid, expiresAt: new Date(r.expire).getTime() }));
}

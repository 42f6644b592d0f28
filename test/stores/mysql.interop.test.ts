// Interop with express-mysql-session 3 on the same table: a migration can switch stores (or run both side by side)
// without logging anybody out, and a live app can switch stores and back.
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import express from 'express';
import session from 'express-session';
import type { SessionData, Store } from 'express-session';
import type mysql from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MySQLStore } from '../../stores/mysql/index.js';
import { serverOrSkip, uniqueName } from '../servers/index.js';
import { HOUR, sess } from './helpers.js';
import { makePool, scratchDatabase } from './mysql-helpers.js';

const require = createRequire(import.meta.url);
type Incumbent = Store & {
  touch(sid: string, session: SessionData, cb: (err?: unknown) => void): void;
  onReady(): Promise<void>;
  close(): Promise<void>;
  length(): Promise<number>;
  all(): Promise<Record<string, unknown>>;
};
const expressMySQLSession = require('express-mysql-session') as (
  s: typeof session,
) => new (options: Record<string, unknown>, connection?: unknown) => Incumbent;
const IncumbentStore = expressMySQLSession(session);

const server = await serverOrSkip('mysql');

// eslint-disable-next-line @typescript-eslint/no-explicit-any
const call = <T = unknown>(fn: (cb: (err?: any, value?: any) => void) => void): Promise<T | undefined> =>
  new Promise((resolve, reject) => fn((err, value) => (err ? reject(err) : resolve(value as T))));

const withoutCookie = (s: SessionData | null | undefined): Record<string, unknown> => {
  const { cookie: _cookie, ...rest } = (s ?? {}) as Record<string, unknown>;
  return rest;
};

describe.skipIf(!server)(`MySQLStore ⇄ express-mysql-session 3 [${server?.description}]`, () => {
  let db: { name: string; url: string; drop: () => Promise<void> };
  let pool: mysql.Pool;
  let ours: MySQLStore;
  let theirs: Incumbent;
  let table: string;
  beforeAll(async () => {
    db = await scratchDatabase(server!.url, 'interop');
    pool = makePool(db.url, { connectionLimit: 6 });
    table = uniqueName('sessions');
    // The incumbent creates its table first, as in a real migration; ours adds its nullable column to it.
    theirs = new IncumbentStore({ schema: { tableName: table }, clearExpired: false }, pool);
    await theirs.onReady();
    ours = new MySQLStore({ client: pool, schema: { tableName: table }, clearExpired: false });
    await ours.ready();
  });
  afterAll(async () => {
    await ours?.close();
    await theirs?.close();
    await pool?.end();
    await db?.drop();
  });

  it("uses the incumbent's table (adding only the nullable expires_ms column), whose padding collation it respects", () => {
    expect(ours.tableInfo).toMatchObject({ features: { ms: true, owner: false }, sidChars: 128, padsSpaces: true });
  });

  it('a session written by express-mysql-session is read by MySQLStore (expiry in whole seconds, as it writes)', async () => {
    const at = Date.now() + HOUR + 400;
    await call((cb) => theirs.set('from-theirs', sess(at, { who: 'theirs' }), cb));
    const got = await ours.get('from-theirs');
    expect(withoutCookie(got)).toEqual({ who: 'theirs' });
    const [[row]] = await pool.query<mysql.RowDataPacket[]>(
      `SELECT expires, expires_ms FROM \`${table}\` WHERE session_id = 'from-theirs'`,
    );
    expect(row).toMatchObject({ expires: Math.round(at / 1000), expires_ms: null });
    expect(await ours.ids()).toContain('from-theirs');
  });

  it('a session written by MySQLStore is read by express-mysql-session', async () => {
    await ours.set('from-ours', sess(Date.now() + HOUR, { who: 'ours' }));
    const got = await call<SessionData>((cb) => theirs.get('from-ours', cb));
    expect(withoutCookie(got)).toEqual({ who: 'ours' });
    expect(Object.keys(await theirs.all())).toContain('from-ours');
  });

  it('both agree on what has expired: an hour-old session is gone for both, an hour-ahead one alive for both', async () => {
    await ours.set('old', sess(Date.now() + 200, { v: 1 }));
    await pool.query(`UPDATE \`${table}\` SET expires = ?, expires_ms = ? WHERE session_id = 'old'`, [
      Math.round((Date.now() - HOUR) / 1000),
      Date.now() - HOUR,
    ]);
    await call((cb) => theirs.set('new', sess(Date.now() + HOUR, { v: 2 }), cb));
    expect(await ours.get('old')).toBeNull();
    expect(await call((cb) => theirs.get('old', cb))).toBeNull();
    expect(withoutCookie(await ours.get('new'))).toEqual({ v: 2 });
    expect(withoutCookie(await call<SessionData>((cb) => theirs.get('new', cb)))).toEqual({ v: 2 });
  });

  it('touch and destroy work across stores; an incumbent touch overrides the stale millisecond column', async () => {
    await ours.set('t', sess(Date.now() + 60_000, { v: 1 }));
    const later = Date.now() + 2 * HOUR;
    await call((cb) => theirs.touch('t', sess(later, { v: 1 }), cb));
    // expires_ms still holds the old expiry; expires moved: the row's expiry is now expires (whole seconds).
    const [[row]] = await pool.query<mysql.RowDataPacket[]>(`SELECT expires, expires_ms FROM \`${table}\` WHERE session_id = 't'`);
    expect(row!['expires']).toBe(Math.round(later / 1000));
    expect(Number(row!['expires_ms'])).not.toBe(Math.round(later / 1000) * 1000);
    expect(withoutCookie(await ours.get('t'))).toEqual({ v: 1 });
    await ours.destroy('t');
    expect(await call((cb) => theirs.get('t', cb))).toBeNull();
    await call((cb) => theirs.set('t2', sess(Date.now() + HOUR, { v: 2 }), cb));
    await ours.touch('t2', sess(Date.now() + 3 * HOUR));
    const [[touched]] = await pool.query<mysql.RowDataPacket[]>(`SELECT expires FROM \`${table}\` WHERE session_id = 't2'`);
    expect(touched!['expires']).toBeGreaterThan(Math.round((Date.now() + 2 * HOUR) / 1000));
    await call((cb) => theirs.destroy('t2', cb));
    expect(await ours.get('t2')).toBeNull();
  });

  it('the incumbent sees a tombstone (revocation) as no session and an owner column does not disturb it', async () => {
    const t = uniqueName('revoke');
    const rev = new MySQLStore({ client: pool, schema: { tableName: t }, owner: 'user', clearExpired: false });
    const inc = new IncumbentStore({ schema: { tableName: t }, clearExpired: false, createDatabaseTable: false }, pool);
    try {
      await rev.set('r', sess(Date.now() + HOUR, { user: 'u1' }));
      await rev.destroy('r');
      expect(await call((cb) => inc.get('r', cb))).toBeNull();
      await call((cb) => inc.set('i', sess(Date.now() + HOUR, { user: 'u1', by: 'incumbent' }), cb));
      expect(withoutCookie(await rev.get('i'))).toEqual({ user: 'u1', by: 'incumbent' });
      // Its rows have no owner: the index is filled by our writes only.
      expect((await rev.sessionsOf('u1')).map((s) => s.sid)).toEqual([]);
      await rev.set('i', (await rev.get('i'))!);
      expect((await rev.sessionsOf('u1')).map((s) => s.sid)).toEqual(['i']);
      await call((cb) => inc.destroy('i', cb));
      expect(await rev.sessionsOf('u1')).toEqual([]);
    } finally {
      await rev.close();
      await inc.close();
    }
  });

  it('MySQLStore uses a table created by express-mysql-session and the reverse', async () => {
    const t = uniqueName('ours');
    const first = new MySQLStore({ client: pool, schema: { tableName: t }, clearExpired: false });
    await first.set('x', sess(Date.now() + HOUR, { made: 'ours' }));
    const inc = new IncumbentStore({ schema: { tableName: t }, clearExpired: false }, pool);
    try {
      await inc.onReady(); // its CREATE TABLE IF NOT EXISTS leaves our table alone
      expect(withoutCookie(await call<SessionData>((cb) => inc.get('x', cb)))).toEqual({ made: 'ours' });
      expect(await inc.length()).toBe(1);
    } finally {
      await inc.close();
      await first.close();
    }
  });

  it('a live app switches from express-mysql-session to MySQLStore and back without logging anybody out', async () => {
    const t = uniqueName('live');
    const serve = async (store: Store): Promise<{ base: string; close: () => Promise<void> }> => {
      const app = express();
      app.use(session({ store, secret: 'switch', resave: false, saveUninitialized: false, cookie: { maxAge: HOUR } }));
      app.get('/inc', (req, res, next) => {
        const s = req.session as typeof req.session & { n?: number };
        s.n = (s.n ?? 0) + 1;
        s.save((err) => (err ? next(err) : res.json({ n: s.n })));
      });
      app.get('/logout', (req, res, next) => req.session.destroy((err) => (err ? next(err) : res.json({ out: true }))));
      const http: Server = app.listen(0, '127.0.0.1');
      await new Promise((r) => http.once('listening', r));
      return {
        base: `http://127.0.0.1:${(http.address() as AddressInfo).port}`,
        close: async () => {
          http.closeAllConnections();
          await new Promise((r) => http.close(r));
        },
      };
    };
    const browsers = Array.from({ length: 5 }, () => ({ cookie: undefined as string | undefined, n: 0 }));
    const visit = async (base: string, b: (typeof browsers)[number], path = '/inc') => {
      const res = await fetch(base + path, { headers: b.cookie ? { cookie: b.cookie } : {} });
      const set = res.headers.get('set-cookie');
      if (set) b.cookie = set.split(';')[0];
      const body = await res.text();
      expect(res.status, body).toBe(200);
      return JSON.parse(body) as { n?: number };
    };
    const phases: Array<() => Store> = [
      () => new IncumbentStore({ schema: { tableName: t }, clearExpired: false }, pool),
      () => new MySQLStore({ client: pool, schema: { tableName: t }, clearExpired: false }),
      () => new IncumbentStore({ schema: { tableName: t }, clearExpired: false }, pool),
    ];
    for (const make of phases) {
      const store = make();
      // The incumbent creates its table in the background: wait for it as an app would before listening.
      await (store as unknown as { onReady(): Promise<void> }).onReady();
      const app = await serve(store);
      try {
        for (const b of browsers) {
          for (let i = 0; i < 2; i++) {
            const { n } = await visit(app.base, b);
            expect(n).toBe(b.n + 1); // the session carried over from the other store
            b.n = n!;
          }
        }
      } finally {
        await app.close();
        await (store as unknown as { close(): Promise<void> }).close();
      }
    }
    expect(browsers.map((b) => b.n)).toEqual(browsers.map(() => 6));
    // A logout through our store is seen by the incumbent after the switch back.
    const store = new MySQLStore({ client: pool, schema: { tableName: t }, clearExpired: false });
    const app = await serve(store);
    await visit(app.base, browsers[0]!, '/logout');
    await app.close();
    await store.close();
    const inc = new IncumbentStore({ schema: { tableName: t }, clearExpired: false }, pool);
    const back = await serve(inc);
    try {
      const { n } = await visit(back.base, browsers[0]!);
      expect(n).toBe(1); // a new session: the old one stayed logged out
    } finally {
      await back.close();
      await inc.close();
    }
  });
});

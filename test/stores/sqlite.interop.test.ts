/**
 * Drop-in proof against better-sqlite3-session-store 0.1 (the incumbent): both stores on one database file
 * and table, each reading what the other wrote, and the incumbent still working on a table that carries our
 * index on `expire`. Finally a real express-session app switches stores without logging its user out.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import Database from 'better-sqlite3';
import express from 'express';
import session, { type SessionData, type Store } from 'express-session';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { SQLiteStore } from '../../stores/sqlite/index.js';

type Cb<T> = (err: unknown, value?: T) => void;
interface IncumbentStore {
  get(sid: string, cb: Cb<SessionData | null>): void;
  set(sid: string, sess: SessionData, cb: Cb<unknown>): void;
  touch(sid: string, sess: SessionData, cb: Cb<unknown>): void;
  destroy(sid: string, cb: Cb<unknown>): void;
  length(cb: Cb<number>): void;
  all(cb: Cb<Array<{ sid: string; sess: string; expire: string }>>): void;
  clear(cb: Cb<unknown>): void;
}
type IncumbentCtor = new (options: { client: Database.Database; expired?: { clear?: boolean; intervalMs?: number } }) => IncumbentStore;

const require = createRequire(import.meta.url);
const IncumbentStore = (require('better-sqlite3-session-store') as (s: typeof session) => IncumbentCtor)(session);

const dir = mkdtempSync(join(tmpdir(), 'sqlite-interop-'));
// The incumbent starts a 15-minute setInterval that nothing can clear (`expired.clear: false` is ignored:
// `clear || true`). We catch its handle at construction so the worker can exit.
const incumbentTimers: NodeJS.Timeout[] = [];
const cleanup: Array<() => unknown> = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});
afterAll(() => {
  for (const timer of incumbentTimers) clearInterval(timer);
  rmSync(dir, { recursive: true, force: true });
});

let n = 0;
function setup(): { file: string; db: Database.Database; incumbent: IncumbentStore; ours: SQLiteStore } {
  const file = join(dir, `interop-${++n}.db`);
  const db = new Database(file);
  const incumbent = newIncumbent(db);
  const ours = new SQLiteStore({ filename: file, pruneIntervalMs: false });
  cleanup.push(
    () => db.close(),
    () => ours.close(),
  );
  return { file, db, incumbent, ours };
}

function newIncumbent(db: Database.Database): IncumbentStore {
  const original = globalThis.setInterval;
  globalThis.setInterval = ((...args: Parameters<typeof setInterval>) => {
    const timer = original(...args);
    incumbentTimers.push(timer);
    return timer;
  }) as typeof setInterval;
  try {
    return new IncumbentStore({ client: db, expired: { clear: false } });
  } finally {
    globalThis.setInterval = original;
  }
}

function call<T>(fn: (cb: Cb<T>) => void): Promise<T> {
  return new Promise((resolve, reject) => fn((err, value) => (err ? reject(err) : resolve(value as T))));
}

function sess(maxAgeMs: number, data: Record<string, unknown> = {}): SessionData {
  const expires = new Date(Date.now() + maxAgeMs);
  // The incumbent reads `cookie.maxAge` (a getter on express-session's Cookie); give it one, non-enumerable.
  const cookie = { originalMaxAge: maxAgeMs, expires, httpOnly: true, path: '/' };
  Object.defineProperty(cookie, 'maxAge', { get: () => expires.getTime() - Date.now(), enumerable: false });
  return { cookie, ...data } as unknown as SessionData;
}

describe('SQLiteStore ⇄ better-sqlite3-session-store', () => {
  it('reads what the incumbent wrote, with its expiry to the millisecond', async () => {
    const { db, incumbent, ours } = setup();
    await call((cb) => incumbent.set('from-incumbent', sess(60_000, { user: 'ada', n: 1 }), cb));
    const stored = db.prepare('SELECT expire FROM sessions WHERE sid = ?').pluck().get('from-incumbent') as string;
    const got = await ours.get('from-incumbent');
    expect(got).toMatchObject({ user: 'ada', n: 1, cookie: { expires: stored } });
    expect(await ours.length()).toBe(1);
    expect(await ours.ids()).toEqual(['from-incumbent']);
    // ...and touches and destroys it.
    const later = sess(120_000);
    await ours.touch('from-incumbent', later);
    expect(db.prepare('SELECT expire FROM sessions').pluck().get()).toBe((later.cookie.expires as Date).toISOString());
    await ours.destroy('from-incumbent');
    expect(await call<SessionData | null>((cb) => incumbent.get('from-incumbent', cb))).toBeNull();
  });

  it('writes what the incumbent reads, touches and destroys', async () => {
    const { incumbent, ours } = setup();
    await ours.set('from-ours', sess(60_000, { user: 'bob' }));
    const got = await call<SessionData | null>((cb) => incumbent.get('from-ours', cb));
    expect(got).toMatchObject({ user: 'bob', cookie: { originalMaxAge: 60_000 } });
    expect(await call<number>((cb) => incumbent.length(cb))).toBe(1);

    const later = sess(300_000);
    await call((cb) => incumbent.touch('from-ours', later, cb));
    expect((await ours.get('from-ours'))?.cookie.expires).toBe((later.cookie.expires as Date).toISOString());

    // The incumbent's INSERT OR REPLACE over our row, then ours over its row.
    await call((cb) => incumbent.set('from-ours', sess(60_000, { user: 'bob', v: 2 }), cb));
    expect(await ours.get('from-ours')).toMatchObject({ v: 2 });
    await ours.set('from-ours', sess(60_000, { user: 'bob', v: 3 }));
    expect(await call<SessionData | null>((cb) => incumbent.get('from-ours', cb))).toMatchObject({ v: 3 });

    await call((cb) => incumbent.destroy('from-ours', cb));
    expect(await ours.get('from-ours')).toBeNull();
  });

  it('leaves the incumbent fully working on a table that has our expire index', async () => {
    const { db, incumbent, ours } = setup();
    await ours.ready();
    expect(db.prepare(`SELECT name FROM sqlite_master WHERE type = 'index' AND name = 'sessions_expire_idx'`).pluck().get()).toBe(
      'sessions_expire_idx',
    );
    // A second incumbent instance re-runs its CREATE TABLE IF NOT EXISTS on the indexed table.
    const again = newIncumbent(db);
    for (let i = 0; i < 20; i++) await call((cb) => again.set(`i-${i}`, sess(60_000, { i }), cb));
    const rows = await call<Array<{ sid: string }>>((cb) => again.all(cb));
    expect(rows).toHaveLength(20);
    expect(await ours.length()).toBe(20);
    expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
    await call((cb) => incumbent.clear(cb));
    expect(await ours.length()).toBe(0);
    expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
  });

  it("treats the incumbent's expired rows as expired, and prunes them", async () => {
    const { db, incumbent, ours } = setup();
    await call((cb) => incumbent.set('short', sess(30), cb));
    await ours.set('long', sess(60_000));
    await sleep(50);
    expect(await ours.get('short')).toBeNull();
    expect(await ours.length()).toBe(1);
    expect(await ours.prune()).toBe(1);
    expect(db.prepare('SELECT sid FROM sessions').pluck().all()).toEqual(['long']);
  });

  it('with revocation and owners on, the incumbent keeps working and reads a tombstone as no session', async () => {
    const file = join(dir, `revocation-${++n}.db`);
    const db = new Database(file);
    const incumbent = newIncumbent(db);
    const ours = new SQLiteStore({ filename: file, pruneIntervalMs: false, owner: 'user' });
    cleanup.push(
      () => db.close(),
      () => ours.close(),
    );
    expect(ours.supports).toMatchObject({ revocation: true, owners: true });
    await ours.set('mine', sess(60_000, { user: 'ada' }));
    // The owner index is a side table: the incumbent's three-value INSERT OR REPLACE still fits the sessions table.
    expect((db.prepare('PRAGMA table_info(sessions)').all() as Array<{ name: string }>).map((c) => c.name)).toEqual([
      'sid',
      'sess',
      'expire',
    ]);
    await call((cb) => incumbent.set('theirs', sess(60_000, { user: 'ada' }), cb));
    await call((cb) => incumbent.set('mine', sess(60_000, { user: 'ada', v: 2 }), cb));
    expect(await ours.get('mine')).toMatchObject({ v: 2 });
    // Rows the incumbent inserted are not indexed; the ones it rewrote keep their entry.
    expect((await ours.sessionsOf('ada')).map((s) => s.sid)).toEqual(['mine']);

    // A tombstone: sess 'null', which the incumbent's get parses to null: no session, no crash.
    await ours.destroy('mine');
    expect(db.prepare(`SELECT sess FROM sessions WHERE sid = 'mine'`).pluck().get()).toBe('null');
    expect(await call<SessionData | null>((cb) => incumbent.get('mine', cb))).toBeNull();
    // Its touch checks only the expiry, so it may lengthen the tombstone; it never makes a session of it.
    await call((cb) => incumbent.touch('mine', sess(120_000), cb));
    expect(await call<SessionData | null>((cb) => incumbent.get('mine', cb))).toBeNull();
    await ours.set('mine', sess(60_000, { user: 'ada', late: true }));
    expect(await ours.get('mine')).toBeNull();
    expect(await call<SessionData | null>((cb) => incumbent.get('mine', cb))).toBeNull();
    expect(await ours.ids()).toEqual(['theirs']);
    expect(await ours.sessionsOf('ada')).toEqual([]);
    // Its all() and length() list table rows, expired ones included, and so the tombstone too (sess 'null').
    const listed = await call<Array<{ sid: string; sess: string }>>((cb) => incumbent.all(cb));
    expect(listed.map((r) => [r.sid, JSON.parse(r.sess) === null]).sort()).toEqual([
      ['mine', true],
      ['theirs', false],
    ]);

    // Its destroy leaves our index entry behind: dropped the next time the owner is listed.
    await ours.set('mine2', sess(60_000, { user: 'ada' }));
    await call((cb) => incumbent.destroy('mine2', cb));
    expect(await ours.sessionsOf('ada')).toEqual([]);
    expect(db.prepare('SELECT COUNT(*) FROM sessions_owners').pluck().get()).toBe(0);

    // Its pruning deletes an expired tombstone like an expired session.
    db.prepare(`UPDATE sessions SET expire = ? WHERE sid = 'mine'`).run(new Date(Date.now() - 1000).toISOString());
    (incumbent as unknown as { clearExpiredSessions(): void }).clearExpiredSessions();
    expect(db.prepare('SELECT sid FROM sessions').pluck().all()).toEqual(['theirs']);
    expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
  });

  it('an express-session app switched from the incumbent to SQLiteStore keeps its users logged in', async () => {
    const file = join(dir, `switch-${++n}.db`);
    const db = new Database(file);
    cleanup.push(() => db.close());
    const oldApp = await serve(newIncumbent(db) as unknown as Store);
    const login = await fetch(`${oldApp.url}/login`, { method: 'POST' });
    await login.text(); // the body comes after the store's save completes; the headers come before
    const cookie = login.headers.get('set-cookie')!.split(';')[0]!;
    expect(await (await fetch(`${oldApp.url}/me`, { headers: { cookie } })).json()).toEqual({ user: 'ada', visits: 1 });
    await oldApp.close();

    const ours = new SQLiteStore({ filename: file });
    cleanup.push(() => ours.close());
    const newApp = await serve(ours);
    cleanup.push(() => newApp.close());
    expect(await (await fetch(`${newApp.url}/me`, { headers: { cookie } })).json()).toEqual({ user: 'ada', visits: 2 });
    expect(await (await fetch(`${newApp.url}/me`, { headers: { cookie } })).json()).toEqual({ user: 'ada', visits: 3 });
  });
});

async function serve(store: Store): Promise<{ url: string; close: () => Promise<void> }> {
  const app = express();
  app.use(session({ store, secret: 'interop', resave: false, saveUninitialized: false, cookie: { maxAge: 60_000 } }));
  app.post('/login', (req, res) => {
    (req.session as unknown as Record<string, unknown>).user = 'ada';
    res.json({ ok: true });
  });
  app.get('/me', (req, res) => {
    const s = req.session as unknown as { user?: string; visits?: number };
    s.visits = (s.visits ?? 0) + 1;
    res.json({ user: s.user ?? null, visits: s.visits });
  });
  const server = app.listen(0, '127.0.0.1');
  await new Promise<void>((resolve) => server.once('listening', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

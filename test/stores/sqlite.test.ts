import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import Database from 'better-sqlite3';
import type { SessionData } from 'express-session';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { isSessionStoreError } from '../../shared/errors.js';
import { conformance } from '../../conformance/index.js';
import { SQLiteStore, type SQLiteStoreOptions } from '../../stores/sqlite/index.js';
import SQLiteStoreDefault from '../../stores/sqlite/index.js';
import { AT_REST_MODES, conformanceIn, HOUR, atRestOptions, sess } from './helpers.js';
import { sqliteRaw } from './raw.js';

const dir = mkdtempSync(join(tmpdir(), 'sqlite-store-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let fileCounter = 0;
const tempFile = (): string => join(dir, `t${++fileCounter}.db`);

const opened: SQLiteStore[] = [];
const dbs: Database.Database[] = [];
afterEach(async () => {
  for (const store of opened.splice(0)) if (!store.closed) await store.close();
  for (const db of dbs.splice(0)) if (db.open) db.close();
});

function open(options: SQLiteStoreOptions | Database.Database): SQLiteStore {
  const store = new SQLiteStore(options);
  opened.push(store);
  return store;
}

function memoryDb(): Database.Database {
  const db = new Database(':memory:');
  dbs.push(db);
  return db;
}

// The whole suite twice: on one shared database handed in as `client` (a table per namespace), and with every
// store opening the same file itself (WAL, its own connection, closed by close()).
{
  const shared = new Database(join(dir, 'conformance-shared.db'));
  // As an app that owns its database would set it up; in the default rollback-journal mode with
  // synchronous=FULL every write costs a few fsyncs (1000 parallel sets take ~10 s instead of ~0.2 s).
  shared.pragma('journal_mode = WAL');
  shared.pragma('synchronous = NORMAL');
  afterAll(() => shared.close());
  let tables = 0;
  // On the shared client: plain, then with sessions encrypted, under hashed ids, and both (issue 17).
  for (const mode of [undefined, ...AT_REST_MODES]) {
    conformanceIn(mode, {
      test: it,
      describe,
      name: `SQLiteStore conformance (shared client${mode ? `, ${mode.label}` : ''})`,
      raw: sqliteRaw,
      factory: (hints) =>
        new SQLiteStore({
          client: shared,
          tableName: hints?.namespace !== undefined ? `ns_${hints.namespace}` : `t_${++tables}`,
          ttl: hints?.ttl,
          touchAfter: hints?.touchAfter,
          disableTouch: hints?.disableTouch,
          owner: hints?.owner,
          ...atRestOptions(hints, mode),
        }),
    });
  }

  const file = join(dir, 'conformance-own.db');
  conformance({
    test: it,
    describe,
    name: 'SQLiteStore conformance (store opens the file)',
    factory: (hints) =>
      new SQLiteStore({
        filename: file,
        tableName: hints?.namespace !== undefined ? `ns_${hints.namespace}` : `t_${++tables}`,
        ttl: hints?.ttl,
        touchAfter: hints?.touchAfter,
        disableTouch: hints?.disableTouch,
        owner: hints?.owner,
        ...atRestOptions(hints, undefined),
      }),
  });
}

describe('SQLiteStore: layout (better-sqlite3-session-store compatible)', () => {
  it('exports the class as named and default export', () => {
    expect(SQLiteStoreDefault).toBe(SQLiteStore);
  });

  it('creates sessions(sid, sess, expire) plus an index on expire, and writes ISO expiry with ms', async () => {
    const db = memoryDb();
    const store = open(db);
    const expires = Date.UTC(2099, 0, 2, 3, 4, 5, 678);
    const written = sess(expires, { n: 1 });
    await store.set('abc', written);
    const columns = db.prepare(`PRAGMA table_info(sessions)`).all() as Array<{ name: string; type: string; notnull: number; pk: number }>;
    expect(columns.map((c) => [c.name, c.type, c.notnull, c.pk])).toEqual([
      ['sid', 'TEXT', 1, 1],
      ['sess', 'JSON', 1, 0],
      ['expire', 'TEXT', 1, 0],
    ]);
    const indexes = db
      .prepare(`SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'sessions' AND sql IS NOT NULL`)
      .all();
    expect(indexes).toEqual([{ name: 'sessions_expire_idx', sql: 'CREATE INDEX "sessions_expire_idx" ON "sessions" (expire)' }]);
    const row = db.prepare('SELECT sid, sess, expire, typeof(expire) AS t FROM sessions').get() as Record<string, unknown>;
    expect(row).toEqual({ sid: 'abc', sess: JSON.stringify(written), expire: '2099-01-02T03:04:05.678Z', t: 'text' });
  });

  it('uses the expire index for pruning', async () => {
    const db = memoryDb();
    await open(db).ready();
    const plan = (sql: string): string =>
      (db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all('2030-01-01T00:00:00.000Z') as Array<{ detail: string }>)
        .map((r) => r.detail)
        .join(' | ');
    expect(plan('SELECT rowid FROM "sessions" WHERE expire <= ? LIMIT 10')).toMatch(/sessions_expire_idx/);
  });

  it('keeps millisecond expiry and never returns an expired session', async () => {
    const store = open(memoryDb());
    const expires = Date.now() + 40;
    await store.set('ms', sess(expires));
    const got = await store.get('ms');
    // Asserted only when the read finished before the stored expiry: on a loaded machine it may not have.
    if (Date.now() < expires) expect(got).not.toBeNull();
    await sleep(Math.max(0, expires - Date.now()) + 1);
    expect(await store.get('ms')).toBeNull();
    expect(await store.length()).toBe(0);
    expect(await store.ids()).toEqual([]);
  });

  it('stores the latest expiry (year 9999) exactly and refuses a later one before writing', async () => {
    const db = memoryDb();
    const max = Date.UTC(9999, 11, 31, 23, 59, 59, 999);
    const store = open({ client: db, ttl: (max - Date.now()) / 1000 });
    await store.set('far', sess(max));
    expect(db.prepare('SELECT expire FROM sessions').pluck().get()).toBe('9999-12-31T23:59:59.999Z');
    expect(await store.length()).toBe(1);
    await store.touch('far', sess(max));
    expect(await store.get('far')).not.toBeNull();
    const err = await store.set('later', sess(max + 1)).catch((e: unknown) => e);
    expect(isSessionStoreError(err, 'SESSION_STORE_INVALID_SESSION')).toBe(true);
    expect(db.prepare(`SELECT COUNT(*) FROM sessions WHERE sid = 'later'`).pluck().get()).toBe(0);
  });

  it('reads a row whose sess looks numeric back as the text that was stored', async () => {
    const store = open({
      client: memoryDb(),
      serializer: { stringify: () => '12e3' as string, parse: (s: string) => ({ cookie: {}, s }) as unknown as SessionData },
    });
    await store.set('num', sess(Date.now() + HOUR));
    expect(await store.get('num')).toMatchObject({ s: '12e3' });
  });
});

describe('SQLiteStore: touch', () => {
  it('moves only the expiry, never creates and never resurrects', async () => {
    const db = memoryDb();
    const store = open(db);
    await store.touch('missing', sess(Date.now() + HOUR));
    expect(db.prepare('SELECT COUNT(*) FROM sessions').pluck().get()).toBe(0);

    await store.set('t', sess(Date.now() + HOUR, { v: 1 }));
    const later = Date.now() + 2 * HOUR;
    await store.touch('t', sess(later, { v: 999 }));
    expect(await store.get('t')).toMatchObject({ v: 1, cookie: { expires: new Date(later).toISOString() } });

    await store.set('dead', sess(Date.now() + 20));
    await sleep(40);
    await store.touch('dead', sess(Date.now() + HOUR));
    expect(await store.get('dead')).toBeNull();
    expect(db.prepare(`SELECT expire < ? FROM sessions WHERE sid = 'dead'`).pluck().get(new Date().toISOString())).toBe(1);
  });
});

describe('SQLiteStore: revocation and owners', () => {
  const rows = (db: Database.Database, table = 'sessions'): unknown[] =>
    db.prepare(`SELECT sid, sess, expire FROM "${table}" ORDER BY sid`).all();

  it("destroy() leaves a tombstone row (sess 'null', expire at the end of the window); without revocation, a DELETE", async () => {
    const db = memoryDb();
    const store = open({ client: db, revocationWindowMs: 60_000 });
    await store.set('a', sess(Date.now() + HOUR, { user: 'alice' }));
    const before = Date.now();
    await store.destroy('a');
    const [row] = rows(db) as Array<{ sid: string; sess: string; expire: string }>;
    expect(row).toMatchObject({ sid: 'a', sess: 'null' });
    expect(Date.parse(row!.expire)).toBeGreaterThanOrEqual(before + 60_000);
    expect(Date.parse(row!.expire)).toBeLessThanOrEqual(Date.now() + 60_000);
    await store.touch('a', sess(Date.now() + HOUR));
    expect(rows(db)).toEqual([row]); // touch does not extend a tombstone
    await store.set('a', sess(Date.now() + HOUR, { late: true }));
    expect(await store.get('a')).toBeNull();
    // A save with a past expiry removes a session; with revocation it leaves a tombstone, never deletes one.
    await store.set('a', sess(Date.now() - 1000));
    await store.set('a', sess(Date.now() + HOUR));
    expect(await store.get('a')).toBeNull();
    expect(rows(db)).toMatchObject([{ sid: 'a', sess: 'null' }]);
    expect([await store.length(), await store.ids(), await store.all()]).toEqual([0, [], {}]);

    const plainDb = memoryDb();
    const plain = open({ client: plainDb, revocationWindowMs: false });
    expect(plain.supports.revocation).toBe(false);
    await plain.set('a', sess(Date.now() + HOUR));
    await plain.destroy('a');
    expect(rows(plainDb)).toEqual([]);
    await plain.set('a', sess(Date.now() + HOUR, { back: true }));
    expect(await plain.get('a')).toMatchObject({ back: true });
  });

  it('a tombstone gives way once expired; pruning deletes it without counting it; clear() takes it', async () => {
    const db = memoryDb();
    const store = open({ client: db, revocationWindowMs: 60_000 });
    for (const sid of ['a', 'b', 'old']) await store.set(sid, sess(Date.now() + HOUR));
    await store.destroy('a');
    await store.destroy('b');
    const past = new Date(Date.now() - 1000).toISOString();
    db.prepare(`UPDATE sessions SET expire = ? WHERE sid = 'a'`).run(past);
    await store.set('a', sess(Date.now() + HOUR, { v: 2 }));
    expect(await store.get('a')).toMatchObject({ v: 2 });
    db.prepare(`UPDATE sessions SET expire = ? WHERE sid IN ('b', 'old')`).run(past);
    expect(await store.prune()).toBe(1);
    expect(db.prepare('SELECT sid FROM sessions').pluck().all()).toEqual(['a']);
    await store.destroy('a');
    await store.clear();
    expect(rows(db)).toEqual([]);
  });

  it('owner: a side table <table>_owners(sid, owner) indexed on owner, only when asked; the sessions table keeps its three columns', async () => {
    const db = memoryDb();
    const plain = open({ client: db, tableName: 'plain' });
    await plain.ready();
    const store = open({ client: db, owner: 'user' });
    await store.ready();
    const tables = db.prepare(`SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name`).pluck().all();
    expect(tables).toEqual(['plain', 'sessions', 'sessions_owners']);
    expect((db.prepare('PRAGMA table_info(sessions)').all() as Array<{ name: string }>).map((c) => c.name)).toEqual([
      'sid',
      'sess',
      'expire',
    ]);
    const plan = (db.prepare(`EXPLAIN QUERY PLAN SELECT sid FROM sessions_owners WHERE owner = ?`).all('x') as Array<{ detail: string }>)
      .map((r) => r.detail)
      .join(' | ');
    expect(plan).toMatch(/sessions_owners_owner_idx/);

    for (let i = 0; i < 3; i++) await store.set(`alice-${i}`, sess(Date.now() + HOUR, { user: 'alice' }));
    await store.set('bob', sess(Date.now() + HOUR, { user: 'bob' }));
    await store.set('anon', sess(Date.now() + HOUR));
    const index = (): unknown[] => db.prepare('SELECT sid, owner FROM sessions_owners ORDER BY sid').all();
    expect(index()).toEqual([
      { sid: 'alice-0', owner: 'alice' },
      { sid: 'alice-1', owner: 'alice' },
      { sid: 'alice-2', owner: 'alice' },
      { sid: 'bob', owner: 'bob' },
    ]);
    // A new owner moves the entry, a session without one drops it, a destroy drops it, a late write adds nothing.
    await store.set('bob', sess(Date.now() + HOUR, { user: 'carol' }));
    await store.set('alice-2', sess(Date.now() + HOUR));
    await store.destroy('alice-1');
    await store.set('alice-1', sess(Date.now() + HOUR, { user: 'alice' }));
    expect(index()).toEqual([
      { sid: 'alice-0', owner: 'alice' },
      { sid: 'bob', owner: 'carol' },
    ]);
    expect((await store.sessionsOf('alice')).map((s) => s.sid)).toEqual(['alice-0']);
    expect(await store.destroyOwner('carol')).toBe(1);
    expect(index()).toEqual([{ sid: 'alice-0', owner: 'alice' }]);
  });

  it('owner: entries whose session was deleted behind its back or expired are dropped when the owner is listed; prune and clear take them', async () => {
    const db = memoryDb();
    const store = open({ client: db, owner: 'user' });
    for (const sid of ['gone', 'expired', 'kept', 'pruned']) await store.set(sid, sess(Date.now() + HOUR, { user: 'ann' }));
    db.prepare(`DELETE FROM sessions WHERE sid = 'gone'`).run(); // as better-sqlite3-session-store's destroy does
    db.prepare(`UPDATE sessions SET expire = ? WHERE sid = 'expired'`).run(new Date(Date.now() - 1000).toISOString());
    expect((await store.sessionsOf('ann')).map((s) => s.sid).sort()).toEqual(['kept', 'pruned']);
    const index = (): unknown[] => db.prepare('SELECT sid FROM sessions_owners ORDER BY sid').pluck().all();
    expect(index()).toEqual(['kept', 'pruned']);
    db.prepare(`UPDATE sessions SET expire = ? WHERE sid = 'pruned'`).run(new Date(Date.now() - 1000).toISOString());
    expect(await store.prune()).toBe(2);
    expect(index()).toEqual(['kept']);
    await store.clear();
    expect(index()).toEqual([]);
  });

  it('owner: set and destroy change the session and its index entry together or not at all', async () => {
    const db = memoryDb();
    const store = open({ client: db, owner: 'user' });
    await store.ready();
    // A failing index write (a trigger standing in for a full disk) must roll the session write back.
    db.exec(`CREATE TRIGGER no_bob BEFORE INSERT ON sessions_owners WHEN NEW.owner = 'bob' BEGIN SELECT RAISE(ABORT, 'disk full'); END`);
    await expect(store.set('b', sess(Date.now() + HOUR, { user: 'bob' }))).rejects.toMatchObject({ code: 'SESSION_STORE_BACKEND' });
    expect(rows(db)).toEqual([]);
    await store.set('a', sess(Date.now() + HOUR, { user: 'ann' }));
    expect(await store.get('a')).toMatchObject({ user: 'ann' });
  });
});

describe('SQLiteStore: table name', () => {
  it('quotes hostile table names: they name a table, never run SQL', async () => {
    const db = memoryDb();
    db.exec('CREATE TABLE victim (x)');
    const hostile = ['x"; DROP TABLE victim; --', 'a.b', "it's", 'sp ace', '"', 'ünï"côdé', 'sessions_expire_idx2'];
    for (const name of hostile) {
      const store = open({ client: db, tableName: name, pruneIntervalMs: false });
      await store.set('s', sess(Date.now() + HOUR, { name }));
      expect(await store.get('s')).toMatchObject({ name });
      expect(await store.length()).toBe(1);
      expect(await store.prune()).toBe(0);
      await store.clear();
    }
    const tables = db.prepare(`SELECT name FROM sqlite_master WHERE type = 'table'`).pluck().all();
    expect(tables).toEqual(expect.arrayContaining(['victim', ...hostile]));
  });

  it('isolates tables in one database', async () => {
    const db = memoryDb();
    const a = open({ client: db, tableName: 'a' });
    const b = open({ client: db, tableName: 'b' });
    await a.set('s', sess(Date.now() + HOUR, { from: 'a' }));
    expect(await b.get('s')).toBeNull();
    await b.clear();
    expect(await a.length()).toBe(1);
  });

  it.each([[''], ['sqlite_master'], ['SQLITE_x'], ['a\u0000b'], ['x'.repeat(129)], [42]])('rejects table name %j', (name) => {
    const err = captureError(() => new SQLiteStore({ client: memoryDb(), tableName: name as string }));
    expect(isSessionStoreError(err, 'SESSION_STORE_INVALID_OPTION')).toBe(true);
  });
});

describe('SQLiteStore: opening and closing', () => {
  it('needs a client or a filename', () => {
    expect(
      isSessionStoreError(
        captureError(() => new SQLiteStore({})),
        'SESSION_STORE_INVALID_OPTION',
      ),
    ).toBe(true);
    expect(
      isSessionStoreError(
        captureError(() => new SQLiteStore({ client: {} as Database.Database })),
        'SESSION_STORE_INVALID_OPTION',
      ),
    ).toBe(true);
    const closed = new Database(':memory:');
    closed.close();
    expect(
      isSessionStoreError(
        captureError(() => new SQLiteStore(closed)),
        'SESSION_STORE_INVALID_OPTION',
      ),
    ).toBe(true);
  });

  it('opens a file in WAL mode with a short synchronous busy timeout and synchronous=NORMAL, and closes it on close()', async () => {
    const store = open({ filename: tempFile() });
    await store.ready();
    const db = store.client;
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    // Lock waits beyond a couple of ms are asynchronous (busyTimeoutMs), never a frozen event loop.
    expect(db.pragma('busy_timeout', { simple: true })).toBe(2);
    expect(db.pragma('synchronous', { simple: true })).toBe(1);
    await store.close();
    expect(db.open).toBe(false);
    await store.close(); // idempotent
    expect(isSessionStoreError(await store.get('x').catch((e: unknown) => e), 'SESSION_STORE_CLOSED')).toBe(true);
  });

  it('honours databaseOptions when it opens the file, and fails at construction when it cannot', async () => {
    const file = tempFile();
    new Database(file).close();
    const store = open({ filename: file, databaseOptions: { fileMustExist: true } });
    await store.set('s', sess(Date.now() + HOUR));
    expect(
      () => new SQLiteStore({ filename: join(dir, 'absent.db'), databaseOptions: { fileMustExist: true }, pruneIntervalMs: 10 }),
    ).toThrow();
  });

  it('never closes nor reconfigures a database it was given', async () => {
    const file = tempFile();
    const db = new Database(file, { timeout: 1234 });
    dbs.push(db);
    const store = open(db);
    await store.ready();
    expect(db.pragma('journal_mode', { simple: true })).toBe('delete');
    expect(db.pragma('busy_timeout', { simple: true })).toBe(1234);
    await store.set('s', sess(Date.now() + HOUR));
    await store.close();
    expect(db.open).toBe(true);
    expect(db.prepare('SELECT COUNT(*) FROM sessions').pluck().get()).toBe(1);
  });

  it('switches a given database to WAL only when asked, and never touches its busy timeout', async () => {
    const db = new Database(tempFile(), { timeout: 777 });
    dbs.push(db);
    const store = open({ client: db, wal: true, busyTimeoutMs: 100 });
    await store.ready();
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(db.pragma('busy_timeout', { simple: true })).toBe(777);
    expect(store.client).toBe(db);
    expect(store.database).toBe(db); // the old name
  });

  it('lets other statements run while all() / ids() page through many rows', async () => {
    const store = open({ filename: tempFile() });
    await store.ready();
    const insert = store.client.prepare('INSERT INTO sessions VALUES (?, ?, ?)');
    const expire = new Date(Date.now() + HOUR).toISOString();
    store.client.transaction(() => {
      for (let i = 0; i < 1234; i++) insert.run(`sid-${String(i).padStart(5, '0')}`, JSON.stringify({ cookie: {}, i }), expire);
    })();
    const [ids, all] = await Promise.all([
      store.ids(),
      store.all(),
      store.set('zzz-late', sess(Date.now() + HOUR)),
      store.get('sid-00001'),
    ]);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids.filter((s) => s.startsWith('sid-'))).toHaveLength(1234);
    expect(Object.keys(all).filter((s) => s.startsWith('sid-'))).toHaveLength(1234);
    expect(all['sid-01000']).toMatchObject({ i: 1000 });
  });
});

describe('SQLiteStore: pruning', () => {
  class CountingStore extends SQLiteStore {
    batches: number[] = [];
    protected override async *_prune(now: number, limit: number): AsyncIterable<number> {
      for await (const n of super._prune!(now, limit)) {
        this.batches.push(n);
        yield n;
      }
    }
  }

  it('deletes expired sessions in bounded batches and keeps live ones', async () => {
    const store = new CountingStore({ filename: tempFile(), pruneBatchSize: 1000, pruneIntervalMs: false });
    opened.push(store);
    await store.ready();
    const db = store.client;
    const insert = db.prepare('INSERT INTO sessions VALUES (?, ?, ?)');
    const past = new Date(Date.now() - 1000).toISOString();
    const future = new Date(Date.now() + HOUR).toISOString();
    db.transaction(() => {
      for (let i = 0; i < 2500; i++) insert.run(`old-${i}`, '{"cookie":{}}', past);
      for (let i = 0; i < 10; i++) insert.run(`live-${i}`, '{"cookie":{}}', future);
    })();
    expect(await store.prune()).toBe(2500);
    // At most 250 rows per statement whatever pruneBatchSize says: better-sqlite3 runs each one synchronously.
    expect(store.batches).toEqual([...Array(10).fill(250), 0]);
    expect(db.prepare('SELECT COUNT(*) FROM sessions').pluck().get()).toBe(10);
    expect(await store.length()).toBe(10);
  });

  it('prunes on its own schedule when pruneIntervalMs is set', async () => {
    const store = open({ client: memoryDb(), pruneIntervalMs: 20 });
    await store.set('short', sess(Date.now() + 5));
    const count = (): unknown => store.client.prepare('SELECT COUNT(*) FROM sessions').pluck().get();
    await until(() => count() === 0);
  });

  it('accepts better-sqlite3-session-store expired options as aliases', async () => {
    const pruned = open({ client: memoryDb(), expired: { intervalMs: 20 } });
    const neverPruned = open({ client: memoryDb(), expired: { clear: false, intervalMs: 10 } });
    for (const store of [pruned, neverPruned]) await store.set('short', sess(Date.now() + 5));
    const rows = (s: SQLiteStore): unknown => s.client.prepare('SELECT COUNT(*) FROM sessions').pluck().get();
    await until(() => rows(pruned) === 0);
    expect(neverPruned.supports.prune).toBe(true);
    expect(rows(neverPruned)).toBe(1);
    // The same setting under two names must agree.
    const err = captureError(() => new SQLiteStore({ client: memoryDb(), expired: { intervalMs: 20 }, pruneIntervalMs: false }));
    expect(isSessionStoreError(err, 'SESSION_STORE_INVALID_OPTION')).toBe(true);
  });

  it('a failed constructor leaves no pruning timer behind', () => {
    const err = captureError(() => new SQLiteStore({ filename: join(dir, 'no', 'such', 'dir.db'), pruneIntervalMs: 1 }));
    expect(String(err)).toMatch(/directory does not exist/);
  });
});

/** Polls `condition` every 10 ms until it holds; fails after 10 s. */
async function until(condition: () => boolean): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met within 10 s');
    await sleep(10);
  }
}

function captureError(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  return undefined;
}

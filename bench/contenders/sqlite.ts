import { createRequire } from 'node:module';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import session from 'express-session';
import type { SessionData, Store } from 'express-session';
import { SQLiteStore } from '../../stores/sqlite/index.js';
import { type BackendFactory, type Contender, RawStore, expiryOf } from '../lib/contender.js';
import { scratchDir } from '../lib/tmp.js';

const require = createRequire(import.meta.url);
type IncumbentCtor = new (options: { client: Database.Database; expired?: object }) => Store;
const incumbentFactory = require('better-sqlite3-session-store') as (s: typeof session) => IncumbentCtor;

/**
 * Every contender gets its own file with the pragmas our store sets on a file it opens (WAL,
 * `synchronous = NORMAL`), so the comparison is of the store code, not of journal modes.
 */
function openDb(file: string): Database.Database {
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  return db;
}

/** Prepared statements on better-sqlite3-session-store's table (plus the expire index ours adds). */
function rawSqlite(db: Database.Database): RawStore {
  db.exec(
    'CREATE TABLE IF NOT EXISTS sessions (sid TEXT NOT NULL PRIMARY KEY, sess JSON NOT NULL, expire TEXT NOT NULL);' +
      'CREATE INDEX IF NOT EXISTS sessions_expire_idx ON sessions (expire);',
  );
  const get = db.prepare<[string, string], { sess: string }>('SELECT sess FROM sessions WHERE sid = ? AND expire > ?');
  const set = db.prepare(
    'INSERT INTO sessions (sid, sess, expire) VALUES (?, ?, ?) ON CONFLICT (sid) DO UPDATE SET sess = excluded.sess, expire = excluded.expire',
  );
  const touch = db.prepare('UPDATE sessions SET expire = ? WHERE sid = ? AND expire > ?');
  const destroy = db.prepare('DELETE FROM sessions WHERE sid = ?');
  const iso = (ms: number) => new Date(ms).toISOString();
  return new RawStore({
    async get(sid) {
      const row = get.get(sid, iso(Date.now()));
      return row ? (JSON.parse(row.sess) as SessionData) : null;
    },
    async set(sid, sess) {
      set.run(sid, JSON.stringify(sess), iso(expiryOf(sess)));
    },
    async touch(sid, sess) {
      touch.run(iso(expiryOf(sess)), sid, iso(Date.now()));
    },
    async destroy(sid) {
      destroy.run(sid);
    },
  });
}

/**
 * better-sqlite3-session-store starts a `setInterval` that can neither be disabled (`clear: false` is ignored)
 * nor stopped, which would keep the harness alive: capture it while constructing so `close()` can clear it.
 */
function withCapturedIntervals<T>(make: () => T): { value: T; timers: NodeJS.Timeout[] } {
  const timers: NodeJS.Timeout[] = [];
  const original = globalThis.setInterval;
  globalThis.setInterval = ((...args: Parameters<typeof setInterval>) => {
    const t = original(...args);
    timers.push(t);
    return t;
  }) as typeof setInterval;
  try {
    return { value: make(), timers };
  } finally {
    globalThis.setInterval = original;
  }
}

/** SQLite: ours, better-sqlite3-session-store, and prepared statements. */
export const sqlite: BackendFactory = async () => {
  const version = new Database(':memory:').prepare('SELECT sqlite_version() AS v').get() as { v: string };
  const contenders: Contender[] = [
    {
      name: 'ours (SQLiteStore)',
      role: 'ours',
      async create({ ns, touchAfter, options }) {
        const tmp = scratchDir(ns);
        const store = new SQLiteStore({ filename: join(tmp.dir, 'sessions.db'), touchAfter, ...options });
        return { store, close: async () => (await store.close(), await tmp.remove()) };
      },
    },
    {
      name: 'better-sqlite3-session-store 0.1',
      role: 'incumbent',
      async create({ ns }) {
        const tmp = scratchDir(ns);
        const db = openDb(join(tmp.dir, 'sessions.db'));
        const Incumbent = incumbentFactory(session);
        const { value: store, timers } = withCapturedIntervals(() => new Incumbent({ client: db }));
        return {
          store,
          close: async () => {
            timers.forEach(clearInterval);
            db.close();
            await tmp.remove();
          },
        };
      },
    },
    {
      name: 'raw better-sqlite3',
      role: 'raw',
      async create({ ns }) {
        const tmp = scratchDir(ns);
        const db = openDb(join(tmp.dir, 'sessions.db'));
        return { store: rawSqlite(db), close: async () => (db.close(), await tmp.remove()) };
      },
    },
  ];
  return { name: 'sqlite', server: `SQLite ${version.v} (better-sqlite3, WAL, synchronous=NORMAL)`, contenders };
};

import type BetterSqlite3 from 'better-sqlite3';
import { quoteIdentifier } from './identifier.js';

/**
 * better-sqlite3-session-store's table, byte for byte, plus the index on `expire` it never had. The index only
 * adds a B-tree: that store's `INSERT OR REPLACE`, `datetime(expire)` filters and full scans work unchanged.
 */
export function schemaSql(table: string): string {
  const t = quoteIdentifier(table);
  const index = quoteIdentifier(`${table}_expire_idx`);
  return `CREATE TABLE IF NOT EXISTS ${t} (sid TEXT NOT NULL PRIMARY KEY, sess JSON NOT NULL, expire TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS ${index} ON ${t} (expire);`;
}

/** Pragmas that make one file safe and fast for several processes: WAL, a busy timeout, `synchronous=NORMAL`. */
export function applyPragmas(
  db: BetterSqlite3.Database,
  settings: { busyTimeoutMs?: number; wal: boolean; synchronousNormal: boolean },
): void {
  // First, so that every later step waits (briefly) for other processes instead of failing at once.
  if (settings.busyTimeoutMs !== undefined) db.pragma(`busy_timeout = ${Math.floor(settings.busyTimeoutMs)}`);
  if (settings.wal && !db.memory && db.pragma('journal_mode', { simple: true }) !== 'wal') db.pragma('journal_mode = WAL');
  // In WAL mode NORMAL is durable across application crashes; only a power loss can drop the last commits.
  if (settings.synchronousNormal) db.pragma('synchronous = NORMAL');
}

/** Every statement the store runs, prepared once. */
export interface Statements {
  get: BetterSqlite3.Statement<[string], { sess: unknown; expire: unknown }>;
  set: BetterSqlite3.Statement<[string, string | Buffer, string]>;
  touch: BetterSqlite3.Statement<[string, string, string]>;
  destroy: BetterSqlite3.Statement<[string]>;
  entries: BetterSqlite3.Statement<[string, string, number], { sid: string; sess: unknown; expire: unknown }>;
  ids: BetterSqlite3.Statement<[string, string, number], string>;
  clear: BetterSqlite3.Statement<[number]>;
  prune: BetterSqlite3.Statement<[string, number]>;
}

export function prepare(db: BetterSqlite3.Database, table: string): Statements {
  const t = quoteIdentifier(table);
  return {
    get: db.prepare(`SELECT sess, expire FROM ${t} WHERE sid = ?`),
    // An upsert keeps the rowid (INSERT OR REPLACE deletes and re-inserts, touching every index twice).
    set: db.prepare(
      `INSERT INTO ${t} (sid, sess, expire) VALUES (?, ?, ?) ON CONFLICT (sid) DO UPDATE SET sess = excluded.sess, expire = excluded.expire`,
    ),
    // The `expire > now` guard makes a late touch unable to bring a session back after it expired.
    touch: db.prepare(`UPDATE ${t} SET expire = ? WHERE sid = ? AND expire > ?`),
    destroy: db.prepare(`DELETE FROM ${t} WHERE sid = ?`),
    entries: db.prepare(`SELECT sid, sess, expire FROM ${t} WHERE sid > ? AND expire > ? ORDER BY sid LIMIT ?`),
    ids: db.prepare<[string, string, number], string>(`SELECT sid FROM ${t} WHERE sid > ? AND expire > ? ORDER BY sid LIMIT ?`).pluck(),
    // Bounded, like pruning: one batch holds the write lock for `limit` rows at most.
    clear: db.prepare(`DELETE FROM ${t} WHERE rowid IN (SELECT rowid FROM ${t} LIMIT ?)`),
    prune: db.prepare(`DELETE FROM ${t} WHERE rowid IN (SELECT rowid FROM ${t} WHERE expire <= ? LIMIT ?)`),
  };
}

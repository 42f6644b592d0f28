import type BetterSqlite3 from 'better-sqlite3';
import { quoteIdentifier } from './identifier.js';

/**
 * better-sqlite3-session-store's table, byte for byte, plus (`expireIndex`, the default) the index on `expire` it
 * never had. The index only adds a B-tree: that store's `INSERT OR REPLACE`, `datetime(expire)` filters and full
 * scans work unchanged.
 */
export function schemaSql(table: string, { expireIndex = true }: { expireIndex?: boolean } = {}): string {
  const t = quoteIdentifier(table);
  const index = quoteIdentifier(`${table}_expire_idx`);
  const create = `CREATE TABLE IF NOT EXISTS ${t} (sid TEXT NOT NULL PRIMARY KEY, sess JSON NOT NULL, expire TEXT NOT NULL);`;
  return expireIndex ? `${create}\nCREATE INDEX IF NOT EXISTS ${index} ON ${t} (expire);` : create;
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

/**
 * The owner index (the `owner` option): a side table `<table>_owners(sid, owner)` with an index on `owner`.
 * Not a column of the sessions table: better-sqlite3-session-store writes `INSERT OR REPLACE INTO sessions
 * VALUES (?, ?, ?)`, three positional values, which a fourth column (even one with a default) would make fail.
 * Its deletes leave our index entries behind: they are dropped the next time that owner's sessions are listed.
 */
export function ownersSchemaSql(table: string): string {
  const o = quoteIdentifier(ownersTable(table));
  const index = quoteIdentifier(`${table}_owners_owner_idx`);
  return `CREATE TABLE IF NOT EXISTS ${o} (sid TEXT NOT NULL PRIMARY KEY, owner TEXT NOT NULL) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS ${index} ON ${o} (owner);`;
}

/** The side table of the owner index of `table`. */
export function ownersTable(table: string): string {
  return `${table}_owners`;
}

/**
 * What `destroy()` leaves when revocation is on: the row itself, with `sess` the text `null` and `expire` the end
 * of the revocation window. better-sqlite3-session-store's `get` parses it to `null`: no session. Every read of
 * ours filters it out; pruning deletes it like an expired session.
 */
export const TOMBSTONE = 'null';
/** True of a row that is a session rather than a tombstone. */
const LIVE = `sess <> '${TOMBSTONE}'`;

/** Every statement the store runs, prepared once. */
export interface Statements {
  get: BetterSqlite3.Statement<[string], { sess: unknown; expire: unknown }>;
  set: BetterSqlite3.Statement<[string, string | Buffer, string]>;
  /** {@link set} that leaves an unexpired tombstone in place: `[sid, data, expire, now]`. */
  setGuarded: BetterSqlite3.Statement<[string, string | Buffer, string, string]>;
  touch: BetterSqlite3.Statement<[string, string, string]>;
  destroy: BetterSqlite3.Statement<[string]>;
  /** Replaces the row (or an absent one) with a tombstone: `[sid, until]`. */
  tombstone: BetterSqlite3.Statement<[string, string]>;
  entries: BetterSqlite3.Statement<[string, string, number], { sid: string; sess: unknown; expire: unknown }>;
  ids: BetterSqlite3.Statement<[string, string, number], string>;
  clear: BetterSqlite3.Statement<[number]>;
  /** Deletes a batch of rows expired at `now`, returning their sids and whether each was a session. */
  prune: BetterSqlite3.Statement<[string, number], { sid: string; live: number }>;
  /**
   * Pruning without the expire index: deletes the rows expired at `now` among rowids in `(from, to]`, one bounded
   * window of a pass in rowid order: `[from, to, now]`.
   */
  pruneWindow: BetterSqlite3.Statement<[number, number, string], { sid: string; live: number }>;
  /** The highest rowid (0 for an empty table): where a pass by rowid windows ends. */
  maxRowid: BetterSqlite3.Statement<[], number>;
  /** The owner index's statements, when the store has one. */
  owners?: OwnerStatements;
}

/** The statements on `<table>_owners`. */
export interface OwnerStatements {
  set: BetterSqlite3.Statement<[string, string]>;
  delete: BetterSqlite3.Statement<[string]>;
  /** `owner`'s index entries with their session rows (null columns where the row is gone). */
  list: BetterSqlite3.Statement<[string], { sid: string; sess: unknown; expire: unknown }>;
  clear: BetterSqlite3.Statement<[number]>;
}

export function prepare(db: BetterSqlite3.Database, table: string, { owner = false }: { owner?: boolean } = {}): Statements {
  const t = quoteIdentifier(table);
  const upsert = `INSERT INTO ${t} (sid, sess, expire) VALUES (?, ?, ?) ON CONFLICT (sid) DO UPDATE SET sess = excluded.sess, expire = excluded.expire`;
  return {
    get: db.prepare(`SELECT sess, expire FROM ${t} WHERE sid = ?`),
    // An upsert keeps the rowid (INSERT OR REPLACE deletes and re-inserts, touching every index twice).
    set: db.prepare(upsert),
    // In DO UPDATE, bare column names are the existing row's: a tombstone stays until it expires.
    setGuarded: db.prepare(`${upsert} WHERE ${LIVE} OR expire <= ?`),
    // The `expire > now` guard makes a late touch unable to bring a session back after it expired; the one on
    // sess keeps a tombstone from being extended.
    touch: db.prepare(`UPDATE ${t} SET expire = ? WHERE sid = ? AND expire > ? AND ${LIVE}`),
    // Leaves a tombstone alone: a save with a past expiry (a plain delete) must not reopen a revoked sid.
    destroy: db.prepare(`DELETE FROM ${t} WHERE sid = ? AND ${LIVE}`),
    tombstone: db.prepare(
      `INSERT INTO ${t} (sid, sess, expire) VALUES (?, '${TOMBSTONE}', ?) ON CONFLICT (sid) DO UPDATE SET sess = excluded.sess, expire = excluded.expire`,
    ),
    entries: db.prepare(`SELECT sid, sess, expire FROM ${t} WHERE sid > ? AND expire > ? AND ${LIVE} ORDER BY sid LIMIT ?`),
    ids: db
      .prepare<[string, string, number], string>(`SELECT sid FROM ${t} WHERE sid > ? AND expire > ? AND ${LIVE} ORDER BY sid LIMIT ?`)
      .pluck(),
    // Bounded, like pruning: one batch holds the write lock for `limit` rows at most.
    clear: db.prepare(`DELETE FROM ${t} WHERE rowid IN (SELECT rowid FROM ${t} LIMIT ?)`),
    prune: db.prepare(`DELETE FROM ${t} WHERE rowid IN (SELECT rowid FROM ${t} WHERE expire <= ? LIMIT ?) RETURNING sid, ${LIVE} AS live`),
    pruneWindow: db.prepare(`DELETE FROM ${t} WHERE rowid > ? AND rowid <= ? AND expire <= ? RETURNING sid, ${LIVE} AS live`),
    maxRowid: db.prepare<[], number>(`SELECT coalesce(max(rowid), 0) FROM ${t}`).pluck(),
    owners: owner ? prepareOwners(db, table) : undefined,
  };
}

function prepareOwners(db: BetterSqlite3.Database, table: string): OwnerStatements {
  const t = quoteIdentifier(table);
  const o = quoteIdentifier(ownersTable(table));
  return {
    set: db.prepare(`INSERT INTO ${o} (sid, owner) VALUES (?, ?) ON CONFLICT (sid) DO UPDATE SET owner = excluded.owner`),
    delete: db.prepare(`DELETE FROM ${o} WHERE sid = ?`),
    list: db.prepare(
      `SELECT o.sid AS sid, s.sess AS sess, s.expire AS expire FROM ${o} AS o LEFT JOIN ${t} AS s ON s.sid = o.sid WHERE o.owner = ?`,
    ),
    clear: db.prepare(`DELETE FROM ${o} WHERE sid IN (SELECT sid FROM ${o} LIMIT ?)`),
  };
}

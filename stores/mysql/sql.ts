import { createHash } from 'node:crypto';
import { ErrorCode, SessionStoreError } from '../../shared/errors.js';

/** MySQL and MariaDB identifiers hold at most 64 characters. */
const MAX_IDENTIFIER_CHARS = 64;
/** The largest value of express-mysql-session's `expires int unsigned` column (epoch seconds: year 2106). */
export const MAX_EXPIRES_SECONDS = 4_294_967_295;

/**
 * `name` as a quoted identifier (`` ` `` doubled). Quoting makes any text inert; the checks reject what the server
 * would refuse or change: empty names, NUL, characters outside the Basic Multilingual Plane (MySQL and MariaDB
 * identifiers cannot hold them), a trailing space (not allowed in table or column names) and names longer than
 * 64 characters.
 */
export function quoteIdentifier(name: unknown, option: string): string {
  if (typeof name !== 'string' || name.length === 0) {
    throw new SessionStoreError(ErrorCode.INVALID_OPTION, `${option} must be a non-empty string`);
  }
  if (name.includes('\u0000')) {
    throw new SessionStoreError(ErrorCode.INVALID_OPTION, `${option} must not contain NUL characters`);
  }
  if (!name.isWellFormed()) {
    throw new SessionStoreError(ErrorCode.INVALID_OPTION, `${option} contains a lone UTF-16 surrogate`);
  }
  if (/[\u{10000}-\u{10ffff}]/u.test(name)) {
    throw new SessionStoreError(ErrorCode.INVALID_OPTION, `${option} contains a character outside the Basic Multilingual Plane`);
  }
  if (name.endsWith(' ')) {
    throw new SessionStoreError(ErrorCode.INVALID_OPTION, `${option} must not end with a space`);
  }
  if (name.length > MAX_IDENTIFIER_CHARS) {
    throw new SessionStoreError(ErrorCode.INVALID_OPTION, `${option} is longer than ${MAX_IDENTIFIER_CHARS} characters`);
  }
  return `\`${name.replaceAll('`', '``')}\``;
}

/** The table and column names a store uses, quoted. */
export interface Layout {
  /** Quoted, possibly database-qualified table name, ready for SQL text. */
  table: string;
  /** The database named in `tableName` (`'db.sessions'`), unquoted; undefined: the connection's database. */
  database: string | undefined;
  /** The unqualified table name, unquoted (for information_schema). */
  rawTable: string;
  columns: { sid: string; expires: string; data: string; expiresMs: string; owner: string };
  /** The same, unquoted (for information_schema). */
  rawColumns: { sid: string; expires: string; data: string; expiresMs: string; owner: string };
}

/** express-mysql-session's column names, plus the two columns only this store adds. */
export const DEFAULT_COLUMNS = { session_id: 'session_id', expires: 'expires', data: 'data', expires_ms: 'expires_ms', owner: 'owner' };

/**
 * The names of `tableName` and `columnNames`, quoted. As express-mysql-session (whose `??` placeholders quote
 * `a.b` as `` `a`.`b` ``), a dot in `tableName` separates the database from the table; a column name is one
 * identifier whatever it holds.
 */
export function layout(tableName: string, columnNames: Partial<typeof DEFAULT_COLUMNS> = {}): Layout {
  const parts = tableName.split('.');
  if (parts.length > 2) {
    throw new SessionStoreError(ErrorCode.INVALID_OPTION, 'schema.tableName must be `table` or `database.table` (at most one dot)');
  }
  const database = parts.length === 2 ? parts[0] : undefined;
  const rawTable = parts.at(-1)!;
  const table =
    (database === undefined ? '' : `${quoteIdentifier(database, 'schema.tableName (database)')}.`) +
    quoteIdentifier(rawTable, 'schema.tableName');
  const names = { ...DEFAULT_COLUMNS, ...columnNames };
  const raw = { sid: names.session_id, expires: names.expires, data: names.data, expiresMs: names.expires_ms, owner: names.owner };
  const quoted = {
    sid: quoteIdentifier(raw.sid, 'schema.columnNames.session_id'),
    expires: quoteIdentifier(raw.expires, 'schema.columnNames.expires'),
    data: quoteIdentifier(raw.data, 'schema.columnNames.data'),
    expiresMs: quoteIdentifier(raw.expiresMs, 'schema.columnNames.expires_ms'),
    owner: quoteIdentifier(raw.owner, 'schema.columnNames.owner'),
  };
  const distinct = new Set(Object.values(raw));
  if (distinct.size !== 5) throw new SessionStoreError(ErrorCode.INVALID_OPTION, 'schema.columnNames must name five different columns');
  return { table, database, rawTable, columns: quoted, rawColumns: raw };
}

/** A GET_LOCK name (at most 64 characters) for `purpose` on one table of one server. */
export function lockName(purpose: string, database: string, table: string): string {
  return `session-stores:${purpose}:${createHash('sha256').update(`${database}\u0000${table}`).digest('hex').slice(0, 32)}`;
}

/**
 * What `destroy()` leaves when revocation is on: the row itself, with `data` the JSON text `null` (which
 * express-mysql-session's `get` parses to no session, whatever the column's nullability) and `expires` the end of
 * the revocation window. Every read filters it out; pruning deletes it like an expired session.
 */
export const TOMBSTONE = 'null';

/** Whether the table has the extra columns (they are added by this store's DDL only). */
export interface Features {
  /** The nullable `expires_ms bigint` column that keeps millisecond expiry. */
  ms: boolean;
  /** The nullable `owner` column (the `owner` option). */
  owner: boolean;
}

/** Every statement a store runs against its table. Numbers are epoch ms unless said otherwise. */
export interface Statements {
  /** `[sid]` → `data`, `expires`, `expires_ms` (null without the column). */
  get: string;
  /** `[sid, expiresSeconds, data(, expiresMs)(, owner)]`: insert or replace. */
  set: string;
  /** {@link set} that leaves an unexpired tombstone in place: the same values, then `now`. */
  setGuarded: string;
  /** `[expiresSeconds(, expiresMs), sid, now]`: only an existing, unexpired session. */
  touch: string;
  /** `[sid]`: deletes a session, never a tombstone. */
  destroy: string;
  /** `[sid, untilSeconds(, untilMs)]`: replaces the row (or an absent one) with a tombstone. */
  tombstone: string;
  /** `[now]`, then `[now, afterSid]`: one page of sessions by sid. */
  entriesFirst: string;
  entriesNext: string;
  idsFirst: string;
  idsNext: string;
  /** `[now]` → `n`. */
  length: string;
  /** No values: deletes one batch of rows. */
  clear: string;
  /** `[boundSeconds, now]`: deletes one batch of sessions expired at `now`. */
  prune: (batchSize: number) => string;
  /** `[boundSeconds, now]`: deletes one batch of tombstones expired at `now`. */
  pruneTombstones: (batchSize: number) => string;
  /** `[owner, now]` (with the owner column). */
  sessionsOf: string;
}

/**
 * The expiry of a row in epoch ms. `expires_ms` is trusted only while `expires` is still the second it rounds to:
 * express-mysql-session rewrites `expires` (on `set` and `touch`) without knowing about `expires_ms`, and from then
 * on the row's expiry is its `expires`.
 */
export function expiryExpression(l: Layout, f: Features): string {
  const { expires, expiresMs } = l.columns;
  return f.ms
    ? `IF(${expiresMs} IS NOT NULL AND ${expires} = LEAST((${expiresMs} + 500) DIV 1000, ${MAX_EXPIRES_SECONDS}), ${expiresMs}, ${expires} * 1000)`
    : `(${expires} * 1000)`;
}

/** The same rule in JavaScript, for rows read back whole. */
export function expiryOf(expires: number, expiresMs: number | null): number {
  if (expiresMs !== null && expires === Math.min(Math.floor((expiresMs + 500) / 1000), MAX_EXPIRES_SECONDS)) return expiresMs;
  return expires * 1000;
}

/** The `expires` column's value for an expiry in ms: rounded to the second as express-mysql-session does. */
export function secondsOf(ms: number): number {
  return Math.min(Math.round(ms / 1000), MAX_EXPIRES_SECONDS);
}

/** The statements for a table with `features`. */
export function statements(l: Layout, f: Features): Statements {
  const { table } = l;
  const { sid, expires, data, expiresMs, owner } = l.columns;
  const EXP = expiryExpression(l, f);
  const msSelect = f.ms ? expiresMs : 'NULL';
  // A session, not a tombstone (a NULL `data` is no tombstone either: it can be overwritten).
  const LIVE = `NOT (${data} <=> '${TOMBSTONE}')`;
  const insertColumns = [sid, expires, data, ...(f.ms ? [expiresMs] : []), ...(f.owner ? [owner] : [])];
  const placeholders = insertColumns.map(() => '?').join(', ');
  const updated = [expires, ...(f.ms ? [expiresMs] : []), ...(f.owner ? [owner] : [])];
  // MySQL applies ON DUPLICATE KEY UPDATE assignments left to right, each seeing the ones before: `data` goes first
  // and is only replaced when the old row was no unexpired tombstone, so that afterwards "`data` is a session"
  // says whether the write won, and the other columns follow it.
  const guardedUpdate =
    `${data} = IF(${LIVE} OR ${EXP} <= ?, VALUES(${data}), ${data}), ` +
    updated.map((c) => `${c} = IF(${LIVE}, VALUES(${c}), ${c})`).join(', ');
  const plainUpdate = [data, ...updated].map((c) => `${c} = VALUES(${c})`).join(', ');
  const insert = `INSERT INTO ${table} (${insertColumns.join(', ')}) VALUES (${placeholders}) ON DUPLICATE KEY UPDATE `;
  const entryColumns = `${sid} AS sid, ${data} AS data, ${expires} AS expires, ${msSelect} AS expires_ms`;
  const page = (after: boolean, columns: string) =>
    `SELECT ${columns} FROM ${table} WHERE ${EXP} > ? AND ${LIVE}${after ? ` AND ${sid} > ?` : ''} ORDER BY ${sid} LIMIT ${PAGE_SIZE}`;
  const tombstoneColumns = [sid, expires, data, ...(f.ms ? [expiresMs] : [])];
  return {
    get: `SELECT ${data} AS data, ${expires} AS expires, ${msSelect} AS expires_ms FROM ${table} WHERE ${sid} = ?`,
    set: insert + plainUpdate,
    setGuarded: insert + guardedUpdate,
    // The condition on the expiry is what keeps touch from resurrecting a session that has just expired; the one on
    // data keeps a tombstone from being extended.
    touch: `UPDATE ${table} SET ${expires} = ?${f.ms ? `, ${expiresMs} = ?` : ''} ` + `WHERE ${sid} = ? AND ${EXP} > ? AND ${LIVE}`,
    // Leaves a tombstone alone: a save with a past expiry (a plain delete) must not reopen a revoked sid.
    destroy: `DELETE FROM ${table} WHERE ${sid} = ? AND ${LIVE}`,
    tombstone:
      `INSERT INTO ${table} (${tombstoneColumns.join(', ')}) VALUES (?, ?, '${TOMBSTONE}'${f.ms ? ', ?' : ''}) ON DUPLICATE KEY UPDATE ` +
      [data, expires, ...(f.ms ? [expiresMs] : [])].map((c) => `${c} = VALUES(${c})`).join(', ') +
      (f.owner ? `, ${owner} = NULL` : ''),
    entriesFirst: page(false, entryColumns),
    entriesNext: page(true, entryColumns),
    idsFirst: page(false, `${sid} AS sid`),
    idsNext: page(true, `${sid} AS sid`),
    length: `SELECT COUNT(*) AS n FROM ${table} WHERE ${EXP} > ? AND ${LIVE}`,
    // A bounded batch in primary key order; DELETE rather than TRUNCATE, which needs DROP and breaks concurrent readers.
    clear: `DELETE FROM ${table} ORDER BY ${sid} LIMIT ${PAGE_SIZE}`,
    // A bounded batch. The condition on `expires` alone lets an index on it (our DDL creates one) find the
    // candidates: a row expired at `now` has `expires` <= round((now + 500) / 1000).
    // Sessions and tombstones apart, so that a pass can count the sessions it deleted (MySQL's DELETE cannot say).
    prune: (batchSize) =>
      `DELETE FROM ${table} WHERE ${expires} <= ? AND ${EXP} <= ? AND ${LIVE} ORDER BY ${expires} LIMIT ${Math.floor(batchSize)}`,
    pruneTombstones: (batchSize) =>
      `DELETE FROM ${table} WHERE ${expires} <= ? AND ${EXP} <= ? AND ${data} = '${TOMBSTONE}' ORDER BY ${expires} LIMIT ${Math.floor(batchSize)}`,
    sessionsOf: `SELECT ${entryColumns} FROM ${table} WHERE ${owner} = ? AND ${EXP} > ? AND ${LIVE}`,
  };
}

/** Rows per page of `all`/`ids` and per batch of `clear`. */
export const PAGE_SIZE = 500;

/**
 * The table this store creates: express-mysql-session's layout (`session_id varchar(128)` primary key,
 * `expires int unsigned` epoch seconds, `data mediumtext`), plus a nullable `expires_ms bigint` it ignores, an
 * index on `expires` for pruning (unless `expiresIndex` is false) and, with the `owner` option, a nullable `owner` column and its index.
 * `sidCollation`: a binary collation that does not pad (`utf8mb4_nopad_bin` on MariaDB, `utf8mb4_0900_bin` on
 * MySQL 8), so that `'ab'` and `'ab '` are two sids; express-mysql-session's `utf8mb4_bin` pads.
 */
export function createTableSql(l: Layout, f: Features, sidCollation: string, expiresIndex = true): string {
  const { sid, expires, data, expiresMs, owner } = l.columns;
  return (
    `CREATE TABLE IF NOT EXISTS ${l.table} (` +
    `${sid} varchar(128) CHARACTER SET utf8mb4 COLLATE ${sidCollation} NOT NULL, ` +
    `${expires} int unsigned NOT NULL, ` +
    `${data} mediumtext CHARACTER SET utf8mb4 COLLATE utf8mb4_bin, ` +
    `${expiresMs} bigint NULL, ` +
    (f.owner ? `${owner} varchar(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NULL, ` : '') +
    `PRIMARY KEY (${sid})` +
    (expiresIndex ? `, KEY \`session_stores_expires\` (${expires})` : '') +
    (f.owner ? `, KEY \`session_stores_owner\` (${owner})` : '') +
    `) ENGINE=InnoDB`
  );
}

/** Adds the millisecond column to an existing table (express-mysql-session's), which it then ignores. */
export function addExpiresMsSql(l: Layout): string {
  return `ALTER TABLE ${l.table} ADD COLUMN ${l.columns.expiresMs} bigint NULL`;
}

/** Adds the owner column and its index to an existing table. */
export function addOwnerSql(l: Layout): string {
  return (
    `ALTER TABLE ${l.table} ADD COLUMN ${l.columns.owner} varchar(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NULL, ` +
    `ADD KEY \`session_stores_owner\` (${l.columns.owner})`
  );
}

/** Longest owner id stored as is; longer ones are stored as a hash (the index is a hint, checked on read). */
export const MAX_OWNER_CHARS = 255;

/** The value of the owner column for `owner`. */
export function ownerKey(owner: string): string {
  return owner.length <= MAX_OWNER_CHARS ? owner : `sha256:${createHash('sha256').update(owner).digest('hex')}`;
}

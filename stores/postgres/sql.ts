import { createHash } from 'node:crypto';
import { ErrorCode, SessionStoreError } from '../../shared/errors.js';

/**
 * The table layout. `'compatible'` is connect-pg-simple's (`sess json`, `expire timestamp(6)` without time zone);
 * `'modern'` uses `jsonb` and `timestamptz`, whose instants do not depend on the session `TimeZone`.
 */
export type TableLayout = 'compatible' | 'modern';

// PostgreSQL silently truncates longer identifiers (NAMEDATALEN - 1 bytes), so two long names could collide.
const MAX_IDENTIFIER_BYTES = 63;

/**
 * `name` as a quoted SQL identifier (`"` doubled). Quoting makes any text inert; the checks reject what quoting
 * cannot make safe or unambiguous: NUL (PostgreSQL cuts the string there), empty names and names PostgreSQL
 * would truncate.
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
  if (Buffer.byteLength(name, 'utf8') > MAX_IDENTIFIER_BYTES) {
    throw new SessionStoreError(ErrorCode.INVALID_OPTION, `${option} is longer than ${MAX_IDENTIFIER_BYTES} bytes`);
  }
  return `"${name.replaceAll('"', '""')}"`;
}

/** A signed 64-bit advisory lock key (as text, for a `$n::int8` parameter) derived from `label`. */
export function lockKey(label: string): string {
  return createHash('sha256').update(label).digest().readBigInt64BE(0).toString();
}

/** A prepared statement name that is unique to `text`, so stores with different tables can share a pool. */
export function statementName(text: string): string {
  return `session_stores_${createHash('sha256').update(text).digest('hex').slice(0, 24)}`;
}

/** A statement with its prepared name: pass it to `pool.query({ ...statement, values })`. */
export interface Statement {
  name: string;
  text: string;
}

const statement = (text: string): Statement => ({ name: statementName(text), text });

// $n is epoch ms. to_timestamp(float8) rounds to whole microseconds, so ms survive exactly; assigning its
// timestamptz to a `timestamp` column converts through the session TimeZone, exactly as connect-pg-simple does.
const at = (n: number) => `to_timestamp($${n}::float8 / 1000)`;
// Casting to timestamptz reads a `timestamp` column through the session TimeZone (the same conversion that
// connect-pg-simple's `expire >= to_timestamp(...)` comparison applies) and is a no-op on a timestamptz column.
const EXPIRES_MS = `round(extract(epoch from "expire"::timestamptz) * 1000)::float8`;

/** Every statement a store runs against its table. */
export interface Statements {
  get: Statement;
  /** Insert or replace: `[sid, data, expiresAt]`, then `owner` with an owner column. */
  set: Statement;
  /** {@link set} that leaves an unexpired tombstone in place: the same values, then `now`. */
  setGuarded: Statement;
  touch: Statement;
  destroy: Statement;
  /** Replaces the row (or an absent one) with a tombstone: `[sid, until]`. */
  tombstone: Statement;
  entriesFirst: Statement;
  entriesNext: Statement;
  idsFirst: Statement;
  idsNext: Statement;
  length: Statement;
  clear: Statement;
  prune: Statement;
  /** The sessions whose owner column holds `$1`, unexpired at `$2` (only with an owner column). */
  sessionsOf: Statement;
  tryLock: Statement;
  unlock: Statement;
}

/**
 * What `destroy()` leaves when revocation is on: the row itself, with `sess` the JSON `null` (which the
 * incumbent's `sess json NOT NULL` column accepts and connect-pg-simple's `get` reads as no session) and `expire`
 * the end of the revocation window. Every read filters it out; pruning deletes it like an expired session.
 */
export const TOMBSTONE = 'null';
/** The condition true of a row that is a session, not a tombstone (`json` and `jsonb` alike print `null`). */
const LIVE = `"sess"::text <> '${TOMBSTONE}'`;

/**
 * The statements for the (already quoted, possibly schema-qualified) `table`. With `owner`, `set` also writes
 * the `"owner"` column (see {@link addOwnerColumnSql}) and `destroy` leaves its tombstone without one.
 */
export function statements(table: string, { owner = false }: { owner?: boolean } = {}): Statements {
  const page = (after: boolean, columns: string) =>
    statement(
      `SELECT ${columns} FROM ${table} WHERE "expire" > ${at(1)} AND ${LIVE}${after ? ` AND "sid" > $3` : ''} ORDER BY "sid" LIMIT $2`,
    );
  const entryColumns = `"sid", "sess"::text AS data, ${EXPIRES_MS} AS expires`;
  // The existing row is `s` in the upsert's WHERE: a schema-qualified name cannot be repeated there.
  const upsert = (guarded: boolean) =>
    statement(
      `INSERT INTO ${table} AS s ("sid", "sess", "expire"${owner ? ', "owner"' : ''}) VALUES ($1, $2, ${at(3)}${owner ? ', $4' : ''}) ` +
        `ON CONFLICT ("sid") DO UPDATE SET "sess" = EXCLUDED."sess", "expire" = EXCLUDED."expire"${owner ? ', "owner" = EXCLUDED."owner"' : ''}` +
        // A tombstone stays until it expires: the late write of a request that started before the logout is dropped.
        (guarded ? ` WHERE s.${LIVE} OR s."expire" <= ${at(owner ? 5 : 4)}` : ''),
    );
  return {
    get: statement(`SELECT "sess"::text AS data, ${EXPIRES_MS} AS expires FROM ${table} WHERE "sid" = $1`),
    set: upsert(false),
    setGuarded: upsert(true),
    // The condition on expire is what makes touch unable to resurrect a session that has just expired; the one on
    // sess keeps a tombstone from being extended.
    touch: statement(`UPDATE ${table} SET "expire" = ${at(2)} WHERE "sid" = $1 AND "expire" > ${at(3)} AND ${LIVE}`),
    // Leaves a tombstone alone: a save with a past expiry (a plain delete) must not reopen a revoked sid.
    destroy: statement(`DELETE FROM ${table} WHERE "sid" = $1 AND ${LIVE}`),
    tombstone: statement(
      `INSERT INTO ${table} ("sid", "sess", "expire") VALUES ($1, '${TOMBSTONE}', ${at(2)}) ` +
        `ON CONFLICT ("sid") DO UPDATE SET "sess" = EXCLUDED."sess", "expire" = EXCLUDED."expire"${owner ? ', "owner" = NULL' : ''}`,
    ),
    entriesFirst: page(false, entryColumns),
    entriesNext: page(true, entryColumns),
    idsFirst: page(false, '"sid"'),
    idsNext: page(true, '"sid"'),
    length: statement(`SELECT count(*)::float8 AS n FROM ${table} WHERE "expire" > ${at(1)} AND ${LIVE}`),
    // DELETE rather than TRUNCATE: TRUNCATE takes an ACCESS EXCLUSIVE lock that would stall every request. In
    // batches, so no single statement holds row locks on the whole table for long.
    clear: statement(`DELETE FROM ${table} WHERE ctid = ANY(ARRAY(SELECT ctid FROM ${table} LIMIT $1))`),
    // A bounded batch: the sub-select picks at most $2 expired rows (SKIP LOCKED: never wait on a row a request is
    // writing); the outer re-check keeps a row that was re-saved after the sub-select saw it. `n` counts the rows
    // deleted, `sessions` those that were sessions rather than tombstones.
    prune: statement(
      `WITH gone AS (DELETE FROM ${table} WHERE ctid = ANY(ARRAY(SELECT ctid FROM ${table} WHERE "expire" <= ${at(1)} ` +
        `ORDER BY "expire" LIMIT $2 FOR UPDATE SKIP LOCKED)) AND "expire" <= ${at(1)} RETURNING ${LIVE} AS live) ` +
        `SELECT count(*)::int AS n, (count(*) FILTER (WHERE live))::int AS sessions FROM gone`,
    ),
    sessionsOf: statement(`SELECT ${entryColumns} FROM ${table} WHERE "owner" = $1 AND "expire" > ${at(2)} AND ${LIVE}`),
    tryLock: statement(`SELECT pg_try_advisory_lock($1::int8) AS acquired`),
    unlock: statement(`SELECT pg_advisory_unlock($1::int8) AS released`),
  };
}

/** Names PostgreSQL resolves `table` with: `"schema"."table"` or just `"table"` (through the search_path). */
export interface TableName {
  /** Quoted, possibly schema-qualified: ready for SQL text. */
  qualified: string;
  /** Quoted schema, when one was given. */
  schema: string | undefined;
  /** Quoted table name alone. */
  table: string;
  /** The unquoted table name (to derive index names). */
  rawTable: string;
}

/** Quotes and checks `schemaName` and `tableName`. */
export function tableName(schemaName: string | undefined, table: string): TableName {
  const quotedTable = quoteIdentifier(table, 'tableName');
  const schema = schemaName === undefined ? undefined : quoteIdentifier(schemaName, 'schemaName');
  return { qualified: schema ? `${schema}.${quotedTable}` : quotedTable, schema, table: quotedTable, rawTable: table };
}

/**
 * The DDL that creates the table and its expiry index (schema not included). connect-pg-simple names the index
 * `IDX_session_expire` whatever the table, so two tables in one schema collide; we keep that name for the default
 * table and derive one per table otherwise.
 */
export function createTableSql(name: TableName, layout: TableLayout): string[] {
  const sess = layout === 'modern' ? 'jsonb' : 'json';
  const expire = layout === 'modern' ? 'timestamptz(6)' : 'timestamp(6)';
  const indexName = `IDX_${name.rawTable}_expire`;
  const index =
    Buffer.byteLength(indexName, 'utf8') <= MAX_IDENTIFIER_BYTES
      ? `CREATE INDEX IF NOT EXISTS ${quoteIdentifier(indexName, 'index name')} ON ${name.qualified} ("expire")`
      : // Too long to derive: let PostgreSQL pick a free name (the table was just created, so it has no such index).
        `CREATE INDEX ON ${name.qualified} ("expire")`;
  return [
    `CREATE TABLE IF NOT EXISTS ${name.qualified} (` +
      `"sid" varchar NOT NULL COLLATE "default", "sess" ${sess} NOT NULL, "expire" ${expire} NOT NULL, ` +
      `PRIMARY KEY ("sid"))`,
    index,
  ];
}

/**
 * The owner index (the `owner` option): a nullable `"owner"` column and a partial index on it. connect-pg-simple
 * names its columns in every statement (`INSERT INTO … (sess, expire, sid)`), so the extra column does not disturb
 * it; the rows it inserts simply have no owner. The index holds only rows that have one.
 */
export function addOwnerColumnSql(name: TableName): { column: string; index: string } {
  const indexName = `IDX_${name.rawTable}_owner`;
  return {
    column: `ALTER TABLE ${name.qualified} ADD COLUMN IF NOT EXISTS "owner" text`,
    index:
      Buffer.byteLength(indexName, 'utf8') <= MAX_IDENTIFIER_BYTES
        ? `CREATE INDEX IF NOT EXISTS ${quoteIdentifier(indexName, 'index name')} ON ${name.qualified} ("owner") WHERE "owner" IS NOT NULL`
        : // Too long to derive: PostgreSQL picks a free name (the caller creates it only when no owner index exists).
          `CREATE INDEX ON ${name.qualified} ("owner") WHERE "owner" IS NOT NULL`,
  };
}

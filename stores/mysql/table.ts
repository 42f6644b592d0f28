import type { Pool, PoolConnection, RowDataPacket } from 'mysql2/promise';
import { isConnectionError } from './connection-errors.js';
import { type Features, type Layout, addExpiresMsSql, addOwnerSql, createTableSql, lockName } from './sql.js';

/** What the store learns about its table when it opens. */
export interface TableInfo {
  /** The database the table lives in. */
  database: string;
  /** Which of the extra columns the table has. */
  features: Features;
  /** The `session_id` column's length in characters (null: not a character column, or unknown). */
  sidChars: number | null;
  /** The `session_id` column's collation ignores trailing spaces (`utf8mb4_bin` does): `'ab'` equals `'ab '`. */
  padsSpaces: boolean;
  /** The server, e.g. `'10.11.14-MariaDB-0+deb12u2'`. */
  version: string;
  /** Why the millisecond column could not be added, when it could not (the store then keeps whole seconds). */
  msColumnError?: unknown;
}

/** Runs `work` on one pooled connection; a connection that died under it is destroyed, not reused. */
export async function withConnection<T>(pool: Pool, work: (conn: PoolConnection) => Promise<T>): Promise<T> {
  const conn = await pool.getConnection();
  let broken = false;
  try {
    return await work(conn);
  } catch (err) {
    broken = isConnectionError(err);
    throw err;
  } finally {
    if (broken) conn.destroy();
    else conn.release();
  }
}

interface ColumnRow extends RowDataPacket {
  name: string;
  chars: number | null;
  charset: string | null;
  collation: string | null;
}

const SAFE_NAME = /^[A-Za-z0-9_]+$/;

async function columns(conn: PoolConnection, database: string, table: string): Promise<Map<string, ColumnRow>> {
  const [rows] = await conn.query<ColumnRow[]>(
    `SELECT COLUMN_NAME AS name, CHARACTER_MAXIMUM_LENGTH AS chars, CHARACTER_SET_NAME AS charset, COLLATION_NAME AS collation
     FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?`,
    [database, table],
  );
  return new Map(rows.map((r) => [r.name, r]));
}

/** The binary collation without padding this server has, else `utf8mb4_bin` (which pads). */
async function sidCollation(conn: PoolConnection): Promise<string> {
  const [rows] = await conn.query<RowDataPacket[]>(
    `SELECT COLLATION_NAME AS name FROM information_schema.COLLATIONS WHERE COLLATION_NAME IN ('utf8mb4_nopad_bin', 'utf8mb4_0900_bin')`,
  );
  const names = rows.map((r) => String(r['name']));
  return names.includes('utf8mb4_nopad_bin')
    ? 'utf8mb4_nopad_bin'
    : names.includes('utf8mb4_0900_bin')
      ? 'utf8mb4_0900_bin'
      : 'utf8mb4_bin';
}

/**
 * Creates the table when it is missing and adds the extra columns the store wants (`expires_ms`; `owner` with the
 * `owner` option) when `create` is set, then reads what the table is. Idempotent and safe when many processes
 * start at once: creators using this library are serialized by `GET_LOCK` on a name derived from the table; a
 * race with one that does not (express-mysql-session) is harmless, as both use `CREATE TABLE IF NOT EXISTS`.
 */
export async function prepareTable(
  pool: Pool,
  l: Layout,
  opts: { create: boolean; owner: boolean; lockTimeoutSeconds: number; expiresIndex?: boolean },
): Promise<TableInfo> {
  return withConnection(pool, async (conn) => {
    const [[server]] = await conn.query<RowDataPacket[]>('SELECT DATABASE() AS db, VERSION() AS version');
    const database = l.database ?? (server!['db'] as string | null);
    if (!database) {
      throw new Error('no database selected: give the connection a database, or name the table as `database.table`');
    }
    const version = String(server!['version']);
    let msColumnError: unknown;
    if (opts.create) {
      const lock = lockName('create', database, l.rawTable);
      const [[got]] = await conn.query<RowDataPacket[]>('SELECT GET_LOCK(?, ?) AS got', [lock, opts.lockTimeoutSeconds]);
      if (Number(got!['got']) !== 1) throw new Error(`could not take the table creation lock within ${opts.lockTimeoutSeconds} s`);
      try {
        const found = await columns(conn, database, l.rawTable);
        if (found.size === 0) {
          await conn.query(createTableSql(l, { ms: true, owner: opts.owner }, await sidCollation(conn), opts.expiresIndex !== false));
        } else {
          if (!found.has(l.rawColumns.expiresMs)) {
            // Optional: without the right to alter the table the store keeps whole seconds, as the incumbent.
            await conn.query(addExpiresMsSql(l)).catch((err: unknown) => {
              if (isConnectionError(err)) throw err;
              msColumnError = err;
            });
          }
          if (opts.owner && !found.has(l.rawColumns.owner)) await conn.query(addOwnerSql(l));
        }
      } finally {
        // A connection that cannot release the lock is destroyed, which ends its session and so releases it.
        await conn.query('DO RELEASE_LOCK(?)', [lock]).catch(() => conn.destroy());
      }
    }
    const found = await columns(conn, database, l.rawTable);
    if (found.size === 0) throw new Error(`table ${l.table} does not exist (set createDatabaseTable: true to create it)`);
    for (const c of [l.rawColumns.sid, l.rawColumns.expires, l.rawColumns.data]) {
      if (!found.has(c)) throw new Error(`table ${l.table} has no column ${c}`);
    }
    const features: Features = { ms: found.has(l.rawColumns.expiresMs), owner: found.has(l.rawColumns.owner) };
    if (opts.owner && !features.owner) {
      throw new Error(
        `table ${l.table} has no ${l.rawColumns.owner} column for the owner option (set createDatabaseTable: true to add it)`,
      );
    }
    const sid = found.get(l.rawColumns.sid)!;
    let padsSpaces = false;
    if (sid.collation && sid.charset && SAFE_NAME.test(sid.collation) && SAFE_NAME.test(sid.charset)) {
      const as = (v: string) => `CONVERT('${v}' USING ${sid.charset}) COLLATE ${sid.collation}`;
      const [[cmp]] = await conn.query<RowDataPacket[]>(`SELECT ${as('a')} = ${as('a ')} AS pads`);
      padsSpaces = Number(cmp!['pads']) === 1;
    }
    return {
      database,
      features,
      sidChars: sid.chars === null || sid.chars === undefined ? null : Number(sid.chars),
      padsSpaces,
      version,
      ...(msColumnError === undefined ? {} : { msColumnError }),
    };
  });
}

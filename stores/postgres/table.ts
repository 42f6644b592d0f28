import type { Pool } from 'pg';
import { withClient } from './lease.js';
import { type TableLayout, type TableName, addOwnerColumnSql, createTableSql } from './sql.js';

/**
 * Creates the schema, table and expiry index when the table does not exist. Idempotent and safe when many
 * processes start at once: creators using this library are serialized by a transaction-level advisory lock on
 * `lockKey`; a race with one that does not (connect-pg-simple) is recognised by its error and settled by checking
 * that the table now exists.
 */
export async function createTableIfMissing(pool: Pool, name: TableName, layout: TableLayout, lockKey: string): Promise<void> {
  await withClient(pool, async (client) => {
    await client.query('BEGIN');
    try {
      await client.query('SELECT pg_advisory_xact_lock($1::int8)', [lockKey]);
      const { rows } = await client.query<{ exists: boolean }>('SELECT to_regclass($1) IS NOT NULL AS exists', [name.qualified]);
      if (!rows[0]!.exists) {
        if (name.schema) {
          // Checked first: CREATE SCHEMA IF NOT EXISTS needs the CREATE privilege even when the schema exists.
          const schema = await client.query<{ exists: boolean }>('SELECT to_regnamespace($1) IS NOT NULL AS exists', [name.schema]);
          if (!schema.rows[0]!.exists) await client.query(`CREATE SCHEMA IF NOT EXISTS ${name.schema}`);
        }
        for (const ddl of createTableSql(name, layout)) await client.query(ddl);
      }
      await client.query('COMMIT');
    } catch (err) {
      await client.query('ROLLBACK').catch(() => {});
      // Another creator won a race we could not serialize (unique_violation on pg_type / duplicate_table or
      // duplicate_schema): fine if the table now exists.
      const code = (err as { code?: string }).code;
      if (code === '23505' || code === '42P07' || code === '42P06') {
        const { rows } = await client.query<{ exists: boolean }>('SELECT to_regclass($1) IS NOT NULL AS exists', [name.qualified]);
        if (rows[0]!.exists) return;
      }
      throw err;
    }
  });
}

/**
 * Adds the owner column and its index (see {@link addOwnerColumnSql}) when they are missing, under the same
 * advisory lock as table creation. Each is looked up first, so a role that may not alter the table works once
 * they exist (`ALTER TABLE … IF NOT EXISTS` would still need ownership of the table). Fails with `42P01` while
 * the table does not exist: the next operation tries again.
 */
export async function addOwnerColumnIfMissing(pool: Pool, name: TableName, lockKey: string): Promise<void> {
  await withClient(pool, async (client) => {
    await client.query('BEGIN');
    try {
      await client.query('SELECT pg_advisory_xact_lock($1::int8)', [lockKey]);
      const { rows } = await client.query<{ table: boolean; column: boolean; index: boolean }>(
        `SELECT to_regclass($1) IS NOT NULL AS table,
           EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = to_regclass($1) AND attname = 'owner' AND NOT attisdropped) AS column,
           EXISTS (SELECT 1 FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
                   WHERE i.indrelid = to_regclass($1) AND a.attname = 'owner') AS index`,
        [name.qualified],
      );
      const found = rows[0]!;
      const ddl = addOwnerColumnSql(name);
      if (!found.table || !found.column) await client.query(ddl.column);
      if (!found.index) await client.query(ddl.index);
      await client.query('COMMIT');
    } catch (err) {
      await client.query('ROLLBACK').catch(() => {});
      throw err;
    }
  });
}

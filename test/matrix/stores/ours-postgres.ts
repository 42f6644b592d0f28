/** Our PostgresStore on a shared pool, in a schema of its own, a table per store (per namespace where asked). */
import { createHash } from 'node:crypto';
import pg from 'pg';
import { PostgresStore } from '../../../stores/postgres/index.js';
import type { FactoryHints } from '../../../conformance/options.js';
import { hintOptions } from './hints.js';
import { postgresRaw } from '../../stores/raw.js';
import { postgresServer, uniqueName } from '../../servers/index.js';

const server = await postgresServer();
const pool = new pg.Pool({ connectionString: server.url, max: 4 });
const schemaName = uniqueName('session_stores');
await pool.query(`CREATE SCHEMA "${schemaName}"`);
let counter = 0;

export const name = 'session-stores PostgresStore';
export const backend = server.description;
/** What the backend holds, read through its own client or files: for the atRest group. */
export const raw = postgresRaw;

export async function factory(hints: FactoryHints = {}): Promise<PostgresStore> {
  const store = new PostgresStore({
    client: pool,
    schemaName,
    tableName:
      hints.namespace === undefined ? `t${++counter}` : `ns_${createHash('sha1').update(hints.namespace).digest('hex').slice(0, 16)}`,
    createTableIfMissing: true,
    pruneSessionInterval: false,
    ...hintOptions(hints),
  });
  // The table is created lazily; tests with 20 ms expiries must not pay for it.
  await store.ready();
  return store;
}

export async function cleanup(): Promise<void> {
  await pool.query(`DROP SCHEMA IF EXISTS "${schemaName}" CASCADE`);
  await pool.end();
}

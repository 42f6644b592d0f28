/** Our MySQLStore on a shared pool, in a database of its own, a table per store (per namespace where asked). */
import { createHash } from 'node:crypto';
import mysql from 'mysql2/promise';
import { MySQLStore } from '../../../stores/mysql/index.js';
import type { FactoryHints } from '../../../conformance/options.js';
import { hintOptions } from './hints.js';
import { mysqlRaw } from '../../stores/raw.js';
import { mysqlServer, uniqueName } from '../../servers/index.js';

const server = await mysqlServer();
const database = uniqueName('session_stores');
const admin = await mysql.createConnection({ uri: server.url });
await admin.query(`CREATE DATABASE \`${database}\``);
await admin.end();
const url = new URL(server.url);
url.pathname = `/${database}`;
const pool = mysql.createPool({ uri: url.toString(), connectionLimit: 4 });
let counter = 0;

export const name = 'session-stores MySQLStore';
export const backend = server.description;
/** What the backend holds, read through its own client or files: for the atRest group. */
export const raw = mysqlRaw;

export async function factory(hints: FactoryHints = {}): Promise<MySQLStore> {
  const store = new MySQLStore({
    client: pool,
    schema: {
      tableName:
        hints.namespace === undefined ? `t${++counter}` : `ns_${createHash('sha1').update(hints.namespace).digest('hex').slice(0, 16)}`,
    },
    clearExpired: false,
    ...hintOptions(hints),
  });
  // The table is created by the open; tests with 20 ms expiries must not pay for it.
  await store.ready();
  return store;
}

export async function cleanup(): Promise<void> {
  await pool.query(`DROP DATABASE IF EXISTS \`${database}\``);
  await pool.end();
}

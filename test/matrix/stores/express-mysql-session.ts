/**
 * express-mysql-session 3, as its README sets it up: a mysql2 promise pool passed as the second argument, its
 * `createDatabaseTable` default, a table per store (`schema.tableName`; per namespace where asked). Its default
 * TTL is `expiration` in milliseconds (no `ttl` option, so the suite's ttl tests are skipped), `disableTouch` is
 * documented, and it stores expiry in whole seconds (`Math.round(ms / 1000)`), hence no ms precision.
 */
import { createHash } from 'node:crypto';
import session from 'express-session';
import expressMySQLSession from 'express-mysql-session';
import mysql from 'mysql2/promise';
import type { Capabilities, FactoryHints } from '../../../conformance/options.js';
import { mysqlServer, uniqueName } from '../../servers/index.js';

const MySQLStore = expressMySQLSession(session) as unknown as new (options: object, connection?: unknown) => session.Store;
const server = await mysqlServer();
const database = uniqueName('express_mysql_session');
const admin = await mysql.createConnection({ uri: server.url });
await admin.query(`CREATE DATABASE \`${database}\``);
await admin.end();
const url = new URL(server.url);
url.pathname = `/${database}`;
const pool = mysql.createPool({ uri: url.toString(), connectionLimit: 4 });
let counter = 0;

export const name = 'express-mysql-session';
export const backend = server.description;

export const capabilities: Partial<Capabilities> = {
  ttlOption: false,
  disableTouch: true,
  touchAfter: false,
  namespaces: true,
  msPrecision: false,
};

export async function factory(hints: FactoryHints = {}): Promise<session.Store> {
  const store = new MySQLStore(
    {
      schema: {
        tableName:
          hints.namespace === undefined ? `t${++counter}` : `ns_${createHash('sha1').update(hints.namespace).digest('hex').slice(0, 16)}`,
      },
      // Its options are merged with Object.assign: an undefined value would replace the default.
      ...(typeof hints.ttl === 'number' ? { expiration: hints.ttl * 1000 } : {}),
      ...(hints.disableTouch === undefined ? {} : { disableTouch: hints.disableTouch }),
    },
    pool,
  );
  await (store as unknown as { onReady(): Promise<void> }).onReady();
  return store;
}

/** Drops the run's database and ends the pool (close() leaves a pool it was given alone). */
export async function cleanup(): Promise<void> {
  await pool.query(`DROP DATABASE IF EXISTS \`${database}\``);
  await pool.end();
}

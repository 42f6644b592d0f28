/**
 * connect-pg-simple 10, as its README's advanced example sets it up: a shared `pg.Pool`, `schemaName` and
 * `createTableIfMissing`. Each store (each namespace where asked) gets a schema of its own with the default
 * table: its table script names the primary key `session_pkey`, so a second table in one schema cannot be
 * created. Its `ttl` is a number of seconds only (the suite's ttl tests also need a function), `disableTouch`
 * is documented, and it stores expiry in whole seconds (`Math.ceil(ms / 1000)`), hence no ms precision.
 */
import { createHash } from 'node:crypto';
import session from 'express-session';
import connectPgSimple from 'connect-pg-simple';
import pg from 'pg';
import type { Capabilities, FactoryHints } from '../../../conformance/options.js';
import { postgresServer, uniqueName } from '../../servers/index.js';

const PgStore = connectPgSimple(session);
const server = await postgresServer();
const pool = new pg.Pool({ connectionString: server.url, max: 4 });
const base = uniqueName('connect_pg_simple');
const schemas = new Set<string>();
let counter = 0;

export const name = 'connect-pg-simple';
export const backend = server.description;

export const capabilities: Partial<Capabilities> = {
  ttlOption: false,
  disableTouch: true,
  touchAfter: false,
  namespaces: true,
  msPrecision: false,
};

export async function factory(hints: FactoryHints = {}): Promise<session.Store> {
  // Hashed: a namespace may hold characters and lengths a schema name cannot.
  const schemaName =
    hints.namespace === undefined
      ? `${base}_${++counter}`
      : `${base}_${createHash('sha1').update(hints.namespace).digest('hex').slice(0, 16)}`;
  // createTableIfMissing creates the table, not the schema: that is the application's, as in production.
  if (!schemas.has(schemaName)) await pool.query(`CREATE SCHEMA IF NOT EXISTS "${schemaName}"`);
  schemas.add(schemaName);
  return new PgStore({
    pool,
    schemaName,
    createTableIfMissing: true,
    ttl: typeof hints.ttl === 'number' ? hints.ttl : undefined,
    disableTouch: hints.disableTouch,
  });
}

/** Drops the run's schemas and ends the pool (close() leaves a pool it was given alone). */
export async function cleanup(): Promise<void> {
  for (const schema of schemas) await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  await pool.end();
}

import { createRequire } from 'node:module';
import session from 'express-session';
import type { SessionData, Store } from 'express-session';
import pg from 'pg';
import { PostgresStore } from '../../stores/postgres/index.js';
import { type BackendFactory, type Contender, RawStore, expiryOf } from '../lib/contender.js';

const require = createRequire(import.meta.url);
const connectPgSimple = require('connect-pg-simple') as (s: typeof session) => new (options: Record<string, unknown>) => Store & {
  close(): Promise<void>;
};

/** Each contender's pool has pg's default size (10), and its own schema; close() drops the schema. */
async function schemaPool(url: string, ns: string): Promise<{ pool: pg.Pool; drop(): Promise<void> }> {
  const pool = new pg.Pool({ connectionString: url });
  pool.on('error', () => {});
  await pool.query(`CREATE SCHEMA IF NOT EXISTS ${ns}`);
  return {
    pool,
    drop: async () => {
      await pool.query(`DROP SCHEMA IF EXISTS ${ns} CASCADE`);
      await pool.end();
    },
  };
}

/**
 * The floor: named (prepared) statements on connect-pg-simple's table and index, JSON parsed by pg's type
 * parser; an upsert for set, a conditional UPDATE for touch.
 */
async function rawPostgres(pool: pg.Pool, ns: string): Promise<RawStore> {
  const t = `${ns}.session`;
  await pool.query(
    `CREATE TABLE ${t} (sid varchar NOT NULL PRIMARY KEY, sess json NOT NULL, expire timestamp(6) NOT NULL);` +
      `CREATE INDEX ON ${t} (expire)`,
  );
  const q = (name: string, text: string) => (values: unknown[]) => pool.query({ name: `${ns}_${name}`, text, values });
  const get = q('get', `SELECT sess FROM ${t} WHERE sid = $1 AND expire > now()`);
  const set = q(
    'set',
    `INSERT INTO ${t} (sid, sess, expire) VALUES ($1, $2, to_timestamp($3 / 1000.0)) ` +
      `ON CONFLICT (sid) DO UPDATE SET sess = EXCLUDED.sess, expire = EXCLUDED.expire`,
  );
  const touch = q('touch', `UPDATE ${t} SET expire = to_timestamp($2 / 1000.0) WHERE sid = $1 AND expire > now()`);
  const destroy = q('destroy', `DELETE FROM ${t} WHERE sid = $1`);
  return new RawStore({
    async get(sid) {
      const { rows } = await get([sid]);
      return (rows[0]?.sess as SessionData | undefined) ?? null;
    },
    async set(sid, sess) {
      await set([sid, JSON.stringify(sess), expiryOf(sess)]);
    },
    async touch(sid, sess) {
      await touch([sid, expiryOf(sess)]);
    },
    async destroy(sid) {
      await destroy([sid]);
    },
  });
}

/** PostgreSQL: ours, connect-pg-simple 10, and prepared statements through pg. */
export const postgres: BackendFactory = async (url) => {
  if (!url) throw new Error('postgres needs a server URL');
  const contenders: Contender[] = [
    {
      name: 'ours (PostgresStore)',
      role: 'ours',
      async create({ ns, touchAfter, options }) {
        const db = await schemaPool(url, ns);
        const store = new PostgresStore({ pool: db.pool, schemaName: ns, createTableIfMissing: true, touchAfter, ...options });
        await store.ready();
        return { store, close: async () => (await store.close(), await db.drop()) };
      },
    },
    {
      name: 'connect-pg-simple 10',
      role: 'incumbent',
      async create({ ns }) {
        const db = await schemaPool(url, ns);
        const PgStore = connectPgSimple(session);
        const store = new PgStore({ pool: db.pool, schemaName: ns, createTableIfMissing: true });
        return { store, close: async () => (await store.close(), await db.drop()) };
      },
    },
    {
      name: 'raw pg',
      role: 'raw',
      async create({ ns }) {
        const db = await schemaPool(url, ns);
        return { store: await rawPostgres(db.pool, ns), close: () => db.drop() };
      },
    },
  ];
  return { name: 'postgres', server: 'PostgreSQL', contenders };
};

import { createRequire } from 'node:module';
import session from 'express-session';
import type { SessionData, Store } from 'express-session';
import mysql from 'mysql2/promise';
import { MySQLStore } from '../../stores/mysql/index.js';
import { type BackendFactory, type Contender, RawStore, expiryOf } from '../lib/contender.js';

const require = createRequire(import.meta.url);
const expressMySQLSession = require('express-mysql-session') as (
  s: typeof session,
) => new (options: Record<string, unknown>, connection?: unknown) => Store & { onReady(): Promise<void>; close(): Promise<void> };

/** Each contender's pool has mysql2's default size (10), and its own database; drop() removes the database. */
async function databasePool(url: string, ns: string): Promise<{ pool: mysql.Pool; drop(): Promise<void> }> {
  const admin = await mysql.createConnection({ uri: url });
  await admin.query(`CREATE DATABASE IF NOT EXISTS \`${ns}\``);
  await admin.end();
  const u = new URL(url);
  u.pathname = `/${ns}`;
  const pool = mysql.createPool({ uri: u.toString() });
  return {
    pool,
    drop: async () => {
      await pool.query(`DROP DATABASE IF EXISTS \`${ns}\``);
      await pool.end();
    },
  };
}

/**
 * The floor: prepared statements (mysql2 `execute`) on express-mysql-session's table, JSON parsed in JS; an upsert
 * for set, a conditional UPDATE for touch. Whole seconds, as the incumbent.
 */
async function rawMysql(pool: mysql.Pool): Promise<RawStore> {
  await pool.query(
    'CREATE TABLE sessions (session_id varchar(128) COLLATE utf8mb4_bin NOT NULL PRIMARY KEY, expires int unsigned NOT NULL, ' +
      'data mediumtext COLLATE utf8mb4_bin, KEY (expires)) ENGINE=InnoDB',
  );
  const now = () => Math.round(Date.now() / 1000);
  return new RawStore({
    async get(sid) {
      const [rows] = await pool.execute<mysql.RowDataPacket[]>('SELECT data FROM sessions WHERE session_id = ? AND expires >= ?', [
        sid,
        now(),
      ]);
      const data = rows[0]?.['data'] as string | undefined;
      return data === undefined ? null : (JSON.parse(data) as SessionData);
    },
    async set(sid, sess) {
      await pool.execute(
        'INSERT INTO sessions (session_id, expires, data) VALUES (?, ?, ?) ON DUPLICATE KEY UPDATE expires = VALUES(expires), data = VALUES(data)',
        [sid, Math.round(expiryOf(sess) / 1000), JSON.stringify(sess)],
      );
    },
    async touch(sid, sess) {
      await pool.execute('UPDATE sessions SET expires = ? WHERE session_id = ? AND expires >= ?', [
        Math.round(expiryOf(sess) / 1000),
        sid,
        now(),
      ]);
    },
    async destroy(sid) {
      await pool.execute('DELETE FROM sessions WHERE session_id = ?', [sid]);
    },
  });
}

/** MySQL / MariaDB: ours, express-mysql-session 3, and prepared statements through mysql2. */
export const mysqlBackend: BackendFactory = async (url) => {
  if (!url) throw new Error('mysql needs a server URL');
  const contenders: Contender[] = [
    {
      name: 'ours (MySQLStore)',
      role: 'ours',
      async create({ ns, touchAfter, options }) {
        const db = await databasePool(url, ns);
        const store = new MySQLStore({ client: db.pool, touchAfter, ...options });
        await store.ready();
        return { store, close: async () => (await store.close(), await db.drop()) };
      },
    },
    {
      name: 'express-mysql-session 3',
      role: 'incumbent',
      async create({ ns }) {
        const db = await databasePool(url, ns);
        const Incumbent = expressMySQLSession(session);
        const store = new Incumbent({}, db.pool);
        await store.onReady();
        return { store, close: async () => (await store.close(), await db.drop()) };
      },
    },
    {
      name: 'raw mysql2',
      role: 'raw',
      async create({ ns }) {
        const db = await databasePool(url, ns);
        return { store: await rawMysql(db.pool), close: () => db.drop() };
      },
    },
  ];
  return { name: 'mysql', server: 'MySQL/MariaDB', contenders };
};

// Shared by the MySQL test files: pools and a throw-away database per file.
import mysql from 'mysql2/promise';
import { uniqueName } from '../servers/index.js';

/** `url` (which may name no database) with `database` as its path. */
export function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${encodeURIComponent(database)}`;
  return u.toString();
}

/** A promise pool on `url`; idle connections that die must not crash the test worker. */
export function makePool(url: string, options: mysql.PoolOptions = {}): mysql.Pool {
  const pool = mysql.createPool({ uri: url, connectionLimit: 4, connectTimeout: 5000, ...options });
  pool.on('connection', (conn) => conn.on('error', () => {}));
  return pool;
}

/** A fresh database for one test file; `drop()` removes it with everything in it. */
export async function scratchDatabase(url: string, label: string): Promise<{ name: string; url: string; drop: () => Promise<void> }> {
  const name = uniqueName(label);
  const conn = await mysql.createConnection({ uri: url, connectTimeout: 5000 });
  try {
    await conn.query(`CREATE DATABASE \`${name}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin`);
  } finally {
    await conn.end();
  }
  return {
    name,
    url: withDatabase(url, name),
    drop: async () => {
      const c = await mysql.createConnection({ uri: url, connectTimeout: 5000 });
      try {
        await c.query(`DROP DATABASE IF EXISTS \`${name}\``);
      } finally {
        await c.end();
      }
    },
  };
}

/** `` `a`.`b` `` with backticks doubled. */
export function qualifiedName(database: string, table: string): string {
  return `\`${database.replaceAll('`', '``')}\`.\`${table.replaceAll('`', '``')}\``;
}

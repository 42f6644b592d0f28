// Shared by the store test files: sessions as express-session hands them to a store, and (PostgreSQL) a throw-away schema.
import pg from 'pg';
import type { SessionData } from 'express-session';
import { uniqueName } from '../servers/index.js';

export const HOUR = 3_600_000;

/** A session as express-session hands it to a store, expiring at `expiresAt` (null: browser-session cookie). */
export function sess(expiresAt: number | null, data: Record<string, unknown> = {}): SessionData {
  return {
    cookie: {
      originalMaxAge: expiresAt === null ? null : expiresAt - Date.now(),
      expires: expiresAt === null ? null : new Date(expiresAt),
      httpOnly: true,
      path: '/',
    },
    ...data,
  } as unknown as SessionData;
}

/** A pool on `url`, optionally with a session TimeZone (`-c TimeZone=...` on every connection). */
export function makePool(url: string, config: pg.PoolConfig & { timeZone?: string } = {}): pg.Pool {
  const { timeZone, ...rest } = config;
  const pool = new pg.Pool({ connectionString: url, max: 4, ...(timeZone ? { options: `-c TimeZone=${timeZone}` } : {}), ...rest });
  pool.on('error', () => {}); // an idle connection dropped by the server must not crash the test worker
  return pool;
}

/** A fresh schema for one test file; `drop()` removes it with everything in it. */
export async function scratchSchema(pool: pg.Pool, label: string): Promise<{ name: string; drop: () => Promise<void> }> {
  const name = uniqueName(label);
  await pool.query(`CREATE SCHEMA "${name}"`);
  return { name, drop: async () => void (await pool.query(`DROP SCHEMA IF EXISTS "${name}" CASCADE`)) };
}

/** `"a"."b"` with quotes doubled. */
export function qualified(schema: string, table: string): string {
  return `"${schema.replaceAll('"', '""')}"."${table.replaceAll('"', '""')}"`;
}

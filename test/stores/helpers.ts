// Shared by the store test files: sessions as express-session hands them to a store, and (PostgreSQL) a throw-away schema.
import pg from 'pg';
import type { SessionData } from 'express-session';
import { type ConformanceOptions, type FactoryHints, conformance, groups } from '../../conformance/index.js';
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

/** Fixed keys for the suite's at-rest runs: a 32-byte key in front of an older secret string (rotation). */
const AT_REST_KEYS = [Buffer.alloc(32, 7), 'an older secret string of at least thirty-two characters'];

/**
 * The store options of one conformance run at rest (issue 17): `mode` (encryption, hashed ids, or both) unless the
 * suite's `atRest` group asks for its own keys through the `encryption` and `hashIds` hints.
 */
export function atRestOptions(
  hints: FactoryHints | undefined,
  mode: AtRestMode | undefined,
): { encryption?: { keys: Array<string | Uint8Array> }; hashIds?: boolean | { secret: string } } {
  if (hints?.encryption !== undefined) return { encryption: hints.encryption, hashIds: hints.hashIds };
  return mode?.options ?? {};
}

/** A way of storing sessions at rest that the suite runs under on every store. */
export interface AtRestMode {
  label: string;
  options: { encryption?: { keys: Array<string | Uint8Array> }; hashIds?: boolean | { secret: string } };
  /** The groups to run (default: the whole suite). */
  groups?: string[];
}

/**
 * What changes at rest (the record's encoding, the key it is stored under, the owner index keys) is exercised by
 * every group but four: concurrency, lifecycle, integration and frameworks drive the same hooks with the same
 * records harder or over HTTP. For modes that only change the record's format (session-file-store's `secret`).
 */
export const STORAGE_GROUPS = Object.keys(groups).filter((g) => !['concurrency', 'lifecycle', 'integration', 'frameworks'].includes(g));

/** The whole suite runs plain and in each of these modes, on every store (issue 17: each option alone, and both). */
// SESSION_STORES_PLAIN_ONLY=1 runs the plain mode only (CI's second Node release: the at-rest modes ran on Node 20).
export const AT_REST_MODES: AtRestMode[] =
  process.env.SESSION_STORES_PLAIN_ONLY === '1'
    ? []
    : [
        { label: 'encrypted', options: { encryption: { keys: AT_REST_KEYS } } },
        { label: 'hashed ids', options: { hashIds: true } },
        {
          label: 'encrypted, hashed ids',
          options: { encryption: { keys: AT_REST_KEYS }, hashIds: { secret: 'a hashing secret of at least thirty-two characters' } },
        },
      ];

/** The conformance suite, or the groups `mode` runs, inside `describe(opts.name)`. */
export function conformanceIn(mode: AtRestMode | undefined, opts: ConformanceOptions): void {
  if (!mode?.groups) return conformance(opts);
  opts.describe!(opts.name!, () => {
    for (const name of mode.groups!) groups[name]!(opts);
  });
}

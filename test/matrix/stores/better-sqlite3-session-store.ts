/**
 * better-sqlite3-session-store, as its README sets it up: a better-sqlite3 `client` and `expired.clear`. Its
 * table name is fixed and it has no ttl option, so it honours none of the suite's hints; each store gets its own
 * database file. It compares expiry with SQLite's `datetime('now')`, which has whole seconds.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import session from 'express-session';
import betterSqlite3SessionStore from 'better-sqlite3-session-store';
import type { Capabilities } from '../../../conformance/options.js';

const SqliteStore = betterSqlite3SessionStore(session);
const dir = mkdtempSync(join(tmpdir(), 'better-sqlite3-session-store-'));
let counter = 0;

export const name = 'better-sqlite3-session-store';
const probe = new Database(':memory:');
export const backend = `SQLite ${probe.prepare('select sqlite_version()').pluck().get() as string} (better-sqlite3)`;
probe.close();

export const capabilities: Partial<Capabilities> = {
  ttlOption: false,
  touchAfter: false,
  disableTouch: false,
  namespaces: false,
  msPrecision: false,
};

export default function factory(): session.Store {
  return new SqliteStore({ client: new Database(join(dir, `${++counter}.db`)), expired: { clear: true, intervalMs: 900_000 } });
}

/** The store has no close(); its database handle is ours to close. (Its cleanup interval cannot be stopped.) */
export function teardown(store: session.Store): void {
  (store as unknown as { client: Database.Database }).client.close();
}

export function cleanup(): void {
  rmSync(dir, { recursive: true, force: true });
}

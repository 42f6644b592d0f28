/**
 * connect-sqlite3, as its README sets it up: `require('connect-sqlite3')(session)` with `db`, `dir` and
 * `table` (it opens the file with the sqlite3 package). A namespace is a table, its documented option; it has no
 * ttl option (expiry comes from cookie.maxAge).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import session from 'express-session';
import connectSqlite3 from 'connect-sqlite3';
import type { Capabilities, FactoryHints } from '../../../conformance/options.js';

const SQLiteStore = connectSqlite3(session);
const dir = mkdtempSync(join(tmpdir(), 'connect-sqlite3-'));
let counter = 0;

export const name = 'connect-sqlite3';
export const backend = 'SQLite (sqlite3)';

export const capabilities: Partial<Capabilities> = {
  ttlOption: false,
  touchAfter: false,
  disableTouch: false,
  namespaces: true,
};

export default function factory(hints: FactoryHints = {}): session.Store {
  // Stores that share a namespace share a file (tables tell namespaces apart; the name goes into its SQL
  // unquoted, hence identifier characters only). Every other store gets its own file, so that a lock one test
  // leaves behind (e.g. after a throwing callback) cannot fail the tests after it.
  if (hints.namespace === undefined) return new SQLiteStore({ db: `${++counter}.db`, dir, table: 'sessions' });
  return new SQLiteStore({ db: 'namespaces.db', dir, table: `ns_${hints.namespace.replace(/\W/g, '_')}` });
}

/** connect-sqlite3 has no close(); the sqlite3 handle it opened is closed here (errors ignored: best effort). */
export function teardown(store: session.Store): Promise<void> {
  const db = (store as unknown as { db: { close: (cb: (err: unknown) => void) => void } }).db;
  return new Promise((resolve) => db.close(() => resolve()));
}

export function cleanup(): void {
  rmSync(dir, { recursive: true, force: true });
}

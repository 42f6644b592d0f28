import type BetterSqlite3 from 'better-sqlite3';
import { quoteIdentifier } from './identifier.js';

/**
 * better-sqlite3-session-store's table, byte for byte, plus the index on `expire` it never had. The index only
 * adds a B-tree: that store's `INSERT OR REPLACE`, `datetime(expire)` filters and full scans work unchanged.
 */
export function schemaSql(table: string): string {
  const t = quoteIdentifier(table);
  const index = quoteIdentifier(`${table}_expire_idx`);
  return `CREATE TABLE IF NOT EXISTS ${t} (sid TEXT NOT NULL PRIMARY KEY, sess JSON NOT NULL, expire TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS ${index} ON ${t} (expire);`;
}

const BUSY_CODES = new Set(['SQLITE_BUSY', 'SQLITE_BUSY_RECOVERY', 'SQLITE_BUSY_SNAPSHOT', 'SQLITE_LOCKED']);

/**
 * Runs `step` again while SQLite reports the file busy, for up to `timeoutMs`. Needed only at start-up:
 * switching a fresh file to WAL takes an exclusive lock, and SQLite does not always consult the busy handler
 * there, so several processes opening one new file at once could otherwise fail with `SQLITE_BUSY`.
 */
export function retryWhileBusy<T>(step: () => T, timeoutMs: number): T {
  const deadline = Date.now() + timeoutMs;
  let pause = 1;
  for (;;) {
    try {
      return step();
    } catch (err) {
      const code = (err as { code?: unknown })?.code;
      if (typeof code !== 'string' || !BUSY_CODES.has(code) || Date.now() >= deadline) throw err;
      sleepSync(pause);
      pause = Math.min(pause * 2, 50);
    }
  }
}

function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** Pragmas that make one file safe and fast for several processes: WAL, a busy timeout, `synchronous=NORMAL`. */
export function applyPragmas(
  db: BetterSqlite3.Database,
  settings: { busyTimeoutMs?: number; wal: boolean; synchronousNormal: boolean },
): void {
  // First, so that every later step waits for other processes instead of failing at once.
  if (settings.busyTimeoutMs !== undefined) db.pragma(`busy_timeout = ${Math.floor(settings.busyTimeoutMs)}`);
  if (settings.wal && !db.memory && db.pragma('journal_mode', { simple: true }) !== 'wal') {
    db.pragma('journal_mode = WAL');
  }
  // In WAL mode NORMAL is durable across application crashes; only a power loss can drop the last commits.
  if (settings.synchronousNormal) db.pragma('synchronous = NORMAL');
}

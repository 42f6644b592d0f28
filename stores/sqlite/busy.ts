import { setTimeout as sleep } from 'node:timers/promises';

const BUSY_CODES = new Set(['SQLITE_BUSY', 'SQLITE_BUSY_RECOVERY', 'SQLITE_BUSY_SNAPSHOT', 'SQLITE_LOCKED']);

/**
 * How long the connections the store opens let SQLite wait for a lock *synchronously* (`busy_timeout`): a few
 * milliseconds absorb the usual micro-contention between processes without freezing the event loop; anything
 * longer is waited for asynchronously by {@link whileBusy}.
 */
export const SYNC_BUSY_TIMEOUT_MS = 2;

/** Whether `err` is SQLite saying another connection holds the lock. */
export function isBusy(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && BUSY_CODES.has(code);
}

/**
 * Runs the synchronous `step` until SQLite stops reporting the database busy, waiting between attempts on a
 * timer (1 ms, doubling up to 25 ms) instead of in better-sqlite3's synchronous busy handler, so a lock another
 * process holds for seconds delays this operation but never the rest of the process. Gives up after
 * `timeoutMs` with the last `SQLITE_BUSY`.
 */
export async function whileBusy<T>(step: () => T, timeoutMs: number): Promise<T> {
  let deadline: number | undefined;
  let pause = 1;
  for (;;) {
    try {
      return step();
    } catch (err) {
      if (!isBusy(err)) throw err;
      deadline ??= Date.now() + timeoutMs;
      if (Date.now() >= deadline) throw err;
      await sleep(pause);
      pause = Math.min(pause * 2, 25);
    }
  }
}

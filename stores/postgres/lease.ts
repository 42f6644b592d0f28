import type { Pool, PoolClient } from 'pg';
import { isConnectionError } from './connection-errors.js';

/** A checked-out client: `fail()` marks it unusable, `release()` returns (or, after a failure, destroys) it. */
export interface Lease {
  client: PoolClient;
  fail: (err: unknown) => void;
  release: () => void;
}

/**
 * A client checked out for several statements. The `'error'` listener is attached inside pg-pool's callback,
 * synchronously: a promise would leave a gap in which a connection killed right after it was handed out (a server
 * shutting down) emits `'error'` with nobody listening, which crashes the process.
 */
export function checkout(pool: Pool): Promise<Lease> {
  return new Promise((resolve, reject) => {
    pool.connect((err, client, done) => {
      if (err || !client) return reject(err ?? new Error('pg-pool returned no client'));
      let broken: Error | undefined;
      const onError = (e: Error): void => {
        broken ??= e;
      };
      client.on('error', onError);
      resolve({
        client,
        fail: (e) => {
          broken ??= e instanceof Error ? e : new Error(String(e));
        },
        release: () => {
          client.off('error', onError);
          // Releasing with an error destroys the connection rather than reusing it.
          done(broken);
        },
      });
    });
  });
}

/** Runs `work` on a checked-out client; a connection that died under it is destroyed, not returned to the pool. */
export async function withClient<T>(pool: Pool, work: (client: PoolClient, lease: Lease) => Promise<T>): Promise<T> {
  const lease = await checkout(pool);
  try {
    return await work(lease.client, lease);
  } catch (err) {
    // A query error leaves the connection usable; only a dead one must be discarded.
    if (isConnectionError(err)) lease.fail(err);
    throw err;
  } finally {
    lease.release();
  }
}

/**
 * A saturated pool is not an outage (issue 13, defect 5). When the application's own queries hold every
 * connection of a shared pg.Pool, pg-pool answers "timeout exceeded when trying to connect"; the first-round
 * store took that for a dead server and said 'disconnect', so express-session served every user without a
 * session for seconds while PostgreSQL was up. Now the store pings on a fresh connection first.
 */
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { PostgresStore } from '../../stores/postgres/index.js';
import { serverOrSkip, uniqueName } from '../servers/index.js';
import { HOUR, sess } from './helpers.js';

const server = await serverOrSkip('postgres');

/** Counts the pings the store makes, so a test can wait for one instead of sleeping. */
class Watched extends PostgresStore {
  pings = 0;
  protected override async _ping(): Promise<void> {
    try {
      await super._ping();
    } finally {
      this.pings++;
    }
  }
}

async function until(condition: () => boolean, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe.skipIf(!server)(`PostgresStore: a pool busy with the application's queries [${server?.description}]`, () => {
  const pools: pg.Pool[] = [];
  afterAll(() => Promise.all(pools.map((p) => p.end())));

  // The operation timeout stays well above what a fresh connection costs on a loaded machine: the ping that tells
  // "busy" from "down" opens one within it.
  it.each([
    ['the pool cannot hand out a connection in time', 300, {}],
    ['the operation times out waiting for one', 0, { operationTimeoutMs: 2000 }],
  ])("%s: the request fails, no 'disconnect', and the store works once the pool frees up", async (_, connectionTimeoutMillis, options) => {
    const pool = new pg.Pool({ connectionString: server?.url, max: 2, connectionTimeoutMillis });
    pool.on('error', () => {});
    pools.push(pool);
    const store = new Watched({ client: pool, tableName: uniqueName('t'), createTableIfMissing: true, ...options });
    const events: string[] = [];
    store.on('disconnect', () => events.push('disconnect'));
    await store.set('s', sess(Date.now() + HOUR, { v: 1 }));
    const held = await Promise.all([pool.connect(), pool.connect()]);
    try {
      const err = await store.get('s').catch((e: unknown) => e);
      expect(err).toMatchObject({ code: expect.stringMatching(/^SESSION_STORE_(BACKEND|TIMEOUT)$/) });
      await until(() => store.pings > 0); // the store checked the server on a fresh connection …
      expect(events).toEqual([]); // … found it up, and said nothing to express-session
      expect(store.connected).toBe(true);
    } finally {
      for (const client of held) client.release();
    }
    expect(await store.get('s')).toMatchObject({ v: 1 });
    await store.client.query(`DROP TABLE ${store.table}`);
    await store.close();
  });
});

describe.skipIf(!server)(`PostgresStore: a pool it created, after close() [${server?.description}]`, () => {
  // Found by a loaded test run: pg-pool's end() resolves before its idle connections have finished closing, and a
  // "terminating connection" from a server shutting down in between came out as a pool 'error' that nobody heard
  // any more (the store had removed its listener): an uncaught exception, the process down.
  it('an error from a connection still closing is ignored, not an uncaught exception', async () => {
    const store = new PostgresStore({ conString: server!.url, tableName: uniqueName('t'), createTableIfMissing: true });
    await store.set('s', sess(Date.now() + HOUR, { v: 1 })); // a connection, idle in the pool when it ends
    await store.close();
    const late = Object.assign(new Error('terminating connection due to administrator command'), { code: '57P01' });
    expect(() => store.client.emit('error', late)).not.toThrow();
  });

  it('a pool passed in is left as it was: the store removes its listener', async () => {
    const pool = new pg.Pool({ connectionString: server!.url, max: 1 });
    const before = pool.listenerCount('error');
    const store = new PostgresStore({ client: pool, tableName: uniqueName('t'), createTableIfMissing: true });
    await store.set('s', sess(Date.now() + HOUR, { v: 1 }));
    await store.close();
    expect(pool.listenerCount('error')).toBe(before);
    await pool.end();
  });
});

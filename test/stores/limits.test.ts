/**
 * Limits every store must hold the same way (issue 13, defects 6, 8, 9, 10, 11, 12), on every backend:
 * - the latest expiry (9999-12-31T23:59:59.999Z) is stored exactly; anything later — a ttl of Infinity, 1e300 or
 *   1e13 seconds, a later cookie — is refused with INVALID_SESSION before anything is written (the first round
 *   acknowledged such sets and then lost them, or failed with a driver error);
 * - unknown option names are refused at construction, with the close matches;
 * - 100 stores on one client or pool add no listener-leak warning;
 * - sids the backend cannot index are refused up front; handles that cannot work are refused at construction.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { Redis } from 'ioredis';
import { MongoClient } from 'mongodb';
import pg from 'pg';
import { createClient } from 'redis';
import { afterAll, describe, expect, it } from 'vitest';
import { ErrorCode, type SessionStore } from '../../shared/index.js';
import { FileStore } from '../../stores/file/index.js';
import { MemoryStore } from '../../stores/memory/index.js';
import { MongoStore } from '../../stores/mongo/index.js';
import { PostgresStore } from '../../stores/postgres/index.js';
import { RedisStore } from '../../stores/redis/index.js';
import { SQLiteStore } from '../../stores/sqlite/index.js';
import { serverOrSkip, uniqueName } from '../servers/index.js';
import { HOUR, sess } from './helpers.js';

const MAX = Date.UTC(9999, 11, 31, 23, 59, 59, 999);
const dir = mkdtempSync(join(tmpdir(), 'limits-'));
const redis = await serverOrSkip('redis');
const postgres = await serverOrSkip('postgres');
const mongo = await serverOrSkip('mongo');
const cleanups: Array<() => Promise<unknown> | unknown> = [() => rmSync(dir, { recursive: true, force: true })];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
});

type Make = (options: Record<string, unknown>) => SessionStore;
const backends: Array<[string, Make | undefined]> = [
  ['memory', (o) => new MemoryStore(o)],
  ['sqlite', (o) => new SQLiteStore({ filename: join(dir, 'limits.db'), tableName: uniqueName('t'), ...o })],
  ['file', (o) => new FileStore({ path: join(dir, uniqueName('f')), ...o })],
];
if (redis) {
  const io = new Redis(redis.url);
  const nr = await createClient({ url: redis.url })
    .on('error', () => {})
    .connect();
  cleanups.push(
    () => io.quit(),
    () => nr.close(),
  );
  backends.push(['redis (ioredis)', (o) => new RedisStore({ client: io, prefix: `${uniqueName('l')}:`, ...o })]);
  backends.push(['redis (node-redis)', (o) => new RedisStore({ client: nr, prefix: `${uniqueName('l')}:`, ...o })]);
}
if (postgres) {
  const pool = new pg.Pool({ connectionString: postgres.url, max: 4 });
  const schema = uniqueName('limits');
  await pool.query(`CREATE SCHEMA "${schema}"`);
  cleanups.push(async () => {
    await pool.query(`DROP SCHEMA "${schema}" CASCADE`);
    await pool.end();
  });
  backends.push([
    'postgres',
    (o) => new PostgresStore({ client: pool, schemaName: schema, tableName: uniqueName('t'), createTableIfMissing: true, ...o }),
  ]);
}
if (mongo) {
  const client = new MongoClient(mongo.url);
  const dbName = uniqueName('limits');
  cleanups.push(async () => {
    await client.db(dbName).dropDatabase();
    await client.close();
  });
  backends.push(['mongo', (o) => new MongoStore({ client, dbName, collectionName: uniqueName('c'), ...o })]);
}

for (const [name, make] of backends) {
  describe(`${name}: limits`, () => {
    const open = (options: Record<string, unknown> = {}): SessionStore => {
      const store = make!(options);
      cleanups.push(() => store.close());
      return store;
    };

    it('stores the latest expiry exactly and refuses anything later before writing', async () => {
      const store = open();
      await store.set('max', sess(MAX, { v: 1 }));
      expect((await store.get('max'))?.cookie.expires).toBe(new Date(MAX).toISOString());
      await expect(store.set('later', sess(MAX + 1))).rejects.toMatchObject({ code: ErrorCode.INVALID_SESSION });
      expect(await store.get('later')).toBeNull();
    });

    it.each([[Infinity], [1e300], [1e13]])('refuses a ttl of %d seconds before writing', async (seconds) => {
      const store = open({ ttl: () => seconds });
      await expect(store.set('forever', sess(null))).rejects.toMatchObject({ code: ErrorCode.INVALID_SESSION });
      expect(await store.get('forever')).toBeNull();
    });

    it('refuses unknown option names, naming the close match', () => {
      expect(() => make!({ tuchAfter: 10 })).toThrow(
        expect.objectContaining({ code: ErrorCode.INVALID_OPTION, message: expect.stringContaining('"touchAfter"') }),
      );
    });
  });
}

describe('listener leaks: 100 stores on one client or pool', () => {
  const leaks = async (make: () => SessionStore): Promise<string[]> => {
    const warnings: string[] = [];
    const onWarning = (w: Error): void => void warnings.push(`${w.name}: ${w.message}`);
    process.on('warning', onWarning);
    try {
      const stores = Array.from({ length: 100 }, make);
      await Promise.all(stores.map((s) => s.ready()));
      await new Promise((r) => setImmediate(r));
      await Promise.all(stores.map((s) => s.close()));
    } finally {
      process.off('warning', onWarning);
    }
    return warnings.filter((w) => w.includes('MaxListenersExceeded'));
  };

  it.skipIf(!redis)('ioredis and node-redis', async () => {
    const io = new Redis(redis!.url);
    // ioredis itself listens to 'ready' until it has connected: count only ours.
    if (io.status !== 'ready') await new Promise((resolve) => io.once('ready', resolve));
    const nr = await createClient({ url: redis!.url })
      .on('error', () => {})
      .connect();
    expect(await leaks(() => new RedisStore({ client: io }))).toEqual([]);
    expect(await leaks(() => new RedisStore({ client: nr }))).toEqual([]);
    expect(io.listenerCount('ready')).toBe(0); // the shared listeners go with the last store
    await io.quit();
    await nr.close();
  });

  it.skipIf(!postgres)('pg.Pool', async () => {
    const pool = new pg.Pool({ connectionString: postgres!.url });
    pool.on('error', () => {});
    expect(await leaks(() => new PostgresStore({ pool, operationTimeoutMs: 60_000 }))).toEqual([]);
    expect(pool.listenerCount('error')).toBe(1); // only the application's own
    await pool.end();
  });

  it.skipIf(!mongo)('MongoClient', async () => {
    const client = new MongoClient(mongo!.url);
    expect(await leaks(() => new MongoStore({ client, dbName: uniqueName('leak'), operationTimeoutMs: 60_000 }))).toEqual([]);
    await client.close();
  });
});

describe('sids the backend cannot index, handles that cannot work', () => {
  it.skipIf(!postgres)('PostgreSQL: a sid over its index limit in UTF-8 bytes is refused up front; one under it works', async () => {
    const store = new PostgresStore({ conString: postgres!.url, tableName: uniqueName('t'), createTableIfMissing: true });
    try {
      const tooLong = '€'.repeat(1024); // 1024 characters, 3072 bytes
      await expect(store.set(tooLong, sess(Date.now() + HOUR))).rejects.toMatchObject({ code: ErrorCode.INVALID_SID });
      const fits = '€'.repeat(866); // 2598 bytes
      await store.set(fits, sess(Date.now() + HOUR, { v: 1 }));
      expect(await store.get(fits)).toMatchObject({ v: 1 });
      await store.client.query(`DROP TABLE ${store.table}`);
    } finally {
      await store.close();
    }
  });

  it.skipIf(!postgres)('PostgreSQL: a pg.Client is refused; a connection string is taken as such', async () => {
    expect(() => new PostgresStore({ client: new pg.Client(postgres!.url) as never })).toThrow(
      expect.objectContaining({ code: ErrorCode.INVALID_OPTION, message: expect.stringContaining('pg.Client') }),
    );
    expect(() => new PostgresStore(new pg.Client(postgres!.url) as never)).toThrow(
      expect.objectContaining({ code: ErrorCode.INVALID_OPTION }),
    );
    const store = new PostgresStore(postgres!.url);
    expect((store.client as unknown as { options: { connectionString?: string } }).options.connectionString).toBe(postgres!.url);
    expect((await store.client.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
    await store.close();
  });

  it.skipIf(!redis)('Redis: an empty prefix is refused (clear() would empty the database)', () => {
    const io = new Redis(redis!.url, { lazyConnect: true });
    expect(() => new RedisStore({ client: io, prefix: '' })).toThrow(expect.objectContaining({ code: ErrorCode.INVALID_OPTION }));
    io.disconnect();
  });

  it.skipIf(!redis)('Redis: an unconnected node-redis client is reported disconnected until it connects', async () => {
    const client = createClient({ url: redis!.url }).on('error', () => {});
    const store = new RedisStore({ client });
    const connected = new Promise((resolve) => store.once('connect', resolve));
    await store.ready();
    expect(store.connected).toBe(false);
    await client.connect();
    await connected;
    expect(await store.get('x')).toBeNull();
    await store.close();
    await client.close();
  });

  it('SQLite: a closed Database is refused', () => {
    const db = new Database(':memory:');
    db.close();
    expect(() => new SQLiteStore(db)).toThrow(expect.objectContaining({ code: ErrorCode.INVALID_OPTION }));
  });
});

/**
 * The oldest and the newest supported major of each driver, through the whole conformance suite (issue 14):
 * node-redis 4 and 6 (5 runs in redis.test.ts, with ioredis 5), mongodb 5 and 7 (6 runs in mongo.test.ts), and
 * better-sqlite3 9 (12 runs in sqlite.test.ts). pg has one major (8). Each is installed under an npm alias
 * (`redis4`, `redis6`, `mongodb5`, `mongodb7`, `better-sqlite3-v9`), so the stores see exactly the client classes
 * those versions export.
 */
import { createRequire } from 'node:module';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type BetterSqlite3 from 'better-sqlite3';
import { MongoClient as MongoClient5 } from 'mongodb5';
import { MongoClient as MongoClient7 } from 'mongodb7';
import { createClient as createClient4 } from 'redis4';
import { createClient as createClient6 } from 'redis6';
import { afterAll, describe, it } from 'vitest';
import { conformance } from '../../conformance/index.js';
import { MongoStore } from '../../stores/mongo/index.js';
import { RedisStore } from '../../stores/redis/index.js';
import { SQLiteStore } from '../../stores/sqlite/index.js';
import { serverOrSkip, uniqueName } from '../servers/index.js';

const require = createRequire(import.meta.url);
const redis = await serverOrSkip('redis');
const mongo = await serverOrSkip('mongo');
const version = (pkg: string): string => (require(`${pkg}/package.json`) as { version: string }).version;

describe.skipIf(!redis)('node-redis majors', () => {
  const connect = {
    redis4: async () =>
      createClient4({ url: redis!.url })
        .on('error', () => {})
        .connect(),
    redis6: async () =>
      createClient6({ url: redis!.url })
        .on('error', () => {})
        .connect(),
  };
  for (const pkg of ['redis4', 'redis6'] as const) {
    describe(`${pkg} (redis ${version(pkg)})`, async () => {
      const client = await connect[pkg]();
      afterAll(() => client.quit());
      const base = uniqueName(pkg);
      conformance({
        test: it,
        describe,
        name: 'conformance',
        factory: (hints) =>
          new RedisStore({
            client,
            prefix: `${base}:${encodeURIComponent(hints?.namespace ?? uniqueName('s'))}:`,
            ttl: hints?.ttl,
            touchAfter: hints?.touchAfter,
            disableTouch: hints?.disableTouch,
            owner: hints?.owner,
          }),
      });
    });
  }
});

describe.skipIf(!mongo)('mongodb majors', () => {
  for (const [pkg, Client] of [
    ['mongodb5', MongoClient5],
    ['mongodb7', MongoClient7],
  ] as const) {
    describe(`${pkg} (mongodb ${version(pkg)})`, () => {
      const client = new Client(mongo!.url);
      const dbName = uniqueName(pkg);
      afterAll(async () => {
        await client.db(dbName).dropDatabase();
        await client.close();
      });
      conformance({
        test: it,
        describe,
        name: 'conformance',
        factory: async (hints) => {
          const store = new MongoStore({
            client,
            dbName,
            collectionName: hints?.namespace ?? uniqueName('c'),
            ttl: hints?.ttl,
            touchAfter: hints?.touchAfter,
            disableTouch: hints?.disableTouch,
            owner: hints?.owner,
            // FerretDB serializes writes: the 1000-parallel test queues longer than a production bound.
            operationTimeoutMs: 60_000,
          });
          await store.ready();
          return store;
        },
      });
    });
  }
});

describe(`better-sqlite3 ${version('better-sqlite3-v9')}`, () => {
  const Database = require('better-sqlite3-v9') as typeof BetterSqlite3;
  const dir = mkdtempSync(join(tmpdir(), 'drivers-'));
  const db = new Database(join(dir, 'v9.db'));
  db.pragma('journal_mode = WAL');
  afterAll(() => {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  });
  conformance({
    test: it,
    describe,
    name: 'conformance',
    factory: (hints) =>
      new SQLiteStore({
        client: db,
        tableName: `t_${hints?.namespace ?? uniqueName('t')}`,
        ttl: hints?.ttl,
        touchAfter: hints?.touchAfter,
        disableTouch: hints?.disableTouch,
        owner: hints?.owner,
      }),
  });
});

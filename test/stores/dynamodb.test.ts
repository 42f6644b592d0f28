import { createHash } from 'node:crypto';
import {
  DeleteTableCommand,
  DescribeTableCommand,
  DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  ScanCommand,
} from '@aws-sdk/client-dynamodb';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { isSessionStoreError } from '../../shared/errors.js';
import { DynamoDBStore, type DynamoDBStoreOptions } from '../../stores/dynamodb/index.js';
import DynamoDBStoreDefault from '../../stores/dynamodb/index.js';
import { serverOrSkip, uniqueName } from '../servers/index.js';
import { dynamoClientConfig } from '../servers/probe.js';
import { AT_REST_MODES, HOUR, atRestOptions, conformanceIn, sess } from './helpers.js';
import { dynamodbRaw } from './raw.js';

const server = await serverOrSkip('dynamodb');

/** A table name unique to this run (uniqueName() is valid: lower case, digits and _). */
const tableName = (label: string) => uniqueName(label);

describe.skipIf(!server)(`DynamoDBStore [${server?.description}]`, () => {
  let client: DynamoDBClient;
  const tables = new Set<string>();
  const opened: DynamoDBStore[] = [];

  beforeAll(() => {
    client = new DynamoDBClient(dynamoClientConfig(server!.url));
  });
  afterAll(async () => {
    for (const s of opened.splice(0)) if (!s.closed) await s.close();
    for (const t of tables) await client.send(new DeleteTableCommand({ TableName: t })).catch(() => {});
    client?.destroy();
  });
  afterEach(async () => {
    for (const s of opened.splice(0)) if (!s.closed) await s.close();
  });

  const open = (options: DynamoDBStoreOptions = {}): DynamoDBStore => {
    const table = options.table ?? tableName('t');
    tables.add(table);
    const store = new DynamoDBStore({ client, table, createTable: true, ...options });
    opened.push(store);
    return store;
  };
  // Same namespace, same table; tables are cheap on dynalite, so every other store gets its own.
  const tableFor = (namespace?: string) =>
    namespace === undefined ? tableName('c') : `ns_${createHash('sha1').update(namespace).digest('hex').slice(0, 16)}`;

  // DynamoDB items hold at most 400 KB: a 1 MB session fits only compressed, and ciphertext does not compress, so
  // encrypted sessions are compressed before sealing (`encryption.compress`, as docs/dynamodb.md says to).
  const withCompression = <T extends { encryption?: object }>(options: T): T =>
    options.encryption ? { ...options, encryption: { ...options.encryption, compress: true } } : options;
  // Plain, and with sessions encrypted, under hashed ids, and both (issue 17).
  for (const mode of [undefined, ...AT_REST_MODES]) {
    conformanceIn(mode, {
      test: it,
      describe,
      name: `conformance${mode ? ` (${mode.label})` : ''}`,
      raw: dynamodbRaw,
      factory: async (hints) => {
        const table = tableFor(hints?.namespace === undefined ? undefined : `${mode?.label}:${hints.namespace}`);
        tables.add(table);
        const store = new DynamoDBStore({
          client,
          table,
          createTable: true,
          ttl: hints?.ttl,
          touchAfter: hints?.touchAfter,
          disableTouch: hints?.disableTouch,
          owner: hints?.owner,
          // dynalite is one single-threaded JavaScript process: 1,000 parallel writes queue behind each other for
          // seconds on a loaded 2-core machine (as FerretDB does for MongoStore). The bound is tested in the fault test.
          operationTimeoutMs: 60_000,
          ...withCompression(atRestOptions(hints, mode)),
        });
        // The table is created lazily by the first operation; tests with 20 ms expiries must not pay for it.
        await store.ready();
        return store;
      },
      teardown: async (store) => {
        const s = store as DynamoDBStore;
        if (!s.closed) await s.close();
      },
    });
  }

  const item = async (table: string, id: string) =>
    (await client.send(new GetItemCommand({ TableName: table, Key: { id: { S: id } }, ConsistentRead: true }))).Item;

  describe('layout', () => {
    it('is the named and the default export, and accepts a bare client it never destroys', async () => {
      expect(DynamoDBStoreDefault).toBe(DynamoDBStore);
      const store = new DynamoDBStore(client);
      expect(store.client).toBe(client);
      expect(store.table).toBe('sessions');
      expect(store.prefix).toBe('sess:');
      expect(store.namespace).toBe('sessions/sess:');
      await store.close();
      // The client we passed in still works.
      await client.send(new DescribeTableCommand({ TableName: tables.values().next().value ?? 'x' })).catch((err: Error) => {
        expect(err.name).toBe('ResourceNotFoundException');
      });
    });

    it("writes connect-dynamodb's item: id = prefix + sid, expires in seconds, type, sess JSON, plus expiresMs", async () => {
      const store = open();
      const expires = Date.now() + HOUR + 123;
      const written = sess(expires, { user: 'ann' });
      await store.set('abc', written);
      const got = await item(store.table, 'sess:abc');
      expect(got).toEqual({
        id: { S: 'sess:abc' },
        expires: { N: String(Math.ceil(expires / 1000)) },
        expiresMs: { N: String(expires) },
        type: { S: 'connect-session' },
        sess: { S: JSON.stringify(written) },
      });
    });

    it('creates the table with on-demand billing and a string hash key, and reports the TTL state', async () => {
      const store = open();
      await store.ready();
      const { Table } = await client.send(new DescribeTableCommand({ TableName: store.table }));
      expect(Table?.KeySchema).toEqual([{ AttributeName: 'id', KeyType: 'HASH' }]);
      expect(Table?.AttributeDefinitions).toEqual([{ AttributeName: 'id', AttributeType: 'S' }]);
      expect(Table?.BillingModeSummary?.BillingMode ?? 'PAY_PER_REQUEST').toBe('PAY_PER_REQUEST');
      // dynalite has no UpdateTimeToLive; a real DynamoDB says 'enabling' then 'enabled'.
      expect(['unsupported', 'enabling', 'enabled']).toContain(store.timeToLive);
      expect(store.supports.nativeExpiry).toBe(store.timeToLive !== 'unsupported');
    });

    it('provisioned capacity when readCapacityUnits / writeCapacityUnits are given', async () => {
      const store = open({ readCapacityUnits: 3, writeCapacityUnits: 2 });
      await store.ready();
      const { Table } = await client.send(new DescribeTableCommand({ TableName: store.table }));
      expect(Table?.ProvisionedThroughput?.ReadCapacityUnits).toBe(3);
      expect(Table?.ProvisionedThroughput?.WriteCapacityUnits).toBe(2);
    });

    it('a custom hashKey and prefix', async () => {
      const table = tableName('hk');
      const store = open({ table, hashKey: 'pk', prefix: 'app:' });
      await store.set('x', sess(Date.now() + HOUR, { n: 1 }));
      const got = (await client.send(new GetItemCommand({ TableName: table, Key: { pk: { S: 'app:x' } } }))).Item;
      expect(got?.sess?.S).toContain('"n":1');
      expect(await store.ids()).toEqual(['x']);
    });

    it('an empty prefix claims the whole table: keys are the sids, bulk operations and owners unfiltered', async () => {
      const store = open({ prefix: '', owner: 'user' });
      await store.set('bare', sess(Date.now() + HOUR, { user: 'ann' }));
      expect((await item(store.table, 'bare'))?.sess?.S).toContain('ann');
      expect(await store.ids()).toEqual(['bare']);
      expect(Object.keys(await store.all())).toEqual(['bare']);
      expect((await store.sessionsOf('ann')).map((s) => s.sid)).toEqual(['bare']);
      await store.destroy('bare');
      await store.clear();
      expect((await client.send(new ScanCommand({ TableName: store.table }))).Items).toEqual([]);
    });

    it('without createTable, a missing table fails ready() with a clear error; a wrong key schema too', async () => {
      const missing = new DynamoDBStore({ client, table: tableName('missing') });
      opened.push(missing);
      await expect(missing.ready()).rejects.toThrow(/does not exist/);
      const table = tableName('wrongkey');
      await open({ table, hashKey: 'pk' }).ready();
      const wrong = new DynamoDBStore({ client, table });
      opened.push(wrong);
      await expect(wrong.ready()).rejects.toThrow(/hash key "id"/);
    });

    it('initialized: true skips the table check (and assumes TTL)', async () => {
      const store = new DynamoDBStore({ client, table: tableName('init'), initialized: true });
      opened.push(store);
      await store.ready();
      expect(store.timeToLive).toBe('assumed');
      await expect(store.get('x')).rejects.toSatisfy((err) => isSessionStoreError(err, 'SESSION_STORE_BACKEND'));
    });

    it('a tombstone is the item without sess, expiring at the end of the revocation window', async () => {
      const store = open({ revocationWindowMs: 60_000 });
      await store.set('t', sess(Date.now() + HOUR));
      const before = Date.now();
      await store.destroy('t');
      const got = await item(store.table, 'sess:t');
      expect(got?.sess).toBeUndefined();
      const ms = Number(got?.expiresMs?.N);
      expect(ms).toBeGreaterThanOrEqual(before + 60_000);
      expect(Number(got?.expires?.N)).toBe(Math.ceil(ms / 1000));
      await store.set('t', sess(Date.now() + HOUR, { late: true }));
      expect(await store.get('t')).toBeNull();
      expect(await store.length()).toBe(0);
    });

    it('touch() never resurrects: not a missing item, not an expired one, not a tombstone', async () => {
      const store = open();
      await store.touch('none', sess(Date.now() + HOUR));
      expect(await item(store.table, 'sess:none')).toBeUndefined();
      // An expired item that TTL has not deleted yet (DynamoDB deletes late).
      const past = Date.now() - 5_000;
      await client.send(
        new PutItemCommand({
          TableName: store.table,
          Item: {
            id: { S: 'sess:old' },
            expires: { N: String(Math.ceil(past / 1000)) },
            expiresMs: { N: String(past) },
            type: { S: 'connect-session' },
            sess: { S: JSON.stringify(sess(past)) },
          },
        }),
      );
      expect(await store.get('old')).toBeNull();
      await store.touch('old', sess(Date.now() + HOUR));
      expect(await store.get('old')).toBeNull();
      expect((await item(store.table, 'sess:old'))?.expiresMs?.N).toBe(String(past));
    });

    it('sessions over 256 KB are stored gzip-compressed in a binary sess; 400 KB items are the hard limit', async () => {
      const store = open();
      const big = 'x'.repeat(600_000);
      await store.set('big', sess(Date.now() + HOUR, { big }));
      expect((await item(store.table, 'sess:big'))?.sess?.B).toBeInstanceOf(Uint8Array);
      expect(((await store.get('big')) as { big?: string } | null)?.big).toBe(big);
      expect(Object.keys(await store.all())).toEqual(['big']);
      // Incompressible and too large: a clean backend error, not a crash.
      const noise = Array.from({ length: 60_000 }, () => Math.random().toString(36).slice(2)).join('');
      await expect(store.set('noise', sess(Date.now() + HOUR, { noise }))).rejects.toSatisfy((err) =>
        isSessionStoreError(err, 'SESSION_STORE_BACKEND'),
      );
    });

    it('specialKeys copy session fields into attributes; a missing one fails unless skipThrowMissingSpecialKeys', async () => {
      const store = open({
        specialKeys: [
          { name: 'userId', type: 'S' },
          { name: 'age', type: 'N' },
        ],
      });
      await store.set('k', sess(Date.now() + HOUR, { userId: 'u1', age: 42 }));
      const got = await item(store.table, 'sess:k');
      expect(got?.userId).toEqual({ S: 'u1' });
      expect(got?.age).toEqual({ N: '42' });
      await expect(store.set('m', sess(Date.now() + HOUR, { userId: 'u2' }))).rejects.toSatisfy((err) =>
        isSessionStoreError(err, 'SESSION_STORE_INVALID_SESSION'),
      );
      await expect(store.set('w', sess(Date.now() + HOUR, { userId: 3, age: 1 }))).rejects.toSatisfy((err) =>
        isSessionStoreError(err, 'SESSION_STORE_INVALID_SESSION'),
      );
      const lenient = open({ table: store.table, specialKeys: [{ name: 'userId', type: 'S' }], skipThrowMissingSpecialKeys: true });
      await lenient.set('m', sess(Date.now() + HOUR, {}));
      expect((await item(store.table, 'sess:m'))?.userId).toBeUndefined();
    });

    it('clear() deletes sessions and tombstones of its prefix in batches, and nothing of another prefix', async () => {
      const table = tableName('clear');
      const a = open({ table, prefix: 'a:', scanLimit: 7 });
      const b = open({ table, prefix: 'b:' });
      for (let i = 0; i < 60; i++) await a.set(`s${i}`, sess(Date.now() + HOUR));
      await a.destroy('s0');
      await b.set('keep', sess(Date.now() + HOUR));
      expect(await a.length()).toBe(59);
      await a.clear();
      const left = await client.send(new ScanCommand({ TableName: table }));
      expect(left.Items?.map((i) => i.id?.S)).toEqual(['b:keep']);
      expect(await b.ids()).toEqual(['keep']);
    });

    it('prune() deletes expired sessions and tombstones (for tables without TTL), counting sessions', async () => {
      const store = open({ revocationWindowMs: 20 });
      await store.ready();
      // Far enough ahead that both are saved before they expire, even on a loaded machine.
      const soon = Date.now() + 1000;
      await store.set('e1', sess(soon));
      await store.set('e2', sess(soon));
      await store.set('live', sess(Date.now() + HOUR));
      await store.destroy('live2');
      while (Date.now() <= soon + 5) await new Promise((r) => setTimeout(r, 10));
      expect(await store.prune()).toBe(2);
      const left = await client.send(new ScanCommand({ TableName: store.table }));
      expect(left.Items?.map((i) => i.id?.S)).toEqual(['sess:live']);
    });

    it('the owner option creates the table with the owner GSI and indexes the owner; a missing index fails ready()', async () => {
      const table = tableName('own');
      const store = open({ table, owner: 'user' });
      await store.set('o1', sess(Date.now() + HOUR, { user: 'ann' }));
      expect((await item(table, 'sess:o1'))?.owner).toEqual({ S: 'ann' });
      const { Table } = await client.send(new DescribeTableCommand({ TableName: table }));
      expect(Table?.GlobalSecondaryIndexes?.map((i) => i.IndexName)).toEqual(['owner-index']);
      expect((await store.sessionsOf('ann')).map((s) => s.sid)).toEqual(['o1']);
      const strict = new DynamoDBStore({ client, table: tableName('own2'), owner: 'user' });
      opened.push(strict);
      await open({ table: strict.table }).ready();
      await expect(strict.ready()).rejects.toThrow(/global secondary index/);
      // Adding the index to an existing table (UpdateTable) is for real DynamoDB: dynalite cannot create indexes
      // online, and says so with a validation error, which the store reports as it is.
      const late = open({ table: strict.table, owner: 'user' });
      await expect(late.ready()).rejects.toSatisfy((err) => isSessionStoreError(err, 'SESSION_STORE_BACKEND'));
    });

    it('rejects invalid options at construction', () => {
      const bad: Array<[DynamoDBStoreOptions, RegExp]> = [
        [{ client, table: 'ab' }, /table/],
        [{ client, table: 'a b c' }, /table/],
        [{ client, hashKey: '' }, /hashKey/],
        [{ client, hashKey: 'expires' }, /hashKey/],
        [{ client, specialKeys: [{ name: 'sess', type: 'S' }] }, /specialKeys/],
        [{ client, specialKeys: [{ name: 'x', type: 'B' as never }] }, /type/],
        [{ client, readCapacityUnits: 0 }, /readCapacityUnits/],
        [{ client: {} as never }, /client/],
        [{ client, clientOptions: {} }, /either/],
        [{ client, tabel: 'x' } as never, /did you mean "table"/],
        [{ client, specialKeys: [{ name: 'a', type: 'S' }], encryption: { keys: ['k'.repeat(32)] } }, /specialKeys/],
      ];
      for (const [options, message] of bad) {
        let caught: unknown;
        try {
          new DynamoDBStore(options);
        } catch (err) {
          caught = err;
        }
        expect(isSessionStoreError(caught, 'SESSION_STORE_INVALID_OPTION'), String(caught)).toBe(true);
        expect(String((caught as Error).message)).toMatch(message);
      }
    });

    it('reapInterval (ms) is the pruning interval; clientOptions make a client the store destroys on close()', async () => {
      const table = tableName('own');
      const store = new DynamoDBStore({ clientOptions: dynamoClientConfig(server!.url), table, createTable: true, reapInterval: 50 });
      tables.add(table);
      await store.set('a', sess(Date.now() + HOUR));
      expect(await store.get('a')).not.toBeNull();
      let destroyed = false;
      const destroy = store.client.destroy.bind(store.client);
      store.client.destroy = () => {
        destroyed = true;
        destroy();
      };
      await store.close();
      expect(destroyed).toBe(true);
    });
  });
});

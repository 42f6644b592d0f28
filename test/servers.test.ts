// Smoke tests: every backend's server is real and reachable through the driver the stores use.
import { afterAll, describe, expect, it } from 'vitest';
import { Cluster, Redis } from 'ioredis';
import pg from 'pg';
import { MongoClient } from 'mongodb';
import { CreateTableCommand, DeleteTableCommand, DynamoDBClient, GetItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import {
  describeWithServer,
  privateDynamoDB,
  privateMongo,
  privatePostgres,
  privateRedis,
  redisCluster,
  skipIfMissing,
  uniqueName,
  type ControllableServer,
} from './servers/index.js';
import { dynamoClientConfig } from './servers/probe.js';

await describeWithServer('redis', 'redis smoke', (server) => {
  const redis = new Redis(server.url);
  const prefix = `${uniqueName('smoke')}:`;
  afterAll(() => redis.quit());

  it('writes, reads and deletes', async () => {
    await redis.set(`${prefix}k`, 'v', 'EX', 60);
    expect(await redis.get(`${prefix}k`)).toBe('v');
    expect(await redis.del(`${prefix}k`)).toBe(1);
    expect(await redis.get(`${prefix}k`)).toBeNull();
  });
});

await describeWithServer('postgres', 'postgres smoke', (server) => {
  const db = uniqueName('smoke');
  const admin = new pg.Client(server.url);
  let client: pg.Client;
  afterAll(async () => {
    await client?.end();
    await admin.query(`DROP DATABASE IF EXISTS ${db}`);
    await admin.end();
  });

  it('creates a database, writes, reads and deletes', async () => {
    await admin.connect();
    await admin.query(`CREATE DATABASE ${db}`);
    const url = new URL(server.url);
    url.pathname = `/${db}`;
    client = new pg.Client(url.toString());
    await client.connect();
    await client.query('CREATE TABLE t (id text PRIMARY KEY, v jsonb)');
    await client.query('INSERT INTO t VALUES ($1, $2)', ['a', { n: 1 }]);
    expect((await client.query('SELECT v FROM t WHERE id = $1', ['a'])).rows).toEqual([{ v: { n: 1 } }]);
    expect((await client.query('DELETE FROM t WHERE id = $1', ['a'])).rowCount).toBe(1);
  });
});

await describeWithServer('mongo', 'mongo smoke', (server) => {
  const client = new MongoClient(server.url);
  const db = client.db(uniqueName('smoke'));
  afterAll(async () => {
    await db.dropDatabase();
    await client.close();
  });

  it('writes, reads and deletes', async () => {
    const c = db.collection<{ _id: string; v: number }>('sessions');
    await c.insertOne({ _id: 'a', v: 1 });
    expect(await c.findOne({ _id: 'a' })).toEqual({ _id: 'a', v: 1 });
    expect((await c.deleteOne({ _id: 'a' })).deletedCount).toBe(1);
    expect(await c.findOne({ _id: 'a' })).toBeNull();
  });
});

await describeWithServer('dynamodb', 'dynamodb smoke', (server) => {
  const client = new DynamoDBClient(dynamoClientConfig(server.url));
  const table = uniqueName('smoke');
  afterAll(async () => {
    await client.send(new DeleteTableCommand({ TableName: table })).catch(() => {});
    client.destroy();
  });

  it('creates a table, writes, reads and deletes it', async () => {
    await client.send(
      new CreateTableCommand({
        TableName: table,
        AttributeDefinitions: [{ AttributeName: 'id', AttributeType: 'S' }],
        KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
        BillingMode: 'PAY_PER_REQUEST',
      }),
    );
    await client.send(new PutItemCommand({ TableName: table, Item: { id: { S: 'a' }, v: { N: '1' } } }));
    const { Item } = await client.send(new GetItemCommand({ TableName: table, Key: { id: { S: 'a' } }, ConsistentRead: true }));
    expect(Item).toEqual({ id: { S: 'a' }, v: { N: '1' } });
  });
});

const cluster = await skipIfMissing('redis-cluster', redisCluster);
describe.skipIf(!cluster)(`redis cluster smoke [${cluster?.description ?? 'no cluster'}]`, () => {
  it('sets and gets keys across slots', async () => {
    const c = new Cluster(cluster!.nodes);
    try {
      const keys = Array.from({ length: 20 }, (_, i) => `${uniqueName('smoke')}:${i}`);
      await Promise.all(keys.map((k) => c.set(k, k, 'EX', 60)));
      expect(await Promise.all(keys.map((k) => c.get(k)))).toEqual(keys);
      expect(c.nodes('master')).toHaveLength(3);
      // 20 random keys landing on a single master is (1/3)^19: the writes really spread across nodes.
      const perNode = await Promise.all(c.nodes('master').map((n) => n.dbsize()));
      expect(perNode.filter((n) => n > 0).length).toBeGreaterThan(1);
      await Promise.all(keys.map((k) => c.del(k)));
    } finally {
      c.disconnect();
    }
  });
});

describe('private servers survive stop/start', () => {
  const servers: ControllableServer[] = [];
  afterAll(() => Promise.all(servers.map((s) => s.close())));

  it('redis (persist)', async () => {
    const s = await skipIfMissing('redis', () => privateRedis({ persist: true }));
    if (!s) return;
    servers.push(s);
    const r = new Redis(s.url, { lazyConnect: true, maxRetriesPerRequest: 1 });
    r.on('error', () => {});
    await r.connect();
    await r.set('k', 'survives');
    r.disconnect();
    await s.stop();
    await s.start();
    const r2 = new Redis(s.url);
    expect(await r2.get('k')).toBe('survives');
    r2.disconnect();
  });

  it('postgres', async () => {
    const s = await skipIfMissing('postgres', privatePostgres);
    if (!s) return;
    servers.push(s);
    const c = new pg.Client(s.url);
    c.on('error', () => {});
    await c.connect();
    await c.query('CREATE TABLE t (v text); INSERT INTO t VALUES ($$survives$$)');
    await s.stop();
    await expect(c.query('SELECT 1')).rejects.toThrow();
    await s.start();
    const c2 = new pg.Client(s.url);
    await c2.connect();
    expect((await c2.query('SELECT v FROM t')).rows).toEqual([{ v: 'survives' }]);
    await c2.end();
  });

  it('mongo', async () => {
    const s = await skipIfMissing('mongo', privateMongo);
    if (!s) return;
    servers.push(s);
    const c = new MongoClient(s.url, { serverSelectionTimeoutMS: 5000 });
    await c.db('d').collection('c').insertOne({ v: 'survives' });
    await c.close();
    await s.stop();
    await s.start();
    const c2 = new MongoClient(s.url);
    expect(
      await c2
        .db('d')
        .collection('c')
        .findOne({}, { projection: { _id: 0 } }),
    ).toEqual({ v: 'survives' });
    await c2.close();
  });

  it('dynamodb (survives SIGKILL)', async () => {
    const s = await skipIfMissing('dynamodb', privateDynamoDB);
    if (!s) return;
    servers.push(s);
    const c = new DynamoDBClient(dynamoClientConfig(s.url));
    await c.send(
      new CreateTableCommand({
        TableName: 'survive',
        AttributeDefinitions: [{ AttributeName: 'id', AttributeType: 'S' }],
        KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
        BillingMode: 'PAY_PER_REQUEST',
      }),
    );
    await c.send(new PutItemCommand({ TableName: 'survive', Item: { id: { S: 'k' }, v: { S: 'survives' } } }));
    await (s.kill ? s.kill() : s.stop());
    await s.start();
    const { Item } = await c.send(new GetItemCommand({ TableName: 'survive', Key: { id: { S: 'k' } }, ConsistentRead: true }));
    expect(Item?.v).toEqual({ S: 'survives' });
    c.destroy();
  });
});

import {
  CreateTableCommand,
  DeleteItemCommand,
  DeleteTableCommand,
  DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import connectDynamoDB from 'connect-dynamodb';
import session, { type SessionData } from 'express-session';
import { DynamoDBStore } from '../../stores/dynamodb/index.js';
import { dynamoClientConfig } from '../../test/servers/probe.js';
import { type BackendFactory, type Contender, RawStore, expiryOf } from '../lib/contender.js';

const ConnectDynamoDBStore = connectDynamoDB(session) as unknown as new (options: Record<string, unknown>) => session.Store;

/** A table name from a namespace (DynamoDB allows a-z, A-Z, 0-9, _ . - and 3 to 255 characters). */
const tableOf = (ns: string) => `bench_${ns.replace(/[^a-zA-Z0-9_.-]/g, '_')}`.slice(0, 255);

/** A client of its own for each contender, and its table (on-demand, hash key `id`), dropped with it. */
async function setup(url: string, ns: string): Promise<{ client: DynamoDBClient; table: string; drop: () => Promise<void> }> {
  const client = new DynamoDBClient(dynamoClientConfig(url));
  const table = tableOf(ns);
  await client.send(
    new CreateTableCommand({
      TableName: table,
      AttributeDefinitions: [{ AttributeName: 'id', AttributeType: 'S' }],
      KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
      BillingMode: 'PAY_PER_REQUEST',
    }),
  );
  return {
    client,
    table,
    drop: async () => {
      await client.send(new DeleteTableCommand({ TableName: table })).catch(() => {});
      client.destroy();
    },
  };
}

/**
 * The floor: `GetItem` (consistent) and JSON.parse with an expiry check; `PutItem` of connect-dynamodb's item;
 * an unconditional `UpdateItem` of `expires` (which, like connect-dynamodb's, may recreate a deleted item); `DeleteItem`.
 */
function rawDynamo(client: DynamoDBClient, table: string): RawStore {
  const key = (sid: string) => ({ id: { S: `sess:${sid}` } });
  return new RawStore({
    async get(sid) {
      const { Item } = await client.send(new GetItemCommand({ TableName: table, Key: key(sid), ConsistentRead: true }));
      if (!Item?.sess?.S || Number(Item.expires?.N) * 1000 <= Date.now()) return null;
      return JSON.parse(Item.sess.S) as SessionData;
    },
    async set(sid, sess) {
      await client.send(
        new PutItemCommand({
          TableName: table,
          Item: {
            ...key(sid),
            expires: { N: String(Math.ceil(expiryOf(sess) / 1000)) },
            type: { S: 'connect-session' },
            sess: { S: JSON.stringify(sess) },
          },
        }),
      );
    },
    async touch(sid, sess) {
      await client.send(
        new UpdateItemCommand({
          TableName: table,
          Key: key(sid),
          UpdateExpression: 'SET expires = :e',
          ExpressionAttributeValues: { ':e': { N: String(Math.ceil(expiryOf(sess) / 1000)) } },
        }),
      );
    },
    async destroy(sid) {
      await client.send(new DeleteItemCommand({ TableName: table, Key: key(sid) }));
    },
  });
}

/** DynamoDB (a local implementation: dynalite): ours, connect-dynamodb 3, and raw AWS SDK v3 calls. */
export const dynamodb: BackendFactory = async (url) => {
  if (!url) throw new Error('dynamodb needs a server URL');
  const contenders: Contender[] = [
    {
      name: 'ours (DynamoDBStore)',
      role: 'ours',
      async create({ ns, touchAfter, options }) {
        const { client, table, drop } = await setup(url, ns);
        const store = new DynamoDBStore({ client, table, touchAfter, ...options });
        await store.ready();
        return { store, close: async () => (await store.close(), await drop()) };
      },
    },
    {
      name: 'connect-dynamodb 3',
      role: 'incumbent',
      async create({ ns }) {
        const { client, table, drop } = await setup(url, ns);
        const store = new ConnectDynamoDBStore({ client, table, initialized: true });
        return { store, close: drop };
      },
    },
    {
      name: 'raw AWS SDK v3',
      role: 'raw',
      async create({ ns }) {
        const { client, table, drop } = await setup(url, ns);
        return { store: rawDynamo(client, table), close: drop };
      },
    },
  ];
  return { name: 'dynamodb', server: 'DynamoDB API', contenders };
};

/**
 * connect-dynamodb 3, as its README sets it up: a `DynamoDBClient` of the user's, a table (created by the store when
 * missing, its default `initialized: false`) and the default prefix. Each store (each namespace where asked) gets a
 * table of its own, created here before the store is made: connect-dynamodb creates a missing table from every
 * instance at once, and a second instance racing the first rejects with ResourceInUseException inside its
 * `initialize()`, unhandled, which ends the process (the namespace tests open two stores on one table). It has no
 * `ttl` option (one day, or the cookie's maxAge), no `disableTouch`, `touchAfter`,
 * `all`, `length`, `clear` or `close`, and stores expiry in seconds (`expires`), hence no ms precision.
 */
import { createHash } from 'node:crypto';
import { CreateTableCommand, DeleteTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import connectDynamoDB from 'connect-dynamodb';
import session from 'express-session';
import type { Capabilities, FactoryHints } from '../../../conformance/options.js';
import { dynamodbServer, uniqueName } from '../../servers/index.js';
import { dynamoClientConfig } from '../../servers/probe.js';

const DynamoDBStore = connectDynamoDB(session) as unknown as new (options: Record<string, unknown>) => session.Store;
const server = await dynamodbServer();
const client = new DynamoDBClient(dynamoClientConfig(server.url));
const base = uniqueName('connect_dynamodb');
const tables = new Set<string>();
let counter = 0;

export const name = 'connect-dynamodb';
export const backend = server.description;
/**
 * dynalite is one single-threaded JavaScript process, and the AWS SDK spends 1-2 ms of CPU per request: the 4,000
 * requests of the 1,000-parallel concurrency test take 20 s on a loaded 2-core machine.
 */
export const timeoutMs = 90_000;

export const capabilities: Partial<Capabilities> = {
  ttlOption: false,
  disableTouch: false,
  touchAfter: false,
  namespaces: true,
  msPrecision: false,
};

export async function factory(hints: FactoryHints = {}): Promise<session.Store> {
  const table =
    hints.namespace === undefined
      ? `${base}_${++counter}`
      : `${base}_${createHash('sha1').update(hints.namespace).digest('hex').slice(0, 16)}`;
  if (!tables.has(table)) {
    // connect-dynamodb's own table definition (provisioned 5/5, hash key `id`).
    await client.send(
      new CreateTableCommand({
        TableName: table,
        AttributeDefinitions: [{ AttributeName: 'id', AttributeType: 'S' }],
        KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
        ProvisionedThroughput: { ReadCapacityUnits: 5, WriteCapacityUnits: 5 },
      }),
    );
  }
  tables.add(table);
  return new DynamoDBStore({ client, table });
}

export async function cleanup(): Promise<void> {
  for (const table of tables) await client.send(new DeleteTableCommand({ TableName: table })).catch(() => {});
  client.destroy();
}

/**
 * connect-dynamodb 3, as its README sets it up: a `DynamoDBClient` of the user's, a table (created by the store when
 * missing, its default `initialized: false`) and the default prefix. Each store (each namespace where asked) gets a
 * table of its own. It has no `ttl` option (one day, or the cookie's maxAge), no `disableTouch`, `touchAfter`,
 * `all`, `length`, `clear` or `close`, and stores expiry in seconds (`expires`), hence no ms precision.
 */
import { createHash } from 'node:crypto';
import { DeleteTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
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
  tables.add(table);
  return new DynamoDBStore({ client, table });
}

export async function cleanup(): Promise<void> {
  for (const table of tables) await client.send(new DeleteTableCommand({ TableName: table })).catch(() => {});
  client.destroy();
}

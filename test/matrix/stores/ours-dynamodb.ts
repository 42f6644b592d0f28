/** Our DynamoDBStore on the run's DynamoDB-compatible server (dynalite), a table per store (per namespace where asked). */
import { createHash } from 'node:crypto';
import { DeleteTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBStore } from '../../../stores/dynamodb/index.js';
import type { FactoryHints } from '../../../conformance/options.js';
import { hintOptions } from './hints.js';
import { dynamodbRaw } from '../../stores/raw.js';
import { dynamodbServer, uniqueName } from '../../servers/index.js';
import { dynamoClientConfig } from '../../servers/probe.js';

const server = await dynamodbServer();
const client = new DynamoDBClient(dynamoClientConfig(server.url));
const base = uniqueName('session_stores');
const tables = new Set<string>();
let counter = 0;

export const name = 'session-stores DynamoDBStore';
export const backend = server.description;
/** What the backend holds, read through its own client or files: for the atRest group. */
export const raw = dynamodbRaw;
/**
 * dynalite is one single-threaded JavaScript process, and the AWS SDK spends 1-2 ms of CPU per request: the 4,000
 * requests of the 1,000-parallel concurrency test take 20 s on a loaded 2-core machine.
 */
export const timeoutMs = 90_000;

export async function factory(hints: FactoryHints = {}): Promise<DynamoDBStore> {
  const table =
    hints.namespace === undefined
      ? `${base}_${++counter}`
      : `${base}_${createHash('sha1').update(hints.namespace).digest('hex').slice(0, 16)}`;
  tables.add(table);
  const store = new DynamoDBStore({
    client,
    table,
    createTable: true,
    ...hintOptions(hints),
    // dynalite is one single-threaded JavaScript process: 1,000 parallel writes can queue for seconds.
    operationTimeoutMs: 60_000,
  });
  // The table is created lazily; tests with 20 ms expiries must not pay for it.
  await store.ready();
  return store;
}

export async function cleanup(): Promise<void> {
  for (const table of tables) await client.send(new DeleteTableCommand({ TableName: table })).catch(() => {});
  client.destroy();
}

/** Our MongoStore on a shared client (connect-mongo's default layout), a collection per store. */
import { MongoClient } from 'mongodb';
import { MongoStore } from '../../../stores/mongo/index.js';
import type { FactoryHints } from '../../../conformance/options.js';
import { hintOptions } from './hints.js';
import { mongoRaw } from '../../stores/raw.js';
import { mongoServer, uniqueName } from '../../servers/index.js';

const server = await mongoServer();
const client = new MongoClient(server.url, { serverSelectionTimeoutMS: 5_000 });
const dbName = uniqueName('session_stores');

export const name = 'session-stores MongoStore';
export const backend = server.description;
/**
 * FerretDB (on SQLite) serializes writes: the 3,000 requests of the 1,000-parallel concurrency test take more than
 * 20 s when other stores' matrix runs share the machine. The same bound for every MongoDB row.
 */
export const timeoutMs = 60_000;
/** What the backend holds, read through its own client or files: for the atRest group. */
export const raw = mongoRaw;

export async function factory(hints: FactoryHints = {}): Promise<MongoStore> {
  const store = new MongoStore({
    client,
    dbName,
    collectionName: hints.namespace ?? uniqueName('c'),
    ...hintOptions(hints),
    // FerretDB (MongoDB over SQLite) serializes writes: 1000 parallel upserts queue for longer than the 5 s a
    // production deployment should tolerate, and the suite tests correctness here, not latency.
    operationTimeoutMs: server.description.includes('FerretDB') ? 60_000 : undefined,
  });
  // The collection then exists already: the few-ms expiry tests do not time its creation.
  await store.ready();
  return store;
}

export async function cleanup(): Promise<void> {
  await client
    .db(dbName)
    .dropDatabase()
    .catch(() => {});
  await client.close();
}

/** Our MongoStore on a shared client (connect-mongo's default layout), a collection per store. */
import { MongoClient } from 'mongodb';
import { MongoStore } from '../../../stores/mongo/index.js';
import type { Capabilities, FactoryHints } from '../../conformance/options.js';
import { mongoServer, uniqueName } from '../../servers/index.js';

const server = await mongoServer();
const client = new MongoClient(server.url, { serverSelectionTimeoutMS: 5_000 });
const dbName = uniqueName('session_stores');

export const name = 'session-stores MongoStore';
export const backend = server.description;
export const capabilities: Partial<Capabilities> = { namespaces: true };

export async function factory(hints: FactoryHints = {}): Promise<MongoStore> {
  const store = new MongoStore({
    client,
    dbName,
    collectionName: hints.namespace ?? uniqueName('c'),
    ttl: hints.ttl,
    touchAfter: hints.touchAfter,
    disableTouch: hints.disableTouch,
  });
  // The collection then exists already: the few-ms expiry tests do not time its creation.
  await store.ready;
  return store;
}

export async function cleanup(): Promise<void> {
  await client
    .db(dbName)
    .dropDatabase()
    .catch(() => {});
  await client.close();
}

/**
 * connect-mongo 6, as its README sets it up: `MongoStore.create({ mongoUrl, dbName, collectionName, ttl })`.
 * Each store opens its own client from the URL (close() closes it). The server here may be FerretDB, which
 * has no TTL indexes, so expired documents are removed with `autoRemove: 'interval'` (reads filter expired
 * documents either way). Its `ttl` is a number of seconds only, so the suite's ttl tests (which also use a
 * ttl function) are not claimed; `touchAfter` is its documented lazy touch.
 */
import MongoStore from 'connect-mongo';
import { MongoClient } from 'mongodb';
import type { Capabilities, FactoryHints } from '../../../conformance/options.js';
import { mongoServer, uniqueName } from '../../servers/index.js';

const server = await mongoServer();
const dbName = uniqueName('connect_mongo');

export const name = 'connect-mongo';
export const backend = server.description;
/**
 * FerretDB (on SQLite) serializes writes: the 3,000 requests of the 1,000-parallel concurrency test take more than
 * 20 s when other stores' matrix runs share the machine. The same bound for every MongoDB row.
 */
export const timeoutMs = 60_000;

export const capabilities: Partial<Capabilities> = {
  ttlOption: false,
  touchAfter: true,
  disableTouch: false,
  namespaces: true,
};

export default function factory(hints: FactoryHints = {}): MongoStore {
  return MongoStore.create({
    mongoUrl: server.url,
    dbName,
    collectionName: hints.namespace ?? uniqueName('sessions'),
    ttl: typeof hints.ttl === 'number' ? hints.ttl : undefined,
    touchAfter: hints.touchAfter,
    autoRemove: 'interval',
  });
}

/** Drops the run's database. */
export async function cleanup(): Promise<void> {
  const client = await MongoClient.connect(server.url);
  try {
    await client.db(dbName).dropDatabase();
  } finally {
    await client.close();
  }
}

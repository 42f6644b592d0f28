import type { SessionData } from 'express-session';
import ConnectMongo from 'connect-mongo';
import { MongoClient } from 'mongodb';
import { MongoStore } from '../../stores/mongo/index.js';
import { type BackendFactory, type Contender, RawStore, expiryOf } from '../lib/contender.js';

interface Doc {
  _id: string;
  session: string;
  expires: Date;
}

/** A MongoClient of its own per contender (driver defaults); `drop()` deletes its database and closes it. */
async function connect(url: string, ns: string): Promise<{ client: MongoClient; drop(): Promise<void> }> {
  const client = await new MongoClient(url).connect();
  return {
    client,
    drop: async () => {
      await client.db(ns).dropDatabase();
      await client.close();
    },
  };
}

/** Whether the server has TTL indexes (FerretDB 1.x does not); decides connect-mongo's `autoRemove`. */
async function supportsTtlIndexes(url: string): Promise<boolean> {
  const ns = `bench_ttl_probe_${process.pid}`;
  const db = await connect(url, ns);
  try {
    await db.client.db(ns).collection('probe').createIndex({ expires: 1 }, { expireAfterSeconds: 0 });
    return true;
  } catch {
    return false;
  } finally {
    await db.drop();
  }
}

/**
 * The floor: connect-mongo's document layout with its TTL index; findOne by _id / updateOne upsert / conditional
 * updateOne / deleteOne, JSON text in `session`.
 */
async function rawMongo(client: MongoClient, ns: string, ttl: boolean): Promise<RawStore> {
  const sessions = client.db(ns).collection<Doc>('sessions');
  await sessions.createIndex({ expires: 1 }, ttl ? { expireAfterSeconds: 0 } : {});
  return new RawStore({
    async get(sid) {
      // By _id only, the expiry checked here: an extra filter on `expires` costs servers that cannot push it down.
      const doc = await sessions.findOne({ _id: sid }, { projection: { session: 1, expires: 1 } });
      return doc && doc.expires.getTime() > Date.now() ? (JSON.parse(doc.session) as SessionData) : null;
    },
    async set(sid, sess) {
      await sessions.updateOne(
        { _id: sid },
        { $set: { session: JSON.stringify(sess), expires: new Date(expiryOf(sess)) } },
        { upsert: true },
      );
    },
    async touch(sid, sess) {
      await sessions.updateOne({ _id: sid, expires: { $gt: new Date() } }, { $set: { expires: new Date(expiryOf(sess)) } });
    },
    async destroy(sid) {
      await sessions.deleteOne({ _id: sid });
    },
  });
}

/** MongoDB (or FerretDB): ours, connect-mongo 6, and the mongodb driver. */
export const mongo: BackendFactory = async (url) => {
  if (!url) throw new Error('mongo needs a server URL');
  const ttl = await supportsTtlIndexes(url);
  const contenders: Contender[] = [
    {
      name: 'ours (MongoStore)',
      role: 'ours',
      async create({ ns, touchAfter, options }) {
        const db = await connect(url, ns);
        // FerretDB serializes writes on one SQLite file: under 64 concurrent writers one can wait past the default 5 s bound.
        const store = new MongoStore({ client: db.client, dbName: ns, touchAfter, operationTimeoutMs: 60_000, ...options });
        return { store, close: async () => (await store.close(), await db.drop()) };
      },
    },
    {
      name: 'connect-mongo 6',
      role: 'incumbent',
      async create({ ns }) {
        const db = await connect(url, ns);
        // On a server without TTL indexes (FerretDB 1.x) connect-mongo's default fails: users must pick 'interval'.
        const store = ConnectMongo.create({ client: db.client, dbName: ns, autoRemove: ttl ? 'native' : 'interval' });
        // Its close() closes the client, which drop() still needs.
        return { store, close: () => db.drop() };
      },
    },
    {
      name: 'raw mongodb',
      role: 'raw',
      async create({ ns }) {
        const db = await connect(url, ns);
        return { store: await rawMongo(db.client, ns, ttl), close: () => db.drop() };
      },
    },
  ];
  return {
    name: 'mongo',
    server: ttl ? 'MongoDB API' : 'MongoDB API without TTL indexes',
    contenders,
    // FerretDB 1.x (the server without TTL indexes) stores tens to hundreds of sessions per second on SQLite.
    slow: ttl
      ? undefined
      : { sessions: 2_000, rounds: 2, why: 'FerretDB 1.x on SQLite writes only tens to hundreds of sessions per second' },
  };
};

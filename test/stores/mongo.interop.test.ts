/**
 * MongoStore ⇄ connect-mongo 6, both ways: what one writes the other reads, touches and lists, for both
 * `stringify` settings, and a live app switched from one store to the other keeps its users logged in.
 * connect-mongo runs with `autoRemove: 'disabled'` / `'interval'` because FerretDB rejects its TTL index.
 */
import type { SessionData, Store } from 'express-session';
import ConnectMongo from 'connect-mongo';
import { MongoClient } from 'mongodb';
import { afterAll, describe, expect, it } from 'vitest';
import { MongoStore } from '../../stores/mongo/index.js';
import { startApp } from '../../conformance/http-app.js';
import { describeWithServer, uniqueName } from '../servers/index.js';
import { HOUR, sess } from './helpers.js';

/** Calls a callback-style store method the way express-session does. */
function call<T = unknown>(store: Store, method: 'get' | 'set' | 'touch' | 'destroy' | 'all' | 'length', ...args: unknown[]): Promise<T> {
  return new Promise((resolve, reject) => {
    (store as unknown as Record<string, (...a: unknown[]) => void>)[method]!.call(store, ...args, (err: unknown, value: T) =>
      err ? reject(err) : resolve(value),
    );
  });
}

const toJson = (value: unknown): unknown => JSON.parse(JSON.stringify(value));

await describeWithServer('mongo', 'MongoStore ⇄ connect-mongo 6', (server) => {
  const dbName = uniqueName('mongo_interop');
  const client = new MongoClient(server.url);
  const ours: MongoStore[] = [];
  afterAll(async () => {
    for (const store of ours) await store.close();
    await client
      .db(dbName)
      .dropDatabase()
      .catch(() => {});
    await client.close();
  });

  /** A pair on one collection. connect-mongo's close() would close the shared client: it is never called. */
  function pair(options: { stringify?: boolean; touchAfter?: number } = {}): { theirs: Store; mine: MongoStore; name: string } {
    const name = uniqueName('c');
    const theirs = ConnectMongo.create({ client, dbName, collectionName: name, autoRemove: 'disabled', ...options }) as unknown as Store;
    const mine = new MongoStore({ client, dbName, collectionName: name, autoRemove: 'disabled', ...options });
    ours.push(mine);
    return { theirs, mine, name };
  }

  for (const stringify of [true, false]) {
    describe(`stringify: ${stringify}`, () => {
      it('connect-mongo writes, MongoStore reads (data and exact expiry)', async () => {
        const { theirs, mine } = pair({ stringify });
        const expires = Date.now() + HOUR;
        const written = sess(expires, { user: 'alice', roles: ['admin'], nested: { n: 1 } });
        await call(theirs, 'set', 'cm-1', written);
        const got = await mine.get('cm-1');
        expect(toJson(got)).toEqual(toJson(written));
        expect(new Date(got!.cookie.expires as unknown as string).getTime()).toBe(expires);
      });

      it('MongoStore writes, connect-mongo reads', async () => {
        const { theirs, mine } = pair({ stringify });
        const written = sess(Date.now() + HOUR, { user: 'bob', n: 2 });
        await mine.set('ours-1', written);
        expect(toJson(await call(theirs, 'get', 'ours-1'))).toEqual(toJson(written));
        expect(await call(theirs, 'length')).toBe(1);
        const all = await call<unknown[]>(theirs, 'all');
        expect(toJson(all)).toEqual([toJson(written)]);
      });

      it('each touches what the other wrote', async () => {
        const { theirs, mine } = pair({ stringify });
        const first = Date.now() + HOUR;
        await call(theirs, 'set', 'a', sess(first, { who: 'theirs' }));
        await mine.set('b', sess(first, { who: 'ours' }));
        const later = first + HOUR;
        await mine.touch('a', sess(later, { who: 'theirs' }));
        await call(theirs, 'touch', 'b', sess(later, { who: 'ours' }));
        const a = await mine.get('a');
        const b = await mine.get('b');
        expect(new Date(a!.cookie.expires as unknown as string).getTime()).toBe(later);
        expect(new Date(b!.cookie.expires as unknown as string).getTime()).toBe(later);
        expect(a).toMatchObject({ who: 'theirs' });
        expect(b).toMatchObject({ who: 'ours' });
      });

      it('destroy and clear work across', async () => {
        const { theirs, mine } = pair({ stringify });
        await call(theirs, 'set', 'x', sess(Date.now() + HOUR));
        await mine.set('y', sess(Date.now() + HOUR));
        await mine.destroy('x');
        await call(theirs, 'destroy', 'y');
        expect(await mine.length()).toBe(0);
        expect(await call(theirs, 'get', 'x')).toBeNull();
      });

      it('a tombstone MongoStore leaves on destroy is no session to connect-mongo, and does not crash it', async () => {
        const { theirs, mine, name } = pair({ stringify });
        const lazy = ConnectMongo.create({ client, dbName, collectionName: name, autoRemove: 'disabled', stringify, touchAfter: 60 });
        await mine.set('gone', sess(Date.now() + HOUR, { user: 'alice' }));
        await mine.set('kept', sess(Date.now() + HOUR, { user: 'bob' }));
        await mine.destroy('gone');
        const doc = await client
          .db(dbName)
          .collection(name)
          .findOne({ _id: 'gone' as never });
        expect(doc).toMatchObject({ session: null, expires: expect.any(Date) });
        expect(await call(theirs, 'get', 'gone')).toBeNull();
        expect(await call(lazy as unknown as Store, 'get', 'gone')).toBeNull();
        // connect-mongo's all() lists what its filter finds: the tombstone shows as null, never as a session.
        const all = await call<unknown[]>(theirs, 'all');
        expect(toJson(all.filter((s) => s !== null))).toEqual([toJson(await mine.get('kept'))]);
        // Its touch() only moves the tombstone's expiry: the session stays gone for both stores.
        await call(theirs, 'touch', 'gone', sess(Date.now() + 2 * HOUR, { user: 'alice' }));
        expect(await call(theirs, 'get', 'gone')).toBeNull();
        expect(await mine.get('gone')).toBeNull();
        // And a late write through MongoStore is refused.
        await mine.set('gone', sess(Date.now() + HOUR, { user: 'alice' }));
        expect(await call(theirs, 'get', 'gone')).toBeNull();
      });

      it('with the owner option, connect-mongo reads the sessions (an extra owner field) unchanged', async () => {
        const name = uniqueName('c');
        const theirs = ConnectMongo.create({ client, dbName, collectionName: name, autoRemove: 'disabled', stringify }) as unknown as Store;
        const mine = new MongoStore({ client, dbName, collectionName: name, autoRemove: 'disabled', stringify, owner: 'user' });
        ours.push(mine);
        const written = sess(Date.now() + HOUR, { user: 'carol', n: 1 });
        await mine.set('o', written);
        expect(toJson(await call(theirs, 'get', 'o'))).toEqual(toJson(written));
        expect((await mine.sessionsOf('carol')).map((s) => s.sid)).toEqual(['o']);
        // connect-mongo rewrites the session and leaves the owner field alone: still indexed, still readable.
        await call(theirs, 'set', 'o', sess(Date.now() + HOUR, { user: 'carol', n: 2 }));
        expect((await mine.sessionsOf('carol')).map((s) => s.session)).toMatchObject([{ n: 2 }]);
        expect(await mine.destroyOwner('carol')).toBe(1);
        expect(await call(theirs, 'get', 'o')).toBeNull();
      });
    });
  }

  describe("connect-mongo's crypto: { secret } (kruptein format)", () => {
    const secret = 'squirrel';
    function cryptoPair(stringify = true): { theirs: Store; mine: MongoStore; name: string } {
      const name = uniqueName('c');
      const theirs = ConnectMongo.create({ client, dbName, collectionName: name, autoRemove: 'disabled', stringify, crypto: { secret } });
      const mine = new MongoStore({ client, dbName, collectionName: name, autoRemove: 'disabled', stringify, crypto: { secret } });
      ours.push(mine);
      return { theirs: theirs as unknown as Store, mine, name };
    }
    const raw = async (name: string, id: string): Promise<unknown> =>
      (
        await client
          .db(dbName)
          .collection(name)
          .findOne({ _id: id as never })
      )?.session;

    for (const stringify of [true, false]) {
      it(`both ways (stringify: ${stringify}): each reads, touches and destroys what the other encrypted`, async () => {
        const { theirs, mine, name } = cryptoPair(stringify);
        const expires = Date.now() + HOUR;
        const a = sess(expires, { user: 'alice', card: '4111-1111' });
        const b = sess(expires, { user: 'bob', card: '5500-0000' });
        await call(theirs, 'set', 'a', a);
        await mine.set('b', b);
        for (const id of ['a', 'b']) {
          const stored = await raw(name, id);
          expect(typeof stored).toBe('string');
          expect(stored).not.toMatch(/alice|bob|4111|5500/);
        }
        expect(toJson(await mine.get('a'))).toEqual(toJson(a));
        expect(toJson(await call(theirs, 'get', 'b'))).toEqual(toJson(b));
        const later = expires + HOUR;
        await mine.touch('a', sess(later, { user: 'alice', card: '4111-1111' }));
        expect(new Date((await mine.get('a'))!.cookie.expires as unknown as string).getTime()).toBe(later);
        await call(theirs, 'destroy', 'b');
        expect(await mine.get('b')).toBeNull();
      });
    }

    it('a record tampered with, encrypted with another secret, or not encrypted reads as no session with an error event', async () => {
      const { theirs, mine, name } = cryptoPair();
      const errors: unknown[] = [];
      mine.on('error', (err: unknown) => errors.push(err));
      await call(theirs, 'set', 't', sess(Date.now() + HOUR, { n: 1 }));
      const sealed = (await raw(name, 't')) as string;
      const flipped = sealed.slice(0, 100) + (sealed[100] === 'A' ? 'B' : 'A') + sealed.slice(101);
      await client
        .db(dbName)
        .collection(name)
        .updateOne({ _id: 't' as never }, { $set: { session: flipped } });
      expect(await mine.get('t')).toBeNull();
      const other = ConnectMongo.create({ client, dbName, collectionName: name, autoRemove: 'disabled', crypto: { secret: 'another' } });
      await call(other as unknown as Store, 'set', 'o', sess(Date.now() + HOUR, { n: 2 }));
      expect(await mine.get('o')).toBeNull();
      const plain = new MongoStore({ client, dbName, collectionName: name, autoRemove: 'disabled' });
      ours.push(plain);
      await plain.set('p', sess(Date.now() + HOUR, { n: 3 }));
      expect(await mine.get('p')).toBeNull();
      expect(errors).toHaveLength(3);
    });

    it('refuses crypto settings it cannot honour, and crypto with encryption', () => {
      const bad = [
        { secret: 42 },
        { secret: '' },
        { secret, algorithm: 'aes-128-gcm' },
        { secret, hashing: 'sha384' },
        { secret, other: 1 },
      ];
      for (const crypto of bad) {
        expect(() => new MongoStore({ client, crypto: crypto as never }), JSON.stringify(crypto)).toThrow(
          expect.objectContaining({ code: 'SESSION_STORE_INVALID_OPTION' }),
        );
      }
      expect(() => new MongoStore({ client, crypto: { secret }, encryption: { keys: [Buffer.alloc(32)] } })).toThrow(
        expect.objectContaining({ code: 'SESSION_STORE_INVALID_OPTION' }),
      );
      const off = new MongoStore({ client, crypto: { secret: false } });
      ours.push(off);
      expect(off).toBeInstanceOf(MongoStore);
    });
  });

  it('a browser-session cookie gets each store’s 14-day default ttl', async () => {
    const { theirs, mine, name } = pair();
    const before = Date.now();
    await call(theirs, 'set', 'cm', sess(null));
    await mine.set('ours', sess(null));
    const docs = await client.db(dbName).collection(name).find({}).toArray();
    for (const doc of docs) {
      const ms = (doc.expires as Date).getTime() - before;
      expect(ms).toBeGreaterThanOrEqual(14 * 24 * HOUR - 1000);
      expect(ms).toBeLessThanOrEqual(14 * 24 * HOUR + 1000);
    }
    expect(await mine.get('cm')).toMatchObject({ cookie: { expires: null } });
  });

  it('touchAfter: connect-mongo reads the lastModified MongoStore writes, and skips its touch', async () => {
    const { theirs, mine, name } = pair({ touchAfter: 3600 });
    const first = Date.now() + HOUR;
    await mine.set('lazy', sess(first, { n: 1 }));
    const loaded = await call<SessionData & { lastModified?: Date }>(theirs, 'get', 'lazy');
    expect(loaded.lastModified).toBeInstanceOf(Date);
    await call(theirs, 'touch', 'lazy', { ...loaded, cookie: { ...loaded.cookie, expires: new Date(first + HOUR) } });
    const doc = await client
      .db(dbName)
      .collection(name)
      .findOne({ _id: 'lazy' as never });
    expect((doc!.expires as Date).getTime()).toBe(first); // connect-mongo skipped the write within touchAfter
  });

  it("connect-mongo's autoRemove 'interval' store and MongoStore share a collection", async () => {
    const name = uniqueName('c');
    const own = new MongoClient(server.url);
    const theirs = ConnectMongo.create({ client: own, dbName, collectionName: name, autoRemove: 'interval' }) as unknown as Store & {
      close(): Promise<void>;
    };
    const mine = new MongoStore({ client, dbName, collectionName: name, autoRemove: 'interval' });
    ours.push(mine);
    await call(theirs, 'set', 'i', sess(Date.now() + HOUR, { v: 1 }));
    expect(await mine.get('i')).toMatchObject({ v: 1 });
    await theirs.close(); // clears its timer and closes `own`
  });

  it('a live app switched from connect-mongo to MongoStore and back keeps its users logged in', async () => {
    const { theirs, mine } = pair();
    const cm = await startApp(theirs);
    let cookie: string;
    try {
      // Read each body: express-session sends the headers before the store's save completes, the body after.
      const login = await fetch(`${cm.url}/login`);
      await login.text();
      cookie = login.headers.get('set-cookie')!.split(';')[0]!;
      expect(await (await fetch(`${cm.url}/count`, { headers: { cookie } })).text()).toBe('1');
    } finally {
      await cm.close();
    }
    const app = await startApp(mine);
    try {
      expect(await (await fetch(`${app.url}/me`, { headers: { cookie } })).json()).toEqual({ user: 'alice' });
      expect(await (await fetch(`${app.url}/count`, { headers: { cookie } })).text()).toBe('2');
    } finally {
      await app.close();
    }
    const back = await startApp(theirs);
    try {
      expect(await (await fetch(`${back.url}/count`, { headers: { cookie } })).text()).toBe('3');
    } finally {
      await back.close();
    }
  });
});

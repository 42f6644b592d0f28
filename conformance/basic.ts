import assert from 'node:assert/strict';
import session from 'express-session';
import type { ConformanceOptions } from './options.js';
import { group } from './registry.js';
import { expiresOf, json, sess, sid } from './util.js';

// The typings hide these constructors (Session's is private); they are public at run time.
const { Session, Cookie } = session as unknown as {
  Session: new (req: object, data?: object) => Record<string, unknown>;
  Cookie: new (options?: object) => Record<string, unknown>;
};

/** get / set / destroy: the three methods express-session cannot work without. */
export function basic(opts: ConformanceOptions): void {
  group(opts, 'basic', (test) => {
    test('get() of a missing sid gives null or undefined', [], async ({ client }) => {
      const got = await client.get(sid());
      assert.ok(got === null || got === undefined, 'get() of a missing sid returned a session');
    });

    test('set() then get() returns the same data and cookie', [], async ({ client }) => {
      const id = sid();
      const written = sess({ user: 'alice', n: 1, roles: ['a', 'b'] });
      await client.set(id, written);
      const got = await client.get(id);
      assert.deepEqual(json(got), json(written), 'get() did not return what set() stored');
      assert.equal(expiresOf(got), expiresOf(written), 'get() changed cookie.expires');
    });

    test('set() overwrites an existing session', [], async ({ client }) => {
      const id = sid();
      await client.set(id, sess({ v: 1, onlyInFirst: true }));
      const second = sess({ v: 2 });
      await client.set(id, second);
      assert.deepEqual(json(await client.get(id)), json(second), 'set() merged with or kept the old session');
    });

    test('destroy() removes the session', [], async ({ client }) => {
      const id = sid();
      const other = sid();
      await client.set(id, sess({ v: 1 }));
      const kept = sess({ v: 2 });
      await client.set(other, kept);
      await client.destroy(id);
      const got = await client.get(id);
      assert.ok(got === null || got === undefined, 'get() after destroy() returned the session');
      assert.deepEqual(json(await client.get(other)), json(kept), 'destroy() removed or changed another session');
    });

    test('destroy() of a missing sid is not an error', [], async ({ client }) => {
      await client.destroy(sid());
    });

    test('set() keeps no reference to the session object', [], async ({ client }) => {
      const id = sid();
      const written = sess({ user: 'alice', nested: { list: [1] } });
      const expected = json(written);
      await client.set(id, written);
      (written as Record<string, unknown>).user = 'mallory';
      (written as unknown as { nested: { list: number[] } }).nested.list.push(2);
      assert.deepEqual(json(await client.get(id)), expected, 'mutating the object after set() changed the stored session');
    });

    test('get() returns a copy, not the stored object', [], async ({ client }) => {
      const id = sid();
      const written = sess({ user: 'alice' });
      await client.set(id, written);
      const first = (await client.get(id)) as Record<string, unknown>;
      first.user = 'mallory';
      assert.equal(((await client.get(id)) as Record<string, unknown>).user, 'alice', 'mutating a get() result changed the stored session');
    });

    test('a real express-session Session serializes like JSON.stringify', [], async ({ client }) => {
      const id = sid();
      const req = { sessionID: id };
      const live = new Session(req, { user: 'alice' });
      const cookie = new Cookie({ maxAge: 60_000, httpOnly: true, path: '/' });
      live.cookie = cookie;
      await client.set(id, live);
      const got = (await client.get(id)) as Record<string, unknown> & { cookie: Record<string, unknown> };
      assert.deepEqual(json(got), json(live), 'stored Session differs from JSON.stringify(session)');
      assert.ok(!('req' in got) && !('id' in got), 'set() stored the non-enumerable req/id of a Session');
      assert.ok(!('_expires' in got.cookie), 'set() stored Cookie internals (_expires) instead of Cookie#toJSON()');
      assert.equal(expiresOf(got), (cookie.expires as Date).getTime(), 'cookie.expires of a real Cookie did not round-trip');
    });
  });
}

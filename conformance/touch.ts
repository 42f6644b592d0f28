import assert from 'node:assert/strict';
import type { ConformanceOptions } from './options.js';
import { group } from './registry.js';
import { expiresOf, FUTURE_MS, json, sess, shortExpiry, sid, sleepUntilPast } from './util.js';

const absent = (value: unknown): boolean => value === null || value === undefined;

/** touch(): the hot write path under `resave: false`; it may extend a session and nothing else. */
export function touch(opts: ConformanceOptions): void {
  group(opts, 'touch', (test) => {
    test('touch() extends cookie.expires', ['touch'], async ({ client }) => {
      const id = sid();
      const first = Date.now() + FUTURE_MS;
      await client.set(id, sess({ v: 1 }, first));
      const later = first + FUTURE_MS;
      await client.touch(id, sess({ v: 1 }, later));
      assert.equal(expiresOf(await client.get(id)), later, 'get() after touch() did not show the touched cookie.expires');
    });

    test('touch() keeps a session alive past its old expiry', ['touch'], async ({ client, caps }) => {
      // The touch must land before the old expiry, however slow the backend: when set + touch took longer than
      // the margin, the attempt proves nothing, so try again with a wider one instead of failing or passing.
      let margin = caps.msPrecision ? 20 : 1000;
      for (let attempt = 0; ; attempt++) {
        const id = sid();
        const expires = Date.now() + margin;
        await client.set(id, sess({ v: 1 }, expires));
        await client.touch(id, sess({ v: 1 }, Date.now() + FUTURE_MS));
        if (Date.now() >= expires && attempt < 6) {
          margin *= 4;
          continue;
        }
        await sleepUntilPast(expires + 10);
        assert.ok(!absent(await client.get(id)), 'session expired at its pre-touch expiry (touch did not reach the backend)');
        return;
      }
    });

    test('touch() of a missing sid does not create it', ['touch'], async ({ client }) => {
      const id = sid();
      await client.touch(id, sess({ v: 1 }));
      assert.ok(absent(await client.get(id)), 'touch() created a session that did not exist');
    });

    test('touch() after destroy() does not resurrect', ['touch'], async ({ client }) => {
      const id = sid();
      await client.set(id, sess({ v: 1 }));
      await client.destroy(id);
      await client.touch(id, sess({ v: 1 }));
      assert.ok(absent(await client.get(id)), 'touch() resurrected a destroyed session');
    });

    test('touch() of an expired session does not resurrect', ['touch'], async ({ client, caps }) => {
      const id = sid();
      const { expires, passed } = shortExpiry(caps.msPrecision);
      await client.set(id, sess({ v: 1 }, expires));
      await sleepUntilPast(passed);
      await client.touch(id, sess({ v: 1 }));
      assert.ok(absent(await client.get(id)), 'touch() resurrected an expired session');
    });

    test('touch() never changes session data', ['touch'], async ({ client }) => {
      const id = sid();
      const stored = sess({ v: 1, keep: 'me' });
      await client.set(id, stored);
      // As express-session's req.session.touch() does: same cookie, expires moved forward by the elapsed time.
      const touching = { ...sess({ v: 2, added: true }), cookie: { ...stored.cookie, expires: new Date(Date.now() + 2 * FUTURE_MS) } };
      await client.touch(id, touching as unknown as typeof stored);
      const got = (await client.get(id)) as Record<string, unknown>;
      const { cookie: _c, ...data } = got;
      assert.deepEqual(json(data), { v: 1, keep: 'me' }, 'touch() wrote the data of the session it was given');
      assert.deepEqual(json(got.cookie), json(touching.cookie), 'touch() did not store the cookie it was given');
    });

    test(
      'lazy touch skips touches within touchAfter of the stored expiry',
      ['touch', 'touchAfter'],
      async ({ client }) => {
        const id = sid();
        const stored = Date.now() + FUTURE_MS;
        await client.set(id, sess({ v: 1 }, stored));
        await client.touch(id, sess({ v: 1 }, stored + 10_000));
        assert.equal(expiresOf(await client.get(id)), stored, 'a touch within touchAfter reached the backend');
        await client.touch(id, sess({ v: 1 }, stored + 120_000));
        assert.equal(expiresOf(await client.get(id)), stored + 120_000, 'a touch beyond touchAfter was skipped');
      },
      { touchAfter: 60 },
    );

    test(
      'disableTouch makes touch() a successful no-op',
      // Not 'touch': a store built with disableTouch rightly reports supports.touch = false.
      ['disableTouch'],
      async ({ client }) => {
        const id = sid();
        const stored = Date.now() + FUTURE_MS;
        await client.set(id, sess({ v: 1 }, stored));
        await client.touch(id, sess({ v: 1 }, stored + FUTURE_MS));
        assert.equal(expiresOf(await client.get(id)), stored, 'touch() changed the expiry although disableTouch is set');
      },
      { disableTouch: true },
    );
  });
}

import assert from 'node:assert/strict';
import type { ConformanceOptions } from './options.js';
import { Browser, startApp } from './http-app.js';
import { group } from './registry.js';
import { absent, marksOf, sess, sid, sleep } from './util.js';

/**
 * Trials of the HTTP logout race per mode. Each is a few hundred ms; a measured run can raise it
 * (`SESSION_STORES_REVOCATION_TRIALS`), CI keeps it small.
 */
const TRIALS = Number(process.env.SESSION_STORES_REVOCATION_TRIALS ?? 10);

/**
 * Logout is final: after `destroy()`, a late `set()` or `touch()` of the same sid — what express-session does at
 * the end of every slow request that loaded the session before the logout — must not bring it back. No store we
 * replace passes this group; stores that keep tombstones say `supports.revocation`.
 */
export function revocation(opts: ConformanceOptions): void {
  group(opts, 'revocation', (test) => {
    test('a set() after destroy() does not bring the session back', ['revocation'], async ({ client }) => {
      const id = sid();
      await client.set(id, sess({ user: 'alice' }));
      await client.destroy(id);
      await client.set(id, sess({ user: 'alice', n: 2 }));
      assert.ok(absent(await client.get(id)), 'a late set() after destroy() resurrected the session');
    });

    test('a touch() after destroy() does not bring the session back', ['revocation', 'touch'], async ({ client }) => {
      const id = sid();
      await client.set(id, sess({ user: 'alice' }));
      await client.destroy(id);
      await client.touch(id, sess({ user: 'alice' }));
      await client.set(id, sess({ user: 'alice' }));
      assert.ok(absent(await client.get(id)), 'a late touch() and set() after destroy() resurrected the session');
    });

    test(
      'a destroyed sid is invisible to all(), ids() and length(); other sids are unaffected',
      ['revocation'],
      async ({ client, caps }) => {
        const gone = sid();
        const kept = sid();
        await client.set(gone, sess({ mark: 'gone' }));
        await client.set(kept, sess({ mark: 'kept' }));
        await client.destroy(gone);
        await client.set(gone, sess({ mark: 'late' }));
        if (caps.all) assert.deepEqual(marksOf(await client.all()), ['kept'], 'all() listed a destroyed sid');
        if (caps.ids) assert.deepEqual(await client.ids(), [kept], 'ids() listed a destroyed sid');
        if (caps.length) assert.equal(await client.length(), 1, 'length() counted a destroyed sid');
        await client.set(kept, sess({ mark: 'kept again' }));
        assert.equal(((await client.get(kept)) as { mark?: string } | null)?.mark, 'kept again', 'a live session could no longer be saved');
      },
    );

    test('clear() removes tombstones too: a cleared store takes the sid again', ['revocation', 'clear'], async ({ client }) => {
      const id = sid();
      await client.set(id, sess({ v: 1 }));
      await client.destroy(id);
      await client.clear();
      await client.set(id, sess({ v: 2 }));
      assert.equal(((await client.get(id)) as { v?: number } | null)?.v, 2, 'clear() left a tombstone behind');
    });

    for (const [mode, path, resave] of [
      ['slow requests that modify the session', '/slow', false],
      ['slow read-only requests with resave: true', '/slow-read', true],
    ] as const) {
      test(`over HTTP: ${mode} racing a logout never log the user back in (${TRIALS} trials)`, ['revocation'], async ({ store }) => {
        const app = await startApp(store, { resave });
        try {
          let resurrected = 0;
          for (let trial = 0; trial < TRIALS; trial++) {
            const browser = new Browser(app.url);
            await browser.get('/login');
            const slow = Promise.all([1, 2, 3].map(() => browser.get(`${path}?ms=60`)));
            await sleep(15);
            await browser.get('/logout');
            await slow;
            if ((JSON.parse((await browser.get('/me')).body) as { user: unknown }).user !== null) resurrected++;
          }
          assert.equal(resurrected, 0, `the old cookie was logged in again after logout in ${resurrected} of ${TRIALS} trials`);
        } finally {
          await app.close();
        }
      });
    }

    test('regenerate() works: the old sid stays destroyed, the new one is saved', ['revocation'], async ({ store }) => {
      const app = await startApp(store);
      try {
        const browser = new Browser(app.url);
        await browser.get('/login');
        const before = browser.sid();
        await browser.get('/regenerate');
        assert.notEqual(browser.sid(), before, 'regenerate() kept the sid');
        assert.equal(JSON.parse((await browser.get('/me')).body).user, 'bob', 'the regenerated session was not saved');
      } finally {
        await app.close();
      }
    });
  });
}

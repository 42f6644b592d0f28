import assert from 'node:assert/strict';
import type { SessionOptions } from 'express-session';
import type { Client } from './client.js';
import { checkLogout, checkRegenerate } from './flows.js';
import { Browser, spyOn, startApp } from './http-app.js';
import type { ConformanceOptions } from './options.js';
import { group } from './registry.js';
import { expiresOf, sleep, sleepUntilPast } from './util.js';

const absent = (value: unknown): boolean => value === null || value === undefined;

/** Runs `body` against a live app on the store, always stopping the server. */
async function withApp(client: Client, options: Partial<SessionOptions>, body: (b: Browser) => Promise<void>): Promise<void> {
  const app = await startApp(client.store, options);
  try {
    await body(new Browser(app.url));
  } finally {
    await app.close();
  }
}

/** The store under express-session over real HTTP: what users actually run. */
export function integration(opts: ConformanceOptions): void {
  group(opts, 'integration', (test) => {
    test('login, then a later request reads the session', [], async ({ client }) => {
      await withApp(client, {}, async (b) => {
        const login = await b.get('/login');
        assert.ok(login.setCookie, 'login response set no session cookie');
        const me = await b.get('/me');
        assert.equal(me.body, JSON.stringify({ user: 'alice' }), 'a later request did not see the logged-in user');
        assert.equal(me.setCookie, false, 'an unmodified, non-rolling session sent Set-Cookie');
        assert.equal(
          ((await client.get(b.sid())) as { user?: unknown } | null)?.user,
          'alice',
          'the store does not hold the session express-session saved',
        );
      });
    });

    test('a counter increments across requests', [], async ({ client }) => {
      await withApp(client, {}, async (b) => {
        const seen = [];
        for (let i = 0; i < 3; i++) seen.push((await b.get('/count')).body);
        assert.deepEqual(seen, ['1', '2', '3'], 'session changes did not persist between requests');
        assert.equal(((await client.get(b.sid())) as { n?: unknown } | null)?.n, 3, 'the store holds a stale counter');
      });
    });

    test('regenerate gives a new sid and removes the old session', [], async ({ client }) => {
      await withApp(client, {}, async (b) => {
        await checkRegenerate(client, b);
      });
    });

    test('logout (destroy) removes the session', [], async ({ client }) => {
      await withApp(client, {}, async (b) => {
        await checkLogout(client, b);
      });
    });

    test(
      'resave false: a read-only request is get then touch and extends the expiry',
      ['touch'],
      async ({ client }) => {
        await withApp(client, {}, async (b) => {
          await b.get('/login');
          const id = b.sid();
          const before = expiresOf(await client.get(id)) as number;
          await sleep(10); // the new expiry is now + maxAge: let "now" move
          const spy = spyOn(client.store, ['get', 'set', 'touch', 'destroy']);
          try {
            await b.get('/read');
          } finally {
            spy.restore();
          }
          assert.equal(spy.calls[0], 'get', `a read-only request did not start with get(): ${spy.calls.join(',')}`);
          assert.ok(!spy.calls.includes('set'), `a read-only request with resave:false called set(): ${spy.calls.join(',')}`);
          assert.ok(spy.calls.includes('touch'), `a read-only request did not call touch(): ${spy.calls.join(',')}`);
          assert.ok(
            (expiresOf(await client.get(id)) as number) > before,
            'the touch from express-session did not extend the stored expiry',
          );
        });
      },
      { touchAfter: 0 },
    );

    test('rolling: true sends Set-Cookie on every response', [], async ({ client }) => {
      await withApp(client, { rolling: true }, async (b) => {
        await b.get('/login');
        for (let i = 0; i < 2; i++) assert.ok((await b.get('/read')).setCookie, 'rolling session sent no Set-Cookie');
        assert.equal((await b.get('/me')).body, JSON.stringify({ user: 'alice' }), 'rolling session lost its data');
      });
    });

    test('a session is gone once its cookie maxAge has passed', [], async ({ client, caps }) => {
      const maxAge = caps.msPrecision ? 50 : 1000;
      await withApp(client, { cookie: { maxAge } }, async (b) => {
        const start = Date.now();
        await b.get('/login');
        const old = b.sid();
        // Wait out the expiry the session was given (when the request reached the app), not one guessed before it;
        // a session already gone (a slow machine) has nothing left to wait for.
        const stored = expiresOf(await client.get(old));
        await sleepUntilPast(Math.max(start + maxAge, stored ?? 0), caps.msPrecision ? 30 : 1100);
        assert.equal((await b.get('/me')).body, JSON.stringify({ user: null }), 'an expired session was still served');
        assert.ok(absent(await client.get(old)), 'get() returned a session past its cookie maxAge');
        await b.get('/login');
        assert.notEqual(b.sid(), old, 'a new login reused the expired sid');
      });
    });

    test('a browser-session cookie (no maxAge) keeps working', [], async ({ client }) => {
      await withApp(client, { cookie: {} }, async (b) => {
        await b.get('/login');
        assert.equal((await b.get('/me')).body, JSON.stringify({ user: 'alice' }), 'a session without maxAge was not read back');
        assert.equal(expiresOf(await client.get(b.sid())), null, 'the store invented a cookie.expires');
      });
    });

    test("'disconnect' makes the middleware skip sessions until 'connect'", [], async ({ client }) => {
      await withApp(client, {}, async (b) => {
        await b.get('/login');
        client.store.emit('disconnect');
        const spy = spyOn(client.store, ['get', 'set', 'touch', 'destroy']);
        let during: string;
        try {
          during = (await b.get('/has')).body;
        } finally {
          spy.restore();
          client.store.emit('connect');
        }
        assert.equal(during, 'no', "the middleware still used the store after 'disconnect' (is it an EventEmitter?)");
        assert.deepEqual(spy.calls, [], 'the store was called while disconnected');
        assert.equal((await b.get('/me')).body, JSON.stringify({ user: 'alice' }), "sessions did not come back after 'connect'");
      });
    });
  });
}

import assert from 'node:assert/strict';
import type { Client } from './client.js';
import { type FastifyAppOptions, type KoaAppOptions, startFastifyApp, startKoaApp } from './framework-apps.js';
import { checkLogout, checkRegenerate } from './flows.js';
import { type App, type Browser, spyOn } from './http-app.js';
import type { ConformanceOptions } from './options.js';
import { group } from './registry.js';
import { absent, expiresOf, sleepUntilPast } from './util.js';
import { koaStore } from '../frameworks/koa.js';

const DAY = 86_400_000;
/**
 * The short default ttl (seconds) of the stores that must not cut a longer framework maxAge short: a quarter of a
 * second, or a whole one for stores declared to keep whole seconds only (a fractional ttl is not what is tested here).
 */
const shortTtl = (opts: ConformanceOptions): number => (opts.capabilities?.msPrecision === false ? 1 : 0.25);
/** What koa-session adds to its `maxAge` when it saves to a store, so that the store outlives the cookie. */
const KOA_STORE_MARGIN = 10_000;

const userOf = (session: unknown): unknown => (session as { user?: unknown } | null | undefined)?.user;

/** Runs `body` against a live app, always stopping the server. */
async function withApp(app: App, body: (b: Browser, app: App) => Promise<void>): Promise<void> {
  try {
    await body(app.browser(), app);
  } finally {
    await app.close();
  }
}

const koa = (client: Client, options: KoaAppOptions, body: (b: Browser) => Promise<void>): Promise<void> =>
  startKoaApp(client.store, options).then((app) => withApp(app, body));
const fastify = (client: Client, options: FastifyAppOptions, body: (b: Browser) => Promise<void>): Promise<void> =>
  startFastifyApp(client.store, options).then((app) => withApp(app, body));

/** Logs in, waits past the store's short default ttl, and checks the user is still logged in. */
async function outlivesShortTtl(b: Browser, framework: string, shortTtlS: number): Promise<{ before: number; after: number }> {
  const before = Date.now();
  await b.get('/login');
  const after = Date.now();
  await sleepUntilPast(after + shortTtlS * 1000, 20);
  assert.equal(
    (await b.get('/me')).body,
    JSON.stringify({ user: 'alice' }),
    `the store's default ttl logged the ${framework} user out early`,
  );
  return { before, after };
}

/** Asserts that `expiresAt` is `lifetime` ms after some moment between `before` and `after` (± a second when not ms-precise). */
function assertExpiry(expiresAt: number | null, before: number, after: number, lifetime: number, msPrecision: boolean, what: string): void {
  const slack = msPrecision ? 0 : 1000;
  assert.ok(
    expiresAt !== null && expiresAt >= before + lifetime - slack && expiresAt <= after + lifetime + slack,
    `${what}: the store keeps it until ${expiresAt === null ? 'no expiry' : new Date(expiresAt).toISOString()}, expected ${lifetime} ms after the request`,
  );
}

/**
 * The store under the two other popular session middlewares, over real HTTP: koa-session (through `koaStore`,
 * from `session-stores/koa`) and @fastify/session (the store as it is). Needs `koa`, `koa-session`, `fastify`,
 * `@fastify/cookie` and `@fastify/session` installed; without them these tests are skipped and say what is missing.
 */
export function frameworks(opts: ConformanceOptions): void {
  const SHORT_TTL = shortTtl(opts);
  group(opts, 'frameworks', (test) => {
    // --- koa ------------------------------------------------------------------------------------------------

    test('koa: login, then later requests read and modify the session', [], async ({ client, caps }) => {
      await koa(client, { maxAge: 60_000 }, async (b) => {
        const before = Date.now();
        assert.ok((await b.get('/login')).setCookie, 'login response set no koa.sess cookie');
        assert.equal((await b.get('/me')).body, JSON.stringify({ user: 'alice' }), 'a later request did not see the logged-in user');
        const seen = [];
        for (let i = 0; i < 3; i++) seen.push((await b.get('/count')).body);
        assert.deepEqual(seen, ['1', '2', '3'], 'session changes did not persist between requests');
        const stored = (await client.get(b.sid())) as Record<string, unknown> | null;
        assert.equal(userOf(stored), 'alice', 'the store does not hold the session koa-session saved');
        assert.equal(stored?.n, 3, 'the store holds a stale counter');
        assert.equal(stored?._maxAge, 60_000, "koa's _maxAge was not kept as session data");
        // Saved again by each /count: its expiry is a minute (plus koa's margin) after one of them.
        assertExpiry(expiresOf(stored), before, Date.now(), 60_000 + KOA_STORE_MARGIN, caps.msPrecision, 'a koa session with maxAge 60 s');
      });
    });

    test('koa: regenerate gives a new key and removes the old session', [], async ({ client }) => {
      await koa(client, {}, async (b) => {
        await checkRegenerate(client, b, 'key');
      });
    });

    test('koa: logout (ctx.session = null) removes the session', [], async ({ client }) => {
      await koa(client, {}, async (b) => {
        await checkLogout(client, b);
        assert.equal(b.sid(), null, 'koa-session did not clear the cookie');
      });
    });

    test(
      "koa: maxAge 7 days outlives the store's short default ttl",
      ['ttlOption'],
      async ({ client, caps }) => {
        await koa(client, { maxAge: 7 * DAY }, async (b) => {
          const { before, after } = await outlivesShortTtl(b, 'koa', SHORT_TTL);
          const stored = await client.get(b.sid());
          assertExpiry(expiresOf(stored), before, after, 7 * DAY + KOA_STORE_MARGIN, caps.msPrecision, 'a koa session with maxAge 7 days');
        });
      },
      { ttl: SHORT_TTL },
    );

    test(
      "koa: maxAge 'session' lives for the store's default ttl",
      ['ttlOption'],
      async ({ client }) => {
        await koa(client, { maxAge: 'session' }, async (b) => {
          const before = Date.now();
          await b.get('/login');
          const after = Date.now();
          const id = b.sid();
          assert.ok(id !== null, 'login set no koa.sess cookie');
          const stored = await client.get(id);
          // Only a read that finished within the ttl must find it: on a loaded machine it may come later.
          if (Date.now() < before + SHORT_TTL * 1000)
            assert.equal(userOf(stored), 'alice', "a session with maxAge 'session' was not stored");
          await sleepUntilPast(after + SHORT_TTL * 1000, 20);
          assert.ok(absent(await client.get(id)), "a session with maxAge 'session' outlived the store's default ttl");
          assert.equal((await b.get('/me')).body, JSON.stringify({ user: null }), "an expired 'session' session was still served");
        });
      },
      { ttl: SHORT_TTL },
    );

    test('koa: a session past its maxAge is gone', [], async ({ client }) => {
      const maxAge = 100;
      await koa(client, { maxAge }, async (b) => {
        await b.get('/login');
        // The cookie's expiry was set while the login was answered: it is past maxAge after the response at the latest.
        const loggedIn = Date.now();
        await sleepUntilPast(loggedIn + maxAge, 20);
        assert.equal((await b.get('/me')).body, JSON.stringify({ user: null }), 'a session past its maxAge was still served');
      });
    });

    test('koa: rolling saves every response with a new expiry; without it a read only reads', [], async ({ client, caps }) => {
      await koa(client, { rolling: true }, async (b) => {
        await b.get('/login');
        const first = expiresOf(await client.get(b.sid())) as number;
        await sleepUntilPast(Date.now() + (caps.msPrecision ? 10 : 1100), 0);
        for (let i = 0; i < 2; i++) assert.ok((await b.get('/read')).setCookie, 'a rolling koa session sent no Set-Cookie');
        const stored = await client.get(b.sid());
        assert.ok((expiresOf(stored) as number) > first, 'rolling did not move the stored expiry');
        const expire = (stored as { _expire?: number } | null)?._expire;
        assert.ok(typeof expire === 'number' && expire > first - KOA_STORE_MARGIN, "rolling did not update koa's _expire");
        assert.equal((await b.get('/me')).body, JSON.stringify({ user: 'alice' }), 'a rolling session lost its data');
      });
      await koa(client, { rolling: false }, async (b) => {
        await b.get('/login');
        const spy = spyOn(client.store, ['get', 'set', 'touch', 'destroy']);
        let reply;
        try {
          reply = await b.get('/read');
        } finally {
          spy.restore();
        }
        assert.deepEqual(spy.calls, ['get'], `an unchanged, non-rolling koa session did more than read: ${spy.calls.join(',')}`);
        assert.equal(reply.setCookie, false, 'an unchanged, non-rolling koa session sent Set-Cookie');
      });
    });

    test('koa: renew saves a session near its end again, with a new expiry', [], async ({ client, caps }) => {
      await koa(client, { renew: true, maxAge: 60_000 }, async (b) => {
        await b.get('/login');
        const key = b.sid() as string;
        // As if most of its minute had passed: koa renews once less than half of maxAge is left.
        const adapter = koaStore(client.store);
        const stored = (await adapter.get(key)) as Record<string, unknown>;
        await adapter.set(key, { ...stored, _expire: Date.now() + 20_000 }, 20_000 + KOA_STORE_MARGIN);
        const before = Date.now();
        assert.ok((await b.get('/read')).setCookie, 'koa did not renew the session');
        const after = Date.now();
        const renewed = await client.get(key);
        assert.equal(userOf(renewed), 'alice', 'the renewed session lost its data');
        assertExpiry(expiresOf(renewed), before, after, 60_000 + KOA_STORE_MARGIN, caps.msPrecision, 'a renewed koa session');
      });
    });

    // --- fastify --------------------------------------------------------------------------------------------

    test('fastify: login, then later requests read and modify the session', [], async ({ client }) => {
      await fastify(client, {}, async (b) => {
        assert.ok((await b.get('/login')).setCookie, 'login response set no sessionId cookie');
        assert.equal((await b.get('/me')).body, JSON.stringify({ user: 'alice' }), 'a later request did not see the logged-in user');
        const seen = [];
        for (let i = 0; i < 3; i++) seen.push((await b.get('/count')).body);
        assert.deepEqual(seen, ['1', '2', '3'], 'session changes did not persist between requests');
        const stored = (await client.get(b.sid())) as Record<string, unknown> | null;
        assert.equal(userOf(stored), 'alice', 'the store does not hold the session @fastify/session saved');
        assert.equal(stored?.n, 3, 'the store holds a stale counter');
      });
    });

    test('fastify: regenerate gives a new sid and removes the old session', [], async ({ client }) => {
      await fastify(client, {}, async (b) => {
        await checkRegenerate(client, b, 'sid');
      });
    });

    test('fastify: logout (session.destroy()) removes the session', [], async ({ client }) => {
      await fastify(client, {}, async (b) => {
        await checkLogout(client, b);
      });
    });

    test(
      "fastify: cookie maxAge 7 days outlives the store's short default ttl",
      ['ttlOption'],
      async ({ client, caps }) => {
        await fastify(client, { maxAge: 7 * DAY }, async (b) => {
          const { before } = await outlivesShortTtl(b, 'fastify', SHORT_TTL);
          // Rolling (the default) saved it again on that request: the expiry is 7 days after it.
          assertExpiry(
            expiresOf(await client.get(b.sid())),
            before,
            Date.now(),
            7 * DAY,
            caps.msPrecision,
            'a fastify session with maxAge 7 days',
          );
        });
      },
      { ttl: SHORT_TTL },
    );

    test('fastify: a session is gone once its cookie maxAge has passed', [], async ({ client, caps }) => {
      const maxAge = caps.msPrecision ? 50 : 1000;
      await fastify(client, { maxAge, rolling: false }, async (b) => {
        await b.get('/login');
        // The cookie's expiry was set while the login was answered: it is past maxAge after the response at the latest.
        const loggedIn = Date.now();
        const id = b.sid();
        await sleepUntilPast(loggedIn + maxAge, caps.msPrecision ? 30 : 1100);
        assert.ok(absent(await client.get(id)), 'get() returned a session past its cookie maxAge');
        assert.equal((await b.get('/me')).body, JSON.stringify({ user: null }), 'an expired session was still served');
      });
    });

    test(
      'fastify: rolling (the default) saves every response with a new expiry; without it a read only reads',
      [],
      async ({ client, caps }) => {
        await fastify(client, {}, async (b) => {
          await b.get('/login');
          const first = expiresOf(await client.get(b.sid())) as number;
          await sleepUntilPast(Date.now() + (caps.msPrecision ? 10 : 1100), 0);
          for (let i = 0; i < 2; i++) assert.ok((await b.get('/read')).setCookie, 'a rolling fastify session sent no Set-Cookie');
          assert.ok((expiresOf(await client.get(b.sid())) as number) > first, 'rolling did not move the stored expiry');
          assert.equal((await b.get('/me')).body, JSON.stringify({ user: 'alice' }), 'a rolling session lost its data');
        });
        await fastify(client, { rolling: false }, async (b) => {
          await b.get('/login');
          const spy = spyOn(client.store, ['get', 'set', 'touch', 'destroy']);
          try {
            await b.get('/read');
          } finally {
            spy.restore();
          }
          assert.deepEqual(spy.calls, ['get'], `an unchanged, non-rolling fastify session did more than read: ${spy.calls.join(',')}`);
        });
      },
    );
  });
}

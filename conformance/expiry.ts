import assert from 'node:assert/strict';
import type { SessionData } from 'express-session';
import type { ConformanceOptions } from './options.js';
import type { Client } from './client.js';
import { group, type TestContext } from './registry.js';
import { allEntries, expiresOf, FUTURE_MS, json, sess, shortExpiry, sid, sleepUntilPast } from './util.js';

const absent = (value: unknown): boolean => value === null || value === undefined;

/**
 * A short default TTL the store can keep: 20 ms, or 1 s for a store without millisecond precision (connect-redis
 * rejects a fractional `EX`; that is not the behaviour under test). `margin` is how long after the TTL the test
 * waits before expecting the session gone.
 */
function shortTtl(msPrecision: boolean): { seconds: number; margin: number } {
  return msPrecision ? { seconds: 0.02, margin: 20 } : { seconds: 1, margin: 1100 };
}

/** Absolute expiry: cookie.expires first, default TTL otherwise, to the millisecond. */
export function expiry(opts: ConformanceOptions): void {
  // Declared up front, the precision picks the hint; detected at run time, a test opens a second store.
  const short = shortTtl(opts.capabilities?.msPrecision !== false).seconds;
  const ttlFn = (seconds: number) => (s: SessionData) => ((s as SessionData & { short?: boolean }).short ? seconds : 3600);
  /** The test's store if it was made with the short TTL the store can keep, else one that is. */
  const withShortTtl = async (ctx: TestContext, fn = false): Promise<{ client: Client; margin: number; ttlMs: number }> => {
    const { seconds, margin } = shortTtl(ctx.caps.msPrecision);
    const client = seconds === short ? ctx.client : await ctx.open({ ttl: fn ? ttlFn(seconds) : seconds });
    return { client, margin, ttlMs: seconds * 1000 };
  };
  group(opts, 'expiry', (test) => {
    test('set() with a past cookie.expires removes an existing session', [], async ({ client }) => {
      const id = sid();
      await client.set(id, sess({ v: 1 }));
      await client.set(id, sess({ v: 2 }, Date.now() - 1000));
      assert.ok(absent(await client.get(id)), 'get() returned a session whose set() expiry was already past');
    });

    test(
      'cookie.expires in the past wins over a long default ttl',
      ['ttlOption'],
      async ({ client }) => {
        const id = sid();
        await client.set(id, sess({ v: 1 }, Date.now() - 1000));
        assert.ok(absent(await client.get(id)), 'default ttl kept a session whose cookie.expires was past');
      },
      { ttl: 3600 },
    );

    test(
      'cookie.expires in the future wins over a short default ttl',
      ['ttlOption'],
      async (ctx) => {
        const { client, margin, ttlMs } = await withShortTtl(ctx);
        const id = sid();
        const written = sess({ v: 1 }, Date.now() + FUTURE_MS);
        const ttlEnd = Date.now() + ttlMs;
        await client.set(id, written);
        await sleepUntilPast(ttlEnd, margin);
        assert.deepEqual(json(await client.get(id)), json(written), 'default ttl expired a session whose cookie.expires was in the future');
      },
      { ttl: short },
    );

    test('a browser-session cookie (expires null) is kept', [], async ({ client }) => {
      const id = sid();
      const written = sess({ v: 1 }, null);
      await client.set(id, written);
      assert.deepEqual(json(await client.get(id)), json(written), 'a session without cookie.expires was not stored');
    });

    test(
      'a browser-session cookie (expires null) expires after the default ttl',
      ['ttlOption'],
      async (ctx) => {
        const { client, margin, ttlMs } = await withShortTtl(ctx);
        const id = sid();
        await client.set(id, sess({ v: 1 }, null));
        // The store computed the expiry during set(): at the latest, now plus the ttl.
        const end = Date.now() + ttlMs;
        await sleepUntilPast(end, margin);
        assert.ok(absent(await client.get(id)), 'a session without cookie.expires outlived the default ttl');
      },
      { ttl: short },
    );

    test(
      'a ttl function decides per session',
      ['ttlOption'],
      async (ctx) => {
        const { client, margin, ttlMs } = await withShortTtl(ctx, true);
        const shortId = sid('short');
        const long = sid('long');
        const kept = sess({ short: false }, null);
        await client.set(shortId, sess({ short: true }, null));
        // The store computed the short expiry during set(): at the latest, now plus the short ttl.
        const end = Date.now() + ttlMs;
        await client.set(long, kept);
        await sleepUntilPast(end, margin);
        assert.ok(absent(await client.get(shortId)), 'ttl function result was ignored (short session kept)');
        assert.deepEqual(json(await client.get(long)), json(kept), 'ttl function result was ignored (long session gone)');
      },
      { ttl: ttlFn(short) },
    );

    test('cookie.expires round-trips to the millisecond', [], async ({ client }) => {
      const id = sid();
      const at = Date.now() + 1500 + 7; // deliberately not on a whole second
      await client.set(id, sess({}, at));
      assert.equal(expiresOf(await client.get(id)), at, 'get() returned a different cookie.expires (rounded?)');
    });

    test('an expiry 1 ms in the past is already expired', ['msPrecision'], async ({ client }) => {
      const id = sid();
      await client.set(id, sess({}, Date.now() - 1));
      assert.ok(absent(await client.get(id)), 'a session that expired 1 ms ago was returned (expiry rounded up?)');
    });

    test('a session expires a few ms after its cookie.expires', ['msPrecision'], async ({ client }) => {
      const id = sid();
      const { expires, passed } = shortExpiry(true);
      await client.set(id, sess({}, expires));
      await sleepUntilPast(passed);
      assert.ok(absent(await client.get(id)), 'get() returned a session after its ms-precise expiry');
    });

    test('expired sessions are invisible to get/all/length/ids', [], async ({ client, caps }) => {
      const dead = sid('dead');
      const live = sid('live');
      const { expires, passed } = shortExpiry(caps.msPrecision);
      await client.set(dead, sess({ mark: 'dead' }, expires));
      await client.set(live, sess({ mark: 'live' }));
      await sleepUntilPast(passed);
      // Bulk reads first: a get() may delete the expired entry and hide a bulk method that still counts it.
      if (caps.length) assert.equal(await client.length(), 1, 'length() counted an expired session');
      if (caps.ids) assert.deepEqual(await client.ids(), [live], 'ids() listed an expired session');
      if (caps.all) {
        const { byId, list } = allEntries(await client.all());
        assert.equal(list.length, 1, 'all() returned an expired session');
        if (byId) assert.ok(byId.has(live) && !byId.has(dead), 'all() keyed an expired session');
      }
      assert.ok(absent(await client.get(dead)), 'get() returned an expired session');
    });
  });
}

import assert from 'node:assert/strict';
import type { Store } from 'express-session';
import { METHOD_CALLS, type Method } from './client.js';
import type { Capabilities, ConformanceOptions } from './options.js';
import { group, type Need } from './registry.js';
import { codeOf, json, sess, sid, sleep } from './util.js';

const INVALID_SID = 'SESSION_STORE_INVALID_SID';

/** Polls until `done()` holds; fails after `ms` with `what`. Used where there is no callback to wait for. */
async function waitFor(done: () => boolean, what: string, ms = 5000): Promise<void> {
  const until = Date.now() + ms;
  while (!done()) {
    if (Date.now() > until) assert.fail(what);
    await sleep(2);
  }
}

/** Counts callback invocations of one raw call; a late second call is caught by waiting a little after the first. */
async function observe(store: Store, method: Method, args: unknown[]): Promise<{ count: number; sync: boolean; err: unknown }> {
  let count = 0;
  let sync = false;
  let err: unknown = null;
  let returned = false;
  const fn = (store as unknown as Record<string, (...a: unknown[]) => unknown>)[method] as (...a: unknown[]) => unknown;
  fn.call(store, ...args, (e: unknown) => {
    count += 1;
    if (count === 1) {
      sync = !returned;
      err = e;
    }
  });
  returned = true;
  await waitFor(() => count > 0, `${method}() never called back`);
  await sleep(20);
  return { count, sync, err };
}

/**
 * Runs `fn` with the process-wide error handlers replaced by a recorder, so an exception the test provokes on
 * purpose (a throwing callback) is seen by the test and not reported by the runner as a failure.
 */
async function capturingUncaught(fn: () => Promise<void>): Promise<unknown[]> {
  // Typed as one event: the overloads of process.on cannot take a union of event names.
  const events = ['uncaughtException', 'unhandledRejection'] as unknown as Array<'uncaughtException'>;
  const saved = events.map((e) => process.listeners(e));
  const caught: unknown[] = [];
  const record = (err: unknown): void => void caught.push(err);
  for (const e of events) {
    process.removeAllListeners(e);
    process.on(e, record);
  }
  try {
    await fn();
  } finally {
    events.forEach((e, i) => {
      process.removeListener(e, record);
      for (const listener of saved[i] ?? []) process.on(e, listener);
    });
  }
  return caught;
}

/** The callback contract express-session relies on, and the promise twin of every method. */
export function callbacks(opts: ConformanceOptions): void {
  group(opts, 'callbacks', (test) => {
    for (const [method, needs, args] of METHOD_CALLS) {
      test(`${method}() calls back exactly once, asynchronously`, needs, async ({ client, store }) => {
        const id = sid();
        await client.set(id, sess({ v: 1 }));
        const out = await observe(store, method, args(id));
        assert.equal(out.count, 1, `${method}() called its callback ${out.count} times`);
        assert.equal(out.sync, false, `${method}() called its callback synchronously`);
        assert.ok(!out.err, `${method}() called back with an error`);
      });
    }

    test('get() of a missing sid calls back once, asynchronously', [], async ({ store }) => {
      const out = await observe(store, 'get', [sid()]);
      assert.equal(out.count, 1, `get() of a missing sid called back ${out.count} times`);
      assert.equal(out.sync, false, 'get() of a missing sid called back synchronously');
    });

    for (const [method, needs] of [
      ['set', []],
      ['destroy', []],
      ['touch', ['touch']],
      ['clear', ['clear']],
    ] as Array<[Method, Need[]]>) {
      test(`${method}() works without a callback`, needs, async ({ client, store }) => {
        const id = sid();
        const first = Date.now() + 3600_000;
        await client.set(id, sess({ v: 1 }, first));
        const later = first + 3600_000;
        const args =
          method === 'set'
            ? [id, sess({ v: 2 }, later)]
            : method === 'touch'
              ? [id, sess({ v: 1 }, later)]
              : method === 'destroy'
                ? [id]
                : [];
        const result = (store as unknown as Record<string, (...a: unknown[]) => unknown>)[method]!(...args);
        if (result && typeof (result as PromiseLike<unknown>).then === 'function') await result;
        const effect = async (): Promise<boolean> => {
          const got = (await client.get(id)) as { v?: number; cookie?: { expires?: string } } | null | undefined;
          if (method === 'set') return got?.v === 2;
          if (method === 'touch') return new Date(got?.cookie?.expires ?? 0).getTime() === later;
          return got === null || got === undefined;
        };
        // No callback means no completion signal unless a promise came back: poll briefly for the effect.
        let ok = false;
        for (let i = 0; i < 100 && !(ok = await effect()); i++) await sleep(5);
        assert.ok(ok, `${method}() without a callback had no effect`);
      });
    }

    test('promises resolve to the same values as callbacks', ['promises'], async ({ client, store, caps }) => {
      const id = sid();
      const written = sess({ user: 'alice' });
      const api = store as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>;
      await api.set!(id, written);
      assert.deepEqual(json(await api.get!(id)), json(await client.get(id)), 'get() promise and callback disagree');
      assert.deepEqual(json(await api.get!(id)), json(written), 'get() promise did not resolve to the session');
      const missing = await api.get!(sid());
      assert.ok(missing === null || missing === undefined, 'get() promise of a missing sid resolved to a session');
      const bulk: Array<keyof Capabilities & Method> = ['all', 'length', 'ids'];
      for (const m of bulk)
        if (caps[m]) assert.deepEqual(json(await api[m]!()), json(await client.call(m)), `${m}() promise and callback disagree`);
      if (caps.touch) await api.touch!(id, written);
      await api.destroy!(id);
      assert.equal((await client.get(id)) ?? null, null, 'destroy() promise resolved before the session was gone');
      if (caps.clear) await api.clear!();
    });

    test('errors reach the callback as its first argument', ['sessionStoreErrors'], async ({ client }) => {
      const out = await client.attempt('get', '');
      assert.ok(out.err instanceof Error, 'get("") did not call back with an Error');
      assert.equal((out.err as Error).name, 'SessionStoreError', 'error is not a SessionStoreError');
      assert.equal(codeOf(out.err), INVALID_SID, `get("") failed with code ${String(codeOf(out.err))}`);
      assert.equal(out.value, undefined, 'get() passed a value along with an error');
    });

    test('errors reject the promise when there is no callback', ['sessionStoreErrors', 'promises'], async ({ store }) => {
      const get = (store as unknown as { get: (id: string) => Promise<unknown> }).get;
      await assert.rejects(
        get.call(store, ''),
        (err: unknown) => codeOf(err) === INVALID_SID,
        'get("") promise did not reject with SESSION_STORE_INVALID_SID',
      );
    });

    test('an error passed to a callback is not also an unhandled rejection', ['sessionStoreErrors'], async ({ client }) => {
      const caught = await capturingUncaught(async () => {
        await client.attempt('get', '');
        await sleep(20);
      });
      assert.equal(caught.length, 0, 'a failing call with a callback also raised an unhandled rejection');
    });

    for (const method of ['get', 'set'] as const) {
      test(`a throwing ${method}() callback is not called again and the store keeps working`, [], async ({ client, store }) => {
        const id = sid();
        await client.set(id, sess({ v: 1 }));
        let calls = 0;
        const boom = new Error('thrown by the application callback');
        const args = method === 'get' ? [id] : [id, sess({ v: 2 })];
        await capturingUncaught(async () => {
          try {
            (store as unknown as Record<string, (...a: unknown[]) => unknown>)[method]!(...args, () => {
              calls += 1;
              throw boom;
            });
          } catch {
            assert.fail(`${method}() let the callback's exception escape into its caller (synchronous callback?)`);
          }
          await waitFor(() => calls > 0, `${method}() never called back`);
          await sleep(20);
        });
        assert.equal(calls, 1, `${method}() called a throwing callback ${calls} times`);
        const next = sess({ v: 3 });
        await client.set(id, next);
        assert.deepEqual(json(await client.get(id)), json(next), `the store stopped working after a ${method}() callback threw`);
      });
    }
  });
}

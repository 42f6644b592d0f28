import assert from 'node:assert/strict';
import type { Client } from './client.js';
import type { ConformanceOptions } from './options.js';
import { group, type TestContext } from './registry.js';
import { freshNamespace, json, marksOf, sess, sid } from './util.js';

const absent = (value: unknown): boolean => value === null || value === undefined;

/** Two stores on one backend, different namespaces, the same sid in both: nothing may cross over. */
export function isolation(opts: ConformanceOptions): void {
  /** Stores A and B sharing one sid, each holding its own data. */
  async function pair({ open }: TestContext): Promise<{ a: Client; b: Client; id: string }> {
    const a = await open({ namespace: freshNamespace('a') });
    const b = await open({ namespace: freshNamespace('b') });
    const id = sid();
    await a.set(id, sess({ mark: 'a' }));
    await b.set(id, sess({ mark: 'b' }));
    return { a, b, id };
  }

  group(opts, 'isolation', (test) => {
    test('get() sees only its own namespace', ['namespaces'], async (ctx) => {
      const { a, b, id } = await pair(ctx);
      assert.equal(((await a.get(id)) as { mark?: unknown })?.mark, 'a', "get() returned another namespace's session");
      assert.equal(((await b.get(id)) as { mark?: unknown })?.mark, 'b', "get() returned another namespace's session");
      assert.ok(absent(await a.get(`${id}-only-in-b`)), 'get() of an unknown sid found something');
    });

    test('destroy() affects only its own namespace', ['namespaces'], async (ctx) => {
      const { a, b, id } = await pair(ctx);
      await a.destroy(id);
      assert.ok(absent(await a.get(id)), 'destroy() did not remove the session');
      assert.equal(((await b.get(id)) as { mark?: unknown })?.mark, 'b', "destroy() removed another namespace's session");
    });

    test('touch() affects only its own namespace', ['namespaces', 'touch'], async (ctx) => {
      const { a, b, id } = await pair(ctx);
      const before = json(await b.get(id));
      await a.touch(id, sess({ mark: 'a' }, Date.now() + 7 * 24 * 3600 * 1000));
      assert.deepEqual(json(await b.get(id)), before, "touch() changed another namespace's session");
    });

    test('all() and length() count only their own namespace', ['namespaces'], async (ctx) => {
      const { a, b } = await pair(ctx);
      await b.set(sid(), sess({ mark: 'b' }));
      if (ctx.caps.all) assert.deepEqual(marksOf(await a.all()), ['a'], "all() returned another namespace's sessions");
      if (ctx.caps.length) assert.equal(await a.length(), 1, "length() counted another namespace's sessions");
      if (ctx.caps.ids) assert.equal(((await a.ids()) as string[]).length, 1, "ids() listed another namespace's sessions");
    });

    test('clear() empties only its own namespace', ['namespaces', 'clear'], async (ctx) => {
      const { a, b, id } = await pair(ctx);
      await a.clear();
      assert.ok(absent(await a.get(id)), 'clear() left a session behind');
      assert.equal(((await b.get(id)) as { mark?: unknown })?.mark, 'b', "clear() removed another namespace's session");
    });

    test('a namespace-like sid prefix does not reach another namespace', ['namespaces'], async ({ open }) => {
      // Key-prefix backends build keys as prefix + sid; a sid that spells another prefix must stay a sid.
      const nsA = freshNamespace('a');
      const a = await open({ namespace: nsA });
      const b = await open({ namespace: `${nsA}:b` });
      const id = sid();
      await b.set(id, sess({ mark: 'b' }));
      for (const guess of [`b:${id}`, `:b:${id}`, `b${id}`, `/b/${id}`]) {
        const out = await a.attempt('get', guess);
        assert.ok(out.err || absent(out.value), `get(${JSON.stringify(guess.slice(0, 4))}…) reached another namespace`);
      }
    });
  });
}

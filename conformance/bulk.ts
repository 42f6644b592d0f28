import assert from 'node:assert/strict';
import type { ConformanceOptions } from './options.js';
import { group } from './registry.js';
import { allEntries, freshNamespace, json, marksOf, sess, sid } from './util.js';

/** all / length / ids / clear: admin methods; they must only ever see this store's own sessions. */
export function bulk(opts: ConformanceOptions): void {
  group(opts, 'bulk', (test) => {
    test('an empty store has no sessions', [], async ({ client, caps }) => {
      if (caps.all) assert.equal(allEntries(await client.all()).list.length, 0, 'all() of a fresh store is not empty');
      if (caps.length) assert.equal(await client.length(), 0, 'length() of a fresh store is not 0');
      if (caps.ids) assert.deepEqual(await client.ids(), [], 'ids() of a fresh store is not empty');
    });

    test('all() returns every session (object keyed by sid, or array)', ['all'], async ({ client }) => {
      const written = new Map([sid('a'), sid('b'), sid('c')].map((id, i) => [id, sess({ mark: `m${i}` })]));
      for (const [id, s] of written) await client.set(id, s);
      const result = await client.all();
      assert.deepEqual(marksOf(result), ['m0', 'm1', 'm2'], 'all() did not return exactly the stored sessions');
      const { byId } = allEntries(result);
      if (byId) {
        for (const [id, s] of written)
          assert.deepEqual(json(byId.get(id)), json(s), 'all() keyed a session under the wrong sid or altered it');
      }
    });

    test('length() counts sessions', ['length'], async ({ client }) => {
      for (const id of [sid(), sid(), sid()]) await client.set(id, sess());
      const extra = sid();
      await client.set(extra, sess());
      await client.destroy(extra);
      assert.equal(await client.length(), 3, 'length() is wrong after 4 set() and 1 destroy()');
    });

    test('ids() lists the sids', ['ids'], async ({ client }) => {
      const ids = [sid('x'), sid('y'), sid('z')];
      for (const id of ids) await client.set(id, sess());
      const got = await client.ids();
      assert.ok(Array.isArray(got), 'ids() did not return an array');
      assert.deepEqual([...(got as string[])].sort(), [...ids].sort(), 'ids() did not list exactly the stored sids');
    });

    test('clear() removes every session', ['clear'], async ({ client, caps }) => {
      const ids = [sid(), sid()];
      for (const id of ids) await client.set(id, sess());
      await client.clear();
      for (const id of ids) {
        const got = await client.get(id);
        assert.ok(got === null || got === undefined, 'get() found a session after clear()');
      }
      if (caps.length) assert.equal(await client.length(), 0, 'length() is not 0 after clear()');
    });

    test('all/length/ids see only their own namespace', ['namespaces'], async ({ caps, open }) => {
      const ours = await open({ namespace: freshNamespace('ours') });
      const theirs = await open({ namespace: freshNamespace('theirs') });
      await ours.set(sid(), sess({ mark: 'ours' }));
      await theirs.set(sid(), sess({ mark: 'theirs' }));
      await theirs.set(sid(), sess({ mark: 'theirs' }));
      if (caps.all) assert.deepEqual(marksOf(await ours.all()), ['ours'], "all() returned another namespace's sessions");
      if (caps.length) assert.equal(await ours.length(), 1, "length() counted another namespace's sessions");
      if (caps.ids) assert.equal(((await ours.ids()) as string[]).length, 1, "ids() listed another namespace's sessions");
    });

    test('clear() leaves other namespaces intact', ['namespaces', 'clear'], async ({ open }) => {
      const ours = await open({ namespace: freshNamespace('ours') });
      const theirs = await open({ namespace: freshNamespace('theirs') });
      const id = sid();
      const kept = sess({ mark: 'theirs' });
      await ours.set(sid(), sess({ mark: 'ours' }));
      await theirs.set(id, kept);
      await ours.clear();
      assert.deepEqual(json(await theirs.get(id)), json(kept), "clear() removed another namespace's session");
    });
  });
}

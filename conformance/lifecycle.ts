import assert from 'node:assert/strict';
import { METHOD_CALLS } from './client.js';
import type { ConformanceOptions } from './options.js';
import { group } from './registry.js';
import { codeOf, sess, sid, show } from './util.js';

const CLOSED = 'SESSION_STORE_CLOSED';

/** close(): releases the store once, tolerates repetition, and makes later use fail loudly, not hang. */
export function lifecycle(opts: ConformanceOptions): void {
  group(opts, 'lifecycle', (test) => {
    test('close() calls back', ['close'], async ({ client }) => {
      await client.set(sid(), sess());
      await client.close();
    });

    test('close() returns a promise that resolves', ['close', 'promises'], async ({ store, client }) => {
      client.closed = true;
      await (store as unknown as { close: () => Promise<void> }).close();
    });

    test('close() twice is fine', ['close'], async ({ client }) => {
      await client.close();
      await client.close();
    });

    test('close() during 100 operations in flight resolves after they all settled, each cleanly', ['close'], async ({ client, caps }) => {
      const ids = Array.from({ length: 50 }, () => sid());
      await Promise.all(ids.map((id) => client.set(id, sess({ v: 1 }))));
      const settled = new Set<number>();
      // Half writes, half reads, all issued before close() and none awaited.
      const ops = ids.flatMap((id, i) => [
        client.attempt('set', id, sess({ v: 2 })).then((out) => (settled.add(2 * i), out)),
        client.attempt('get', id).then((out) => (settled.add(2 * i + 1), out)),
      ]);
      await client.close();
      assert.equal(
        settled.size,
        ops.length,
        `close() resolved with ${ops.length - settled.size} of ${ops.length} operations still pending`,
      );
      for (const out of await Promise.all(ops)) {
        assert.ok(!out.threw, `an operation in flight threw synchronously: ${show(out.err)}`);
        // In flight when close() was called: it completes, or (at the most) fails as closed, never otherwise.
        if (out.err && caps.sessionStoreErrors)
          assert.equal(codeOf(out.err), CLOSED, `an operation in flight failed with ${show(out.err)}`);
      }
    });

    for (const [method, needs, args] of METHOD_CALLS) {
      test(`${method}() after close() fails with ${CLOSED}`, ['close', 'sessionStoreErrors', ...needs], async ({ client }) => {
        await client.close();
        const out = await client.attempt(method, ...args(sid()));
        assert.ok(!out.threw, `${method}() after close() threw synchronously: ${show(out.err)}`);
        assert.equal(codeOf(out.err), CLOSED, `${method}() after close() gave ${show(codeOf(out.err))}, not ${CLOSED}`);
      });
    }
  });
}

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

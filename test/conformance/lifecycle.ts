import assert from 'node:assert/strict';
import type { Method } from './client.js';
import type { ConformanceOptions } from './options.js';
import { group, type Need } from './registry.js';
import { codeOf, sess, sid, show } from './util.js';

const CLOSED = 'SESSION_STORE_CLOSED';

const AFTER_CLOSE: Array<[Method, Need[], () => unknown[]]> = [
  ['get', [], () => [sid()]],
  ['set', [], () => [sid(), sess()]],
  ['destroy', [], () => [sid()]],
  ['touch', ['touch'], () => [sid(), sess()]],
  ['all', ['all'], () => []],
  ['length', ['length'], () => []],
  ['ids', ['ids'], () => []],
  ['clear', ['clear'], () => []],
];

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

    for (const [method, needs, args] of AFTER_CLOSE) {
      test(`${method}() after close() fails with ${CLOSED}`, ['close', 'sessionStoreErrors', ...needs], async ({ client }) => {
        await client.close();
        const out = await client.attempt(method, ...args());
        assert.ok(!out.threw, `${method}() after close() threw synchronously: ${show(out.err)}`);
        assert.equal(codeOf(out.err), CLOSED, `${method}() after close() gave ${show(codeOf(out.err))}, not ${CLOSED}`);
      });
    }
  });
}

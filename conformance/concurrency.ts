import assert from 'node:assert/strict';
import type { ConformanceOptions } from './options.js';
import { group } from './registry.js';
import { json, sess, sid } from './util.js';

const PARALLEL = 1000;
const WRITERS = 50;

/** A value that shows at once whether it is one writer's or a mix: every character is the writer's. */
function signed(writer: number, bytes: number): Record<string, unknown> {
  const char = String.fromCharCode(0x41 + (writer % 26));
  return { writer, body: char.repeat(bytes), tail: writer };
}

/** A session written by exactly one writer, or a description of how it is torn. */
function tornness(got: unknown): string | null {
  const s = got as { writer?: unknown; body?: unknown; tail?: unknown } | null;
  if (!s || typeof s.writer !== 'number') return 'no writer field';
  if (s.tail !== s.writer) return 'head and tail from different writers';
  const char = String.fromCharCode(0x41 + (s.writer % 26));
  if (typeof s.body !== 'string' || s.body.length !== 64 * 1024 || s.body !== char.repeat(s.body.length)) return 'body mixed or cut';
  return null;
}

/** Many requests at once: no lost writes, no torn values, no crosstalk between sids. */
export function concurrency(opts: ConformanceOptions): void {
  group(opts, 'concurrency', (test) => {
    test(`${PARALLEL} parallel set/get/destroy on distinct sids`, [], async ({ client }) => {
      const ids = Array.from({ length: PARALLEL }, (_, i) => `${sid('p')}-${i}`);
      await Promise.all(ids.map((id, i) => client.set(id, sess({ i }))));
      const got = await Promise.all(ids.map((id) => client.get(id)));
      got.forEach((s, i) => assert.equal((s as { i?: unknown } | null)?.i, i, `parallel set()/get() lost or crossed session ${i}`));
      // Destroy the even half while reading the odd half, all at once.
      await Promise.all(ids.map((id, i) => (i % 2 === 0 ? client.destroy(id) : client.get(id))));
      const after = await Promise.all(ids.map((id) => client.get(id)));
      after.forEach((s, i) => {
        if (i % 2 === 0) assert.ok(s === null || s === undefined, `parallel destroy() missed session ${i}`);
        else assert.equal((s as { i?: unknown } | null)?.i, i, `parallel destroy() removed the wrong session (${i})`);
      });
    });

    test(`${WRITERS} concurrent set() of one sid end in exactly one written value`, [], async ({ client }) => {
      const id = sid();
      const values = Array.from({ length: WRITERS }, (_, w) => sess(signed(w, 64 * 1024)));
      await Promise.all(values.map((v) => client.set(id, v)));
      const got = await client.get(id);
      const torn = tornness(got);
      assert.equal(torn, null, `concurrent set() left a torn session: ${torn}`);
      const writer = (got as { writer: number }).writer;
      assert.deepEqual(json(got), json(values[writer]), 'concurrent set() left a value nobody wrote');
    });

    test('racing set/touch/destroy on one sid end absent or as one written value', ['touch'], async ({ client }) => {
      const id = sid();
      const ops: Array<Promise<void>> = [];
      for (let w = 0; w < WRITERS; w++) {
        const v = sess(signed(w, 64 * 1024));
        ops.push(w % 5 === 0 ? client.destroy(id) : w % 5 === 1 ? client.touch(id, v) : client.set(id, v));
      }
      await Promise.all(ops);
      const got = await client.get(id);
      if (got !== null && got !== undefined) {
        const torn = tornness(got);
        assert.equal(torn, null, `racing set/touch/destroy left a torn session: ${torn}`);
      }
    });
  });
}

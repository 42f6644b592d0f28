import assert from 'node:assert/strict';
import type { ConformanceOptions } from './options.js';
import { group, type TestContext } from './registry.js';
import { codeOf, json, sess, sid, show } from './util.js';

const SERIALIZE_FAILED = 'SESSION_STORE_SERIALIZE_FAILED';

/** A deterministic string of `bytes` UTF-8 bytes mixing 1-, 2-, 3- and 4-byte characters. */
function bulky(bytes: number): string {
  const unit = 'ascii-é-中-😀|'; // 6 + 1+2+1+3+1+4+1 = 19 bytes
  return unit.repeat(Math.ceil(bytes / 19));
}

function nested(depth: number): Record<string, unknown> {
  let node: Record<string, unknown> = { leaf: true };
  for (let i = 0; i < depth; i++) node = { level: i, child: node, list: [i, [i], { i }] };
  return node;
}

/** Sessions are whatever the application puts in them: everything JSON can carry must round-trip. */
export function payloads(opts: ConformanceOptions): void {
  async function roundTrip({ client }: TestContext, data: Record<string, unknown>, what: string): Promise<void> {
    const id = sid();
    const written = sess(data);
    await client.set(id, written);
    assert.deepEqual(json(await client.get(id)), json(written), `${what} did not round-trip`);
  }

  /** Sets an unserializable session over a good one: it must fail cleanly and leave the good one alone. */
  async function rejects(ctx: TestContext, bad: unknown, what: string): Promise<void> {
    const id = sid();
    const good = sess({ v: 'good' });
    await ctx.client.set(id, good);
    const out = await ctx.client.attempt('set', id, bad);
    assert.ok(!out.threw, `set() threw synchronously for a ${what} session instead of calling back`);
    assert.ok(out.err, `set() of a ${what} session did not call back with an error`);
    if (ctx.caps.sessionStoreErrors)
      assert.equal(
        codeOf(out.err),
        SERIALIZE_FAILED,
        `set() of a ${what} session failed with ${show(codeOf(out.err))}, not ${SERIALIZE_FAILED}`,
      );
    assert.deepEqual(json(await ctx.client.get(id)), json(good), `a failed set() of a ${what} session changed the stored one`);
  }

  group(opts, 'payloads', (test) => {
    test('unicode strings round-trip (astral, RTL, NUL, line separators)', [], (ctx) =>
      roundTrip(
        ctx,
        {
          astral: '𝄞 😀 👩‍👩‍👧‍👦 🇺🇦',
          rtl: 'مرحبا بالعالم ‮reversed‬ שלום',
          nul: 'before\u0000after',
          controls: '\t\r\n\u0001\u001f\u007f',
          separators: '\u2028\u2029',
          combining: 'e\u0301 vs \u00e9',
          bom: '\ufeffbom',
          'key with ünï 中文 😀': 'unicode key',
        },
        'unicode data',
      ),
    );

    test('nested objects and arrays round-trip', [], (ctx) =>
      roundTrip(
        ctx,
        {
          tree: nested(40),
          matrix: [
            [1, 2],
            [3, [4, [5]]],
          ],
          empty: {},
          none: [],
        },
        'nested data',
      ),
    );

    test('numbers, booleans, null and empty strings round-trip', [], (ctx) =>
      roundTrip(
        ctx,
        {
          zero: 0,
          negative: -1,
          float: 1.5,
          tiny: 5e-324,
          huge: 1.7976931348623157e308,
          maxSafe: Number.MAX_SAFE_INTEGER,
          minSafe: Number.MIN_SAFE_INTEGER,
          yes: true,
          no: false,
          nothing: null,
          empty: '',
        },
        'scalar data',
      ),
    );

    test('keys that are special to backends round-trip', [], (ctx) =>
      roundTrip(
        ctx,
        {
          'a.b': 'dotted',
          $where: 'dollar',
          $set: { $inc: 1 },
          '': 'empty key',
          'a:b': 'colon',
          ...(JSON.parse('{"__proto__": {"polluted": true}}') as Record<string, unknown>),
        },
        'data with keys like a.b, $where, __proto__',
      ),
    );

    test('a 1 MB session round-trips', [], (ctx) =>
      roundTrip(ctx, { blob: bulky(1024 * 1024), list: Array.from({ length: 1000 }, (_, i) => ({ i, s: `item ${i}` })) }, 'a 1 MB session'),
    );

    test('a circular session fails cleanly', [], (ctx) => {
      const bad = sess({ v: 'circular' }) as Record<string, unknown>;
      bad.self = bad;
      return rejects(ctx, bad, 'circular');
    });

    test('a BigInt session fails cleanly', [], (ctx) => rejects(ctx, sess({ big: 10n }), 'BigInt'));
  });
}

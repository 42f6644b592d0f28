import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { Client } from './client.js';
import type { ConformanceOptions, FactoryHints, RawStorage } from './options.js';
import { group, Unmet } from './registry.js';
import { absent, freshNamespace, sess, sid } from './util.js';

const OWNER = 'user';

/**
 * Sessions at rest (session-stores' `encryption` and `hashIds` options), checked in what the backend really holds
 * (the harness's {@link RawStorage}): no sid, no session data and no owner id in the clear; a record tampered with
 * or moved to another sid reads as a miss; key rotation keeps old sessions readable.
 */
export function atRest(opts: ConformanceOptions): void {
  group(opts, 'atRest', (test) => {
    const keys = { current: randomBytes(32), previous: randomBytes(32) };
    const both: FactoryHints = { encryption: { keys: [keys.current] }, hashIds: true, owner: OWNER };
    const raw = (): RawStorage => {
      if (!opts.raw) throw new Unmet('no raw view of the backend (the `raw` option)');
      return opts.raw;
    };
    /** The record `write` added: the entries after it that were not there, or changed, before. */
    const recordOf = async (client: Client, write: () => Promise<unknown>): Promise<[string, string]> => {
      const before = new Map(await raw().entries(client.store));
      await write();
      const added = (await raw().entries(client.store)).filter(([key, value]) => before.get(key) !== value);
      assert.equal(added.length, 1, `one write changed ${added.length} records in the raw view`);
      return added[0]!;
    };

    test(
      'the backend holds no sid, no session data and no owner id in the clear',
      ['atRest'],
      async ({ client, caps }) => {
        const id = sid('secret');
        const marker = `m-${randomBytes(9).toString('hex')}`;
        const owner = `o-${randomBytes(9).toString('hex')}`;
        await client.set(id, sess({ card: marker, nested: { deep: marker }, [OWNER]: owner }));
        const entries = await raw().entries(client.store);
        assert.ok(entries.length > 0, 'the raw view shows nothing: it cannot prove anything');
        for (const [key, value] of entries) {
          for (const [what, text] of [
            ['the sid', id],
            ['a session field', marker],
            ...(caps.owners ? [['the owner id', owner]] : []),
          ] as const) {
            assert.ok(!key.includes(text), `a stored key holds ${what} in the clear: ${key.slice(0, 80)}`);
            assert.ok(!value.includes(text), `a stored record holds ${what} in the clear`);
          }
        }
        assert.equal(field(await client.get(id), 'card'), marker, 'the session does not read back');
      },
      both,
    );

    test(
      'a record copied over another sid reads as a miss, and the original still reads',
      ['atRest'],
      async ({ client }) => {
        const [a, b] = [sid('a'), sid('b')];
        const [, valueA] = await recordOf(client, () => client.set(a, sess({ who: 'a' })));
        const [keyB] = await recordOf(client, () => client.set(b, sess({ who: 'b' })));
        await raw().write(client.store, keyB, valueA);
        assert.ok(absent(await client.get(b)), "a copy of another sid's record was accepted");
        assert.equal(field(await client.get(a), 'who'), 'a', 'the original record no longer reads');
      },
      both,
    );

    test(
      'a tampered record reads as a miss, never as a crash',
      ['atRest'],
      async ({ client }) => {
        const id = sid('t');
        const [key, value] = await recordOf(client, () => client.set(id, sess({ balance: 100 })));
        await raw().write(client.store, key, flipInLongestRun(value));
        assert.ok(absent(await client.get(id)), 'a tampered record was accepted');
      },
      both,
    );

    test(
      'key rotation: old sessions read with the old key behind a new one, and are refused once it is removed',
      ['atRest', 'namespaces'],
      async ({ open }) => {
        const namespace = freshNamespace('rotation');
        const hints = (...k: Buffer[]): FactoryHints => ({ ...both, namespace, encryption: { keys: k } });
        const old = await open(hints(keys.previous));
        const [kept, resaved] = [sid('k'), sid('r')];
        await old.set(kept, sess({ n: 1 }));
        await old.set(resaved, sess({ n: 2 }));
        const rotated = await open(hints(keys.current, keys.previous));
        assert.equal(field(await rotated.get(kept), 'n'), 1, 'a session written with the previous key no longer reads');
        await rotated.set(resaved, sess({ n: 3 }));
        const current = await open(hints(keys.current));
        assert.equal(field(await current.get(resaved), 'n'), 3, 'a session saved again after rotation is not under the new key');
        assert.ok(absent(await current.get(kept)), 'a session whose key was removed still reads');
      },
      both,
    );

    test(
      'with hashed ids, ids(), all() and sessionsOf() give back the real sids',
      ['atRest', 'ids', 'all'],
      async ({ client, store, caps }) => {
        const ids = [sid('x'), sid('y')].sort();
        for (const id of ids) await client.set(id, sess({ [OWNER]: 'alice' }));
        assert.deepEqual(((await client.ids()) as string[]).sort(), ids, 'ids() does not give back the sids');
        const all = await client.all();
        const listed = Array.isArray(all) ? all.map((s) => (s as { id: string }).id) : Object.keys((all ?? {}) as object);
        assert.deepEqual(listed.sort(), ids, 'all() does not give back the sids');
        if (caps.owners) {
          const owned = await (store as unknown as { sessionsOf(o: string): Promise<Array<{ sid: string }>> }).sessionsOf('alice');
          assert.deepEqual(owned.map((s) => s.sid).sort(), ids, 'sessionsOf() does not give back the sids');
        }
      },
      both,
    );
  });
}

/** A property of a session read back (undefined for a miss). */
function field(session: unknown, name: string): unknown {
  return (session as Record<string, unknown> | null | undefined)?.[name];
}

/** `text` with one character changed in the middle of its longest base64/base64url run (the ciphertext). */
function flipInLongestRun(text: string): string {
  let best = { at: 0, length: 0 };
  for (const match of text.matchAll(/[A-Za-z0-9+/_-]{16,}/g)) {
    if (match[0].length > best.length) best = { at: match.index, length: match[0].length };
  }
  assert.ok(best.length > 0, 'the stored record holds no ciphertext-like run to tamper with');
  const i = best.at + Math.floor(best.length / 2);
  return text.slice(0, i) + (text[i] === 'A' ? 'B' : 'A') + text.slice(i + 1);
}

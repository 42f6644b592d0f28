import assert from 'node:assert/strict';
import type { ConformanceOptions } from './options.js';
import { group } from './registry.js';
import { absent, sess, sid } from './util.js';

/** The session property the suite names owners by (the factory hint `owner`). */
const OWNER = 'user';

interface Owners {
  sessionsOf: (owner: string) => Promise<Array<{ sid: string; session: Record<string, unknown> }>>;
  destroyOwner: (owner: string, options?: { except?: string | string[] }) => Promise<number>;
}

/** "Log out everywhere": an index of each owner's sessions (session-stores' `owner` option). */
export function owners(opts: ConformanceOptions): void {
  group(opts, 'owners', (test) => {
    const hints = { owner: OWNER };
    const sids = async (store: Owners, owner: string): Promise<string[]> => (await store.sessionsOf(owner)).map((s) => s.sid).sort();

    test(
      'sessionsOf() lists exactly the sessions of one owner',
      ['owners'],
      async ({ client, store }) => {
        const alice = [sid('a'), sid('a'), sid('a')].sort();
        const bob = sid('b');
        for (const id of alice) await client.set(id, sess({ [OWNER]: 'alice' }));
        await client.set(bob, sess({ [OWNER]: 'bob' }));
        await client.set(sid('anon'), sess({}));
        const api = store as unknown as Owners;
        assert.deepEqual(await sids(api, 'alice'), alice, "sessionsOf('alice') is wrong");
        assert.deepEqual(await sids(api, 'bob'), [bob], "sessionsOf('bob') is wrong");
        assert.deepEqual(await sids(api, 'nobody'), [], 'an unknown owner has sessions');
        const listed = await api.sessionsOf('bob');
        assert.equal(listed[0]?.session[OWNER], 'bob', 'sessionsOf() did not give the session itself');
      },
      hints,
    );

    test(
      'destroyOwner() destroys every session of the owner but the ones it keeps, and nobody else’s',
      ['owners'],
      async ({ client, store, caps }) => {
        const current = sid('a');
        const others = [sid('a'), sid('a')];
        const bob = sid('b');
        for (const id of [current, ...others]) await client.set(id, sess({ [OWNER]: 'alice' }));
        await client.set(bob, sess({ [OWNER]: 'bob' }));
        const api = store as unknown as Owners;
        assert.equal(await api.destroyOwner('alice', { except: current }), 2, 'destroyOwner() did not count what it destroyed');
        for (const id of others) assert.ok(absent(await client.get(id)), 'a session of the owner survived destroyOwner()');
        assert.ok(!absent(await client.get(current)), 'destroyOwner() destroyed the session it was told to keep');
        assert.ok(!absent(await client.get(bob)), "destroyOwner() destroyed another owner's session");
        assert.deepEqual(await sids(api, 'alice'), [current], 'the index still lists destroyed sessions');
        if (caps.revocation) {
          await client.set(others[0]!, sess({ [OWNER]: 'alice' }));
          assert.ok(absent(await client.get(others[0]!)), 'a late write brought back a session destroyOwner() revoked');
        }
      },
      hints,
    );

    test(
      'the index follows the session: a new owner, a destroy, an expiry',
      ['owners'],
      async ({ client, store }) => {
        const api = store as unknown as Owners;
        const moved = sid('m');
        const destroyed = sid('d');
        const expired = sid('e');
        await client.set(moved, sess({ [OWNER]: 'alice' }));
        await client.set(moved, sess({ [OWNER]: 'carol' }));
        await client.set(destroyed, sess({ [OWNER]: 'alice' }));
        await client.destroy(destroyed);
        await client.set(expired, sess({ [OWNER]: 'alice' }, Date.now() - 1));
        assert.deepEqual(await sids(api, 'alice'), [], 'the index lists sessions that are no longer the owner’s');
        assert.deepEqual(await sids(api, 'carol'), [moved], 'the index missed an owner change');
      },
      hints,
    );
  });
}

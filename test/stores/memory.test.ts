import { describe, expect, it } from 'vitest';
import { MemoryStore } from '../../stores/memory/index.js';
import { AT_REST_MODES, conformanceIn, atRestOptions } from './helpers.js';
import { memoryRaw } from './raw.js';

// The whole suite plain, then with sessions encrypted, under hashed ids, and both (issue 17).
for (const mode of [undefined, ...AT_REST_MODES]) {
  conformanceIn(mode, {
    name: mode ? `MemoryStore (${mode.label})` : 'MemoryStore',
    test: it,
    describe,
    raw: memoryRaw,
    factory: (hints) =>
      new MemoryStore({
        ttl: hints?.ttl,
        touchAfter: hints?.touchAfter,
        disableTouch: hints?.disableTouch,
        owner: hints?.owner,
        ...atRestOptions(hints, mode),
      }),
  });
}

describe('MemoryStore specifics', () => {
  const sess = () => ({ cookie: { originalMaxAge: 60_000, expires: new Date(Date.now() + 60_000) } }) as never;

  it("evicts a session not used recently beyond max and emits 'evict'", async () => {
    const store = new MemoryStore({ max: 2 });
    const evicted: string[] = [];
    store.on('evict', (sid: string) => evicted.push(sid));
    await store.set('a', sess());
    await store.set('b', sess());
    await store.get('a'); // a is now more recent than b
    await store.set('c', sess());
    expect(evicted).toEqual(['b']);
    expect((await store.ids()).sort()).toEqual(['a', 'c']);
    await store.close();
  });

  it('keeps sessions serialized: a stored session shares no objects with the live one', async () => {
    const store = new MemoryStore();
    const live = { ...(sess() as object), cart: [1] } as never as { cart: number[] };
    await store.set('a', live as never);
    live.cart.push(2);
    expect(((await store.get('a')) as never as { cart: number[] }).cart).toEqual([1]);
    await store.close();
  });
});

/**
 * MemoryStore with many sessions (issue 13, defect 4): bulk operations must let the event loop turn (the
 * first-round store stalled it for 5.1 s in ids() and 29 s in all() with 1,000,000 sessions).
 */
import { describe, expect, it } from 'vitest';
import { MemoryStore } from '../../stores/memory/index.js';
import { worstStall } from '../stall.js';
import { HOUR, sess } from './helpers.js';

const COUNT = Number(process.env.STALL_SESSIONS ?? 200_000);

describe('MemoryStore: bulk operations over many sessions', () => {
  it(`ids(), all(), length(), prune() and clear() over ${COUNT} sessions never stall the event loop`, { timeout: 300_000 }, async () => {
    const store = new MemoryStore({ pruneIntervalMs: false });
    const live = sess(Date.now() + HOUR, { n: 1 });
    for (let i = 0; i < COUNT; i++) await store.set(`s${i}`, live);
    const stalls: Record<string, number> = {};
    const ids = await worstStall(() => store.ids());
    stalls.ids = ids.busyStallMs;
    expect(ids.result.length).toBe(COUNT);
    const all = await worstStall(() => store.all());
    stalls.all = all.busyStallMs;
    expect(Object.keys(all.result).length).toBe(COUNT);
    // Half of them expire: a touch whose cookie has already expired moves the stored expiry into the past.
    const past = sess(Date.now() - 1);
    for (let i = 0; i < COUNT; i += 2) await store.touch(`s${i}`, past);
    const length = await worstStall(() => store.length());
    stalls.length = length.busyStallMs;
    expect(length.result).toBe(COUNT / 2);
    const pruned = await worstStall(() => store.prune());
    stalls.prune = pruned.busyStallMs;
    expect(pruned.result).toBe(COUNT / 2);
    stalls.clear = (await worstStall(() => store.clear())).busyStallMs;
    expect(await store.length()).toBe(0);
    console.log(
      `[memory bulk] ${COUNT} sessions, worst event-loop stall in CPU ms: ${JSON.stringify(stalls, (_, v: unknown) => (typeof v === 'number' ? Math.round(v) : v))}`,
    );
    for (const [op, ms] of Object.entries(stalls)) expect(ms, op).toBeLessThan(250);
    await store.close();
  });
});

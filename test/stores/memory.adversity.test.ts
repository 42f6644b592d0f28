/**
 * MemoryStore with many sessions (issue 13, defect 4): bulk operations must let the event loop turn (the
 * first-round store stalled it for 5.1 s in ids() and 29 s in all() with 1,000,000 sessions).
 */
import { describe, it } from 'vitest';
import { MemoryStore } from '../../stores/memory/index.js';
import { bulkWithoutStalls } from '../stall.js';
import { HOUR, sess } from './helpers.js';

const COUNT = Number(process.env.STALL_SESSIONS ?? 200_000);

describe('MemoryStore: bulk operations over many sessions', () => {
  it(`ids(), all(), length(), prune() and clear() over ${COUNT} sessions never stall the event loop`, { timeout: 300_000 }, async () => {
    const store = new MemoryStore({ pruneIntervalMs: false });
    const live = sess(Date.now() + HOUR, { n: 1 });
    for (let i = 0; i < COUNT; i++) await store.set(`s${i}`, live);
    // Half of them expire after listing: a touch whose cookie has already expired moves the stored expiry into the past.
    const past = sess(Date.now() - 1);
    await bulkWithoutStalls('memory', store, { listed: COUNT, live: COUNT / 2, expired: COUNT / 2 }, async () => {
      for (let i = 0; i < COUNT; i += 2) await store.touch(`s${i}`, past);
    });
    await store.close();
  });
});

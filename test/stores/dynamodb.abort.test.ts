import { describe, expect, it } from 'vitest';
import { AbortSlots } from '../../stores/dynamodb/abort-slots.js';

/** Polls `check` until it is true or `ms` pass (no fixed sleep a slow machine could outrun). */
async function until(check: () => boolean, ms: number): Promise<boolean> {
  const deadline = performance.now() + ms;
  while (!check()) {
    if (performance.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 5));
  }
  return true;
}

describe('DynamoDBStore abort slots', () => {
  it('aborts a signal no sooner than the timeout after it was handed out, with a TimeoutError', async () => {
    const slots = new AbortSlots(200);
    const start = performance.now();
    const signal = slots.signal();
    let abortedAt = 0;
    signal.addEventListener('abort', () => (abortedAt = performance.now()));
    expect(signal.aborted).toBe(false);
    expect(await until(() => signal.aborted, 30_000)).toBe(true);
    expect(abortedAt - start).toBeGreaterThanOrEqual(200 - 1);
    expect((signal.reason as DOMException).name).toBe('TimeoutError');
  });

  it('shares one signal within a slot, a new one after it, and takes any number of listeners without a warning', async () => {
    const warnings: Error[] = [];
    const onWarning = (w: Error) => warnings.push(w);
    process.on('warning', onWarning);
    try {
      const slots = new AbortSlots(400); // slots of 100 ms
      const a = slots.signal();
      const start = performance.now();
      // Everything handed out before the slot could have ended is the same signal.
      let same = 0;
      while (performance.now() - start < 50) {
        if (slots.signal() === a) same++;
        else break;
      }
      expect(same).toBeGreaterThan(0);
      for (let i = 0; i < 200; i++) a.addEventListener('abort', () => {});
      // After the slot, a fresh signal (polled: the slot ends on the clock, not on a sleep).
      expect(await until(() => slots.signal() !== a, 30_000)).toBe(true);
      expect(slots.signal().aborted).toBe(false);
      expect(await until(() => a.aborted, 30_000)).toBe(true);
      await new Promise((r) => setImmediate(r));
      expect(warnings.filter((w) => /listener/i.test(w.message))).toEqual([]);
    } finally {
      process.off('warning', onWarning);
    }
  });
});

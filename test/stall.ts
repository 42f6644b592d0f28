import { monitorEventLoopDelay } from 'node:perf_hooks';

/**
 * Runs `work` while measuring how long the event loop stood still (the worst delay of a 5 ms timer), in ms. What
 * a store must keep small: every other request of the process waits that long.
 */
export async function worstStall<T>(work: () => Promise<T>): Promise<{ result: T; stallMs: number }> {
  const histogram = monitorEventLoopDelay({ resolution: 5 });
  histogram.enable();
  // The histogram counts from its first tick on: a stall before it would go unseen.
  await new Promise((resolve) => setTimeout(resolve, 20));
  try {
    const result = await work();
    // A stall shows when the histogram's timer fires late: give it the chance to fire once more.
    await new Promise((resolve) => setTimeout(resolve, 20));
    return { result, stallMs: histogram.max / 1e6 };
  } finally {
    histogram.disable();
  }
}

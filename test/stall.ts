import { monitorEventLoopDelay } from 'node:perf_hooks';

/**
 * Runs `work` while measuring how long the event loop stood still (the worst delay of a 5 ms timer), in ms. What
 * a store must keep small: every other request of the process waits that long.
 */
export async function worstStall<T>(work: () => Promise<T>): Promise<{ result: T; stallMs: number }> {
  const histogram = monitorEventLoopDelay({ resolution: 5 });
  histogram.enable();
  try {
    const result = await work();
    return { result, stallMs: histogram.max / 1e6 };
  } finally {
    histogram.disable();
  }
}

/**
 * Runs `work` while measuring how long the event loop stood still, in ms: what a store must keep small, since every
 * other request of the process waits that long.
 *
 * - `stallMs`: the longest wall-clock gap between two ticks of a 2 ms timer. It sees every kind of block (a
 *   synchronous wait on a lock included), but on a loaded machine it also counts the time the OS ran other
 *   processes instead of this one.
 * - `busyStallMs`: the same gaps counted in CPU time this process used during each (capped by the gap): what the
 *   event loop spent computing without yielding. Independent of machine load, so tests of CPU-bound bulk work
 *   assert on it; it misses blocks that sleep (a synchronous lock wait), which `stallMs` catches.
 */
export async function worstStall<T>(work: () => Promise<T>): Promise<{ result: T; stallMs: number; busyStallMs: number }> {
  let stallMs = 0;
  let busyStallMs = 0;
  let lastWall = performance.now();
  let lastCpu = cpuMs();
  let running = true;
  const tick = (): void => {
    const wall = performance.now();
    const cpu = cpuMs();
    const gap = wall - lastWall;
    stallMs = Math.max(stallMs, gap);
    busyStallMs = Math.max(busyStallMs, Math.min(gap, cpu - lastCpu));
    lastWall = wall;
    lastCpu = cpu;
    if (running) timer = setTimeout(tick, 2);
  };
  let timer = setTimeout(tick, 2);
  // Let the timer tick once before the work starts, so a stall at its very beginning is measured.
  await new Promise((resolve) => setTimeout(resolve, 20));
  try {
    const result = await work();
    // A stall shows when the timer fires late: give it the chance to fire once more.
    await new Promise((resolve) => setTimeout(resolve, 20));
    return { result, stallMs, busyStallMs };
  } finally {
    running = false;
    clearTimeout(timer);
  }
}

function cpuMs(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
}

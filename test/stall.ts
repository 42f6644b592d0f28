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

/** The bulk methods {@link bulkWithoutStalls} exercises. */
export interface BulkStore {
  ids(): Promise<string[]>;
  all(): Promise<Record<string, unknown> | unknown[]>;
  length(): Promise<number>;
  prune(): Promise<number>;
  clear(): Promise<void>;
}

/**
 * Runs `ids()`, `all()`, `length()`, `prune()` and `clear()` on a store seeded with many sessions, checks each result,
 * and asserts that none kept the event loop busy for more than 250 ms of CPU time (see {@link worstStall}).
 * `listed`: sessions `ids()`/`all()` must return; then `expire()` (if given) runs, after which `length()` must count
 * `live` and `prune()` delete `expired`.
 */
export async function bulkWithoutStalls(
  label: string,
  store: BulkStore,
  counts: { listed: number; live: number; expired: number },
  expire?: () => Promise<void>,
): Promise<void> {
  const stalls: Record<string, number> = {};
  const ids = await worstStall(() => store.ids());
  stalls.ids = ids.busyStallMs;
  if (ids.result.length !== counts.listed) throw new Error(`ids() listed ${ids.result.length}, expected ${counts.listed}`);
  const all = await worstStall(() => store.all());
  stalls.all = all.busyStallMs;
  const listed = Array.isArray(all.result) ? all.result.length : Object.keys(all.result).length;
  if (listed !== counts.listed) throw new Error(`all() listed ${listed}, expected ${counts.listed}`);
  await expire?.();
  const length = await worstStall(() => store.length());
  stalls.length = length.busyStallMs;
  if (length.result !== counts.live) throw new Error(`length() counted ${length.result}, expected ${counts.live}`);
  const pruned = await worstStall(() => store.prune());
  stalls.prune = pruned.busyStallMs;
  if (pruned.result !== counts.expired) throw new Error(`prune() deleted ${pruned.result}, expected ${counts.expired}`);
  stalls.clear = (await worstStall(() => store.clear())).busyStallMs;
  if ((await store.length()) !== 0) throw new Error('clear() left sessions behind');
  const rounded = Object.fromEntries(Object.entries(stalls).map(([op, ms]) => [op, Math.round(ms)]));
  console.log(`[${label} bulk] worst event-loop stall in CPU ms: ${JSON.stringify(rounded)}`);
  const slow = Object.entries(stalls).filter(([, ms]) => ms >= 250);
  if (slow.length > 0)
    throw new Error(`event loop kept busy ≥ 250 ms by ${slow.map(([op, ms]) => `${op} (${Math.round(ms)} ms)`).join(', ')}`);
}

import { Samples } from './stats.js';

/** What one measured cell (one contender, one workload, one round) produced. */
export interface CellResult {
  ops: number;
  opsPerSec: number;
  /** Latency percentiles in microseconds. */
  p50: number;
  p99: number;
  /**
   * This process's CPU time (user + system, `process.cpuUsage`) per operation in microseconds, refills excluded.
   * Stable under noise where throughput is not: a busy machine delays operations but hardly changes the CPU each
   * one costs. Covers the client and anything in-process (SQLite, the memory and file stores' own work), not a
   * server in another process.
   */
  cpuUsPerOp: number;
}

/** How long and how hard to drive one cell. */
export interface Drive {
  concurrency: number;
  durationMs: number;
  /** Operations the population allows before `refill` must run (destroy consumes sessions). */
  maxOps?: number;
  /**
   * Restores the population after `maxOps` operations (e.g. re-creates destroyed sessions); runs with the clock
   * stopped and the workers paused, then k starts again at 0. It may return the next phase's `maxOps` (what it
   * created). Without it, the cell ends at `maxOps`.
   */
  refill?: (ops: number) => Promise<number | void>;
  /**
   * Refill only until this much time has been measured (default: the whole duration). Refilling a fast store
   * costs several times the measured time; a shorter cell of thousands of samples is enough.
   */
  refillUntilMs?: number;
}

/**
 * Runs `op(k)` from `concurrency` workers until `durationMs` of measured time is used up, timing each call with
 * `process.hrtime.bigint()`. The first error stops the cell and is rethrown: a benchmark of failing operations
 * measures nothing.
 */
export async function measure(op: (k: number) => Promise<unknown>, drive: Drive): Promise<CellResult> {
  const samples = new Samples();
  let maxOps = drive.maxOps ?? Infinity;
  let budget = BigInt(Math.round(drive.durationMs * 1e6));
  let measured = 0n;
  let cpuUs = 0;
  let failure: unknown;
  for (;;) {
    const cpu = process.cpuUsage();
    const start = process.hrtime.bigint();
    const deadline = start + budget;
    let next = 0;
    let last = start;
    const worker = async () => {
      while (failure === undefined && next < maxOps) {
        const t0 = process.hrtime.bigint();
        if (t0 >= deadline) break;
        const k = next++;
        try {
          await op(k);
        } catch (err) {
          failure ??= err;
          break;
        }
        last = process.hrtime.bigint();
        samples.add(Number(last - t0));
      }
    };
    await Promise.all(Array.from({ length: drive.concurrency }, worker));
    if (failure !== undefined) throw failure;
    const used = process.cpuUsage(cpu);
    cpuUs += used.user + used.system;
    measured += last - start;
    budget -= last - start;
    const enough = measured >= BigInt(Math.round((drive.refillUntilMs ?? drive.durationMs) * 1e6));
    if (budget <= 0n || next < maxOps || !drive.refill || enough) break;
    maxOps = (await drive.refill(next)) ?? maxOps;
  }
  const seconds = Number(measured) / 1e9;
  const [p50, p99] = samples.percentilesUs(50, 99);
  return {
    ops: samples.count,
    opsPerSec: seconds > 0 ? samples.count / seconds : NaN,
    p50: p50!,
    p99: p99!,
    cpuUsPerOp: samples.count > 0 ? cpuUs / samples.count : NaN,
  };
}

/** Runs `op(i)` for i in [from, to) with `concurrency` workers, unmeasured (seeding, restoring). */
export async function forEachParallel(from: number, to: number, concurrency: number, op: (i: number) => Promise<unknown>): Promise<void> {
  let i = from;
  const worker = async () => {
    while (i < to) await op(i++);
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, Math.max(1, to - from)) }, worker));
}

import { readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * How busy the machine was around a run. A benchmark on a machine other programs are using measures them as much
 * as the stores: the harness records this and refuses to write the published reports when it was busy.
 */
export interface LoadRecord {
  /** `os.loadavg()` (1, 5, 15 min) when the run started. */
  before: number[];
  /** `os.loadavg()` when it ended: includes the run's own work (a run keeps about two processes busy). */
  after: number[];
  /** Cores kept busy by all processes in a quiet window before the run (the harness idle), Linux only. */
  idleBefore?: number;
  /** The same, in a quiet window after the run (its servers and apps stopped). */
  idleAfter?: number;
  /**
   * Cores used during the run by processes outside the harness's process tree (Linux only): other programs, and
   * servers the harness did not start itself (a container, a server given by URL). For the record only: such a
   * server's own work would make every run look busy.
   */
  othersDuring?: number;
  /** The threshold: busier than this (load average or cores) is a busy machine. */
  maxLoad: number;
  /** Why the machine counts as busy, if it does. */
  busy?: string;
}

/** The default threshold: 1.5 on 2 cores (0.75 per core). */
export const defaultMaxLoad = (): number => 0.75 * (os.availableParallelism?.() ?? os.cpus().length);

/** [busy, total] CPU jiffies of the whole machine, from /proc/stat; undefined off Linux. */
function machineJiffies(): [number, number] | undefined {
  try {
    const f = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!.trim().split(/\s+/).slice(1).map(Number);
    const total = f.slice(0, 8).reduce((a, x) => a + x, 0);
    const idle = f[3]! + (f[4] ?? 0);
    return [total - idle, total];
  } catch {
    return undefined;
  }
}

/** CPU jiffies used by this process and every live descendant, including their reaped children. */
function treeJiffies(): number | undefined {
  try {
    const procs = new Map<number, { ppid: number; jiffies: number }>();
    for (const name of readdirSync('/proc')) {
      if (!/^\d+$/.test(name)) continue;
      try {
        const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
        // Fields after the command (which may hold spaces and parentheses): state ppid … utime(14) stime cutime cstime.
        const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        procs.set(Number(name), { ppid: Number(f[1]), jiffies: Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]) });
      } catch {
        // exited meanwhile
      }
    }
    let sum = 0;
    for (const [pid, p] of procs) {
      for (let q: number | undefined = pid, hops = 0; q !== undefined && q > 1 && hops < 64; q = procs.get(q)?.ppid, hops++) {
        if (q === process.pid) {
          sum += p.jiffies;
          break;
        }
      }
    }
    return sum;
  } catch {
    return undefined;
  }
}

const TICKS = 100; // USER_HZ on every Linux the harness runs on

/** Cores kept busy by the whole machine during `ms` of the harness doing nothing. */
async function busyCores(ms: number): Promise<number | undefined> {
  const a = machineJiffies();
  await sleep(ms);
  const b = machineJiffies();
  if (!a || !b || b[1] === a[1]) return undefined;
  return ((b[0] - a[0]) / (b[1] - a[1])) * (os.availableParallelism?.() ?? os.cpus().length);
}

/** Watches the machine's load from {@link start} to {@link stop}. */
export class LoadMonitor {
  #record: LoadRecord;
  #machine0: [number, number] | undefined;
  #tree0: number | undefined;
  #t0 = 0;

  constructor(maxLoad = defaultMaxLoad()) {
    this.#record = { before: os.loadavg(), after: [], maxLoad };
  }

  /** Samples the machine for `quietMs` (nothing of the run started yet), then starts watching. */
  async start(quietMs: number): Promise<void> {
    this.#record.before = os.loadavg();
    if (quietMs > 0) this.#record.idleBefore = await busyCores(quietMs);
    this.#machine0 = machineJiffies();
    this.#tree0 = treeJiffies();
    this.#t0 = Date.now();
  }

  /** Stops watching; after the run's processes are gone, samples the machine for `quietMs` again. */
  async stop(quietMs: number): Promise<LoadRecord> {
    const m1 = machineJiffies();
    const t1 = treeJiffies();
    const seconds = (Date.now() - this.#t0) / 1000;
    if (this.#machine0 && m1 && this.#tree0 !== undefined && t1 !== undefined && seconds > 0) {
      const others = m1[0] - this.#machine0[0] - (t1 - this.#tree0);
      this.#record.othersDuring = Math.max(0, others / TICKS / seconds);
    }
    this.#record.after = os.loadavg();
    if (quietMs > 0) this.#record.idleAfter = await busyCores(quietMs);
    const r = this.#record;
    const why: string[] = [];
    if (r.before[0]! > r.maxLoad) why.push(`load average ${r.before[0]!.toFixed(2)} when the run started`);
    if (r.idleBefore !== undefined && r.idleBefore > r.maxLoad) why.push(`${r.idleBefore.toFixed(2)} cores busy before the run`);
    if (r.idleAfter !== undefined && r.idleAfter > r.maxLoad) why.push(`${r.idleAfter.toFixed(2)} cores busy after the run`);
    if (why.length) r.busy = `${why.join('; ')} (threshold ${r.maxLoad.toFixed(2)})`;
    return r;
  }
}

/** One line on the machine's load, for the reports. */
export function loadLine(r: LoadRecord | undefined): string {
  if (!r) return '- Load: not recorded.';
  const avg = (xs: number[]) => xs.map((x) => x.toFixed(2)).join(' / ');
  const cores = (x: number | undefined) => (x === undefined ? '–' : x.toFixed(2));
  return (
    `- Load: average (1/5/15 min) ${avg(r.before)} before, ${avg(r.after)} after (the run's own work included); ` +
    `cores busy while the harness was idle: ${cores(r.idleBefore)} before, ${cores(r.idleAfter)} after; ` +
    `other processes during the run: ${cores(r.othersDuring)} cores. ${r.busy ? `**Busy machine:** ${r.busy}.` : `Quiet (threshold ${r.maxLoad.toFixed(2)}).`}`
  );
}

import type { SessionData } from 'express-session';
import { type Backend, type Instance, type Op, type Role, call } from './contender.js';
import { type CellResult, forEachParallel, measure } from './measure.js';
import { type Size, refresh, sessionOf, sidOf, victimOf } from './payload.js';

/** Sessions one destroy phase may delete before new victims are created. */
const DESTROY_BATCH = 5_000;

/** One store-operation workload. */
export interface Workload {
  op: Op;
  size: Size;
  concurrency: number;
}

/** Sizes, rounds and durations of the store-operation benchmark. */
export interface MicroSettings {
  /** Sessions present in each contender's namespace (half ~300 B, half ~5 KB). */
  sessions: number;
  rounds: number;
  durationMs: number;
  /** Length of each cell of the unrecorded warm-up round (0: no warm-up round). */
  warmupMs: number;
  concurrencies: number[];
  sizes: Size[];
  ops: Op[];
}

/** The per-round results of one contender on one workload. */
export interface MicroRow {
  workload: Workload;
  contender: string;
  role: Role;
  rounds: CellResult[];
  /** `get`s that found nothing: must be 0, or the contender is broken or misconfigured. */
  misses: number;
}

/** A namespace no other contender, run or test uses: valid as a Redis prefix, SQL schema, Mongo database, dir. */
export function namespace(backend: string, i: number): string {
  return `bench_${backend}_${i}_${process.pid}_${Math.random().toString(36).slice(2, 7)}`;
}

/**
 * The store-operation benchmark of one backend. Every contender gets its own namespace on the same server,
 * filled with the same sessions; then, round after round, each workload is run for each contender in turn
 * (the order rotating every round), so slow drifts of the machine hit every contender alike.
 */
export async function runMicro(backend: Backend, s: MicroSettings, log: (msg: string) => void): Promise<MicroRow[]> {
  const half = Math.max(1, Math.floor(s.sessions / s.sizes.length));
  const templates: Record<Size, SessionData> = { small: sessionOf('small'), large: sessionOf('large') };
  const instances: Instance[] = [];
  try {
    for (const [i, c] of backend.contenders.entries()) {
      const t0 = Date.now();
      const inst = await c.create({ ns: namespace(backend.name, i) });
      instances.push(inst);
      for (const size of s.sizes) {
        const sess = sessionOf(size);
        await forEachParallel(0, half, 64, (k) => call(inst.store, 'set', sidOf(size, k), refresh(sess)));
      }
      log(`  seeded ${c.name}: ${half * s.sizes.length} sessions in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    }

    const workloads: Workload[] = s.sizes.flatMap((size) =>
      s.concurrencies.flatMap((concurrency) => s.ops.map((op) => ({ op, size, concurrency }))),
    );
    const rows: MicroRow[] = workloads.flatMap((workload) =>
      backend.contenders.map((c) => ({ workload, contender: c.name, role: c.role, rounds: [], misses: 0 })),
    );

    // Destroy generation per contender: every phase destroys sessions created for it (see victimOf).
    const generations = backend.contenders.map(() => 0);
    const cell = async (w: Workload, ci: number, durationMs: number): Promise<{ result: CellResult; misses: number }> => {
      const store = instances[ci]!.store;
      const sess = templates[w.size];
      let misses = 0;
      let op: (k: number) => Promise<unknown>;
      if (w.op === 'destroy') op = (k) => call(store, 'destroy', victimOf(w.size, generations[ci]!, k), sess);
      else if (w.op === 'get') {
        op = async () => {
          if (!(await call(store, 'get', sidOf(w.size, (Math.random() * half) | 0), sess))) misses++;
        };
      } else op = () => call(store, w.op, sidOf(w.size, (Math.random() * half) | 0), refresh(sess));
      // Destroy deletes victims (same sizes, never population sids), created with the clock stopped: a first batch
      // of a few per worker, then, while less than 100 ms were measured, batches four times larger (up to
      // DESTROY_BATCH: creating victims is as slow as set, and would otherwise dominate slow backends). The victims
      // a cell left are destroyed after it, so that every cell runs with the same population.
      const destroy = w.op === 'destroy';
      const cap = Math.min(half, DESTROY_BATCH);
      let batch = Math.min(cap, Math.max(64, 4 * w.concurrency));
      const victims = async () => {
        generations[ci]!++;
        const n = batch;
        await forEachParallel(0, n, 64, (k) => call(store, 'set', victimOf(w.size, generations[ci]!, k), refresh(sess)));
        batch = Math.min(cap, batch * 4);
        return n;
      };
      let phase = destroy ? await victims() : 0;
      const result = await measure(op, {
        concurrency: w.concurrency,
        durationMs,
        maxOps: destroy ? phase : undefined,
        refill: destroy ? async () => (phase = await victims()) : undefined,
        refillUntilMs: 100,
      });
      if (destroy) {
        // Every phase but the last destroyed all its victims: what is left is the last phase's tail.
        let before = 0;
        for (let size = Math.min(cap, Math.max(64, 4 * w.concurrency)); before + size < result.ops; size = Math.min(cap, size * 4))
          before += size;
        await forEachParallel(result.ops - before, phase, 64, (k) => call(store, 'destroy', victimOf(w.size, generations[ci]!, k), sess));
      }
      return { result, misses };
    };

    for (let round = s.warmupMs > 0 ? -1 : 0; round < s.rounds; round++) {
      const t0 = Date.now();
      for (const w of workloads) {
        const n = backend.contenders.length;
        for (let j = 0; j < n; j++) {
          const ci = (j + Math.max(0, round)) % n;
          const { result, misses } = await cell(w, ci, round < 0 ? s.warmupMs : s.durationMs);
          if (round < 0) continue;
          const row = rows.find((r) => r.workload === w && r.contender === backend.contenders[ci]!.name)!;
          row.rounds.push(result);
          row.misses += misses;
        }
      }
      log(`  ${round < 0 ? 'warm-up' : `round ${round + 1}/${s.rounds}`} done in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    }
    return rows;
  } finally {
    for (const inst of instances) await inst.close().catch((err) => log(`  close failed: ${(err as Error).message}`));
  }
}

/**
 * FileStore with 1,000,000 sessions on disk: get/set/touch latency (p50/p99) and throughput, and one full
 * pruning pass. Not part of the test suite (it writes ~1M files, ~4 GB of blocks, for a few minutes).
 *
 *   node --import tsx bench/file-scale.ts [--sessions 1000000] [--shard 2] [--dir /tmp/x] [--ops 20000]
 *
 * Files are created directly in FileStore's format by a pool of worker threads (much faster than going through
 * the store); 10% of them are already expired so the pruning pass has work. The directory is deleted at the end.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, rmSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { Worker } from 'node:worker_threads';
import type { SessionData } from 'express-session';
import { FileStore } from '../stores/file/index.js';
import { composeFile } from '../stores/file/format.js';
import { fileNameOf, shardOf } from '../stores/file/names.js';

const { values } = parseArgs({
  options: {
    sessions: { type: 'string', default: '1000000' },
    shard: { type: 'string', default: '0' },
    dir: { type: 'string' },
    ops: { type: 'string', default: '20000' },
    concurrency: { type: 'string', default: '32' },
    keep: { type: 'boolean', default: false },
  },
});
const SESSIONS = Number(values.sessions);
const SHARD = Number(values.shard);
const OPS = Number(values.ops);
const CONCURRENCY = Number(values.concurrency);
const dir = values.dir ?? join(tmpdir(), `file-scale-${process.pid}`);
const HOUR = 3_600_000;

const sidOf = (i: number): string => `bench${String(i).padStart(9, '0')}-Xk3_9aBcDeFgHiJkLmNo`; // 32 chars, mixed case
const bodyOf = (i: number, expires: number): string =>
  JSON.stringify({
    cookie: { originalMaxAge: HOUR, expires: new Date(expires).toISOString(), httpOnly: true, path: '/' },
    user: `user${i}`,
    roles: ['reader'],
    n: i,
  });

// Worker: writes files [from, to) with plain synchronous syscalls (creation speed is not what we measure).
const WORKER = `
const { workerData, parentPort } = require('node:worker_threads');
const { writeFileSync, mkdirSync } = require('node:fs');
const { createHash } = require('node:crypto');
const { dir, from, to, shard, now } = workerData;
const HOUR = 3600000;
for (let i = from; i < to; i++) {
  const sid = 'bench' + String(i).padStart(9, '0') + '-Xk3_9aBcDeFgHiJkLmNo';
  const expired = i % 10 === 0;
  const expires = expired ? now - 60000 : now + HOUR;
  const body = JSON.stringify({ cookie: { originalMaxAge: HOUR, expires: new Date(expires).toISOString(), httpOnly: true, path: '/' }, user: 'user' + i, roles: ['reader'], n: i });
  const text = body.slice(0, -1) + ',"__lastAccess":' + now + ',"__expires":' + expires + ',"__writtenAt":' + now + '}';
  const sub = shard ? createHash('md5').update(sid).digest('hex').slice(0, shard) : '';
  writeFileSync(sub ? dir + '/' + sub + '/' + sid + '.json' : dir + '/' + sid + '.json', text);
  if ((i - from) % 10000 === 0) parentPort.postMessage(i - from);
}
parentPort.postMessage('done');
`;

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

function report(label: string, latencies: number[], wallMs: number): void {
  const sorted = [...latencies].sort((a, b) => a - b);
  console.log(
    `${label.padEnd(34)} ${String(Math.round((latencies.length / wallMs) * 1000)).padStart(7)} ops/s   p50 ${percentile(sorted, 50).toFixed(3)} ms   p99 ${percentile(sorted, 99).toFixed(3)} ms`,
  );
}

/** Runs `op` `count` times with `parallel` in flight; returns per-op latencies and wall time. */
async function run(count: number, parallel: number, op: (i: number) => Promise<unknown>): Promise<[number[], number]> {
  const latencies: number[] = new Array(count);
  let next = 0;
  const start = performance.now();
  await Promise.all(
    Array.from({ length: parallel }, async () => {
      while (next < count) {
        const i = next++;
        const t = performance.now();
        await op(i);
        latencies[i] = performance.now() - t;
      }
    }),
  );
  return [latencies, performance.now() - start];
}

async function main(): Promise<void> {
  console.log(`df before: ${execFileSync('df', ['-h', '--output=avail,iavail', tmpdir()]).toString().split('\n')[1]?.trim()}`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  if (SHARD) for (let i = 0; i < 16 ** SHARD; i++) mkdirSync(join(dir, i.toString(16).padStart(SHARD, '0')));
  // Sanity: the worker's layout is exactly the store's.
  const probeNow = Date.now();
  const body = bodyOf(1, probeNow + HOUR);
  const template = `${body.slice(0, -1)},"__lastAccess":${probeNow},"__expires":${probeNow + HOUR},"__writtenAt":${probeNow}}`;
  const md5 = createHash('md5').update(sidOf(1)).digest('hex');
  if (
    composeFile(body, probeNow + HOUR, probeNow, true) !== template ||
    fileNameOf(sidOf(1), '.json', true).name !== `${sidOf(1)}.json` ||
    (SHARD && shardOf(sidOf(1), SHARD) !== md5.slice(0, SHARD))
  ) {
    throw new Error('the bench writer no longer matches the store layout');
  }

  const now = Date.now();
  const threads = Math.max(2, availableParallelism());
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: threads }, (_, w) => {
      const from = Math.floor((SESSIONS * w) / threads);
      const to = Math.floor((SESSIONS * (w + 1)) / threads);
      return new Promise<void>((resolve, reject) => {
        const worker = new Worker(WORKER, { eval: true, workerData: { dir, from, to, shard: SHARD, now } });
        worker.on('message', (m) => m === 'done' && resolve());
        worker.on('error', reject);
      });
    }),
  );
  const createMs = performance.now() - t0;
  console.log(
    `created ${SESSIONS} session files (shard ${SHARD || 'off'}) in ${(createMs / 1000).toFixed(1)} s with ${threads} threads; dir ${dir}`,
  );
  console.log(`df with sessions: ${execFileSync('df', ['-h', '--output=avail,iavail', tmpdir()]).toString().split('\n')[1]?.trim()}`);

  const store = new FileStore({ path: dir, reapInterval: -1, shard: SHARD || false });
  // Cold-ish: random live sids (not multiples of 10, which are expired).
  const live = (i: number): string => sidOf(((i * 7_919_777) % SESSIONS) | 1);
  const expires = (): SessionData =>
    ({ cookie: { originalMaxAge: HOUR, expires: new Date(Date.now() + HOUR), httpOnly: true, path: '/' } }) as unknown as SessionData;
  await store.get(live(0)); // directory probe outside the timings

  let [lat, wall] = await run(OPS, 1, async (i) => {
    if (!(await store.get(live(i)))) throw new Error(`missing ${live(i)}`);
  });
  report('get, sequential', lat, wall);
  [lat, wall] = await run(OPS, CONCURRENCY, (i) => store.get(live(i + OPS)));
  report(`get, ${CONCURRENCY} in flight`, lat, wall);
  [lat, wall] = await run(OPS, 1, (i) => store.set(live(i), { ...expires(), user: `u${i}`, n: i } as SessionData));
  report('set (overwrite), sequential', lat, wall);
  [lat, wall] = await run(OPS, CONCURRENCY, (i) => store.set(live(i + OPS), { ...expires(), user: `u${i}`, n: i } as SessionData));
  report(`set (overwrite), ${CONCURRENCY} in flight`, lat, wall);
  [lat, wall] = await run(OPS, 1, (i) => store.set(`new-${i}-Xk3_9aBcDeFgHiJkLmNoPq`, expires()));
  report('set (new sid), sequential', lat, wall);
  [lat, wall] = await run(OPS, 1, (i) => store.touch(live(i + 2 * OPS), expires()));
  report('touch, sequential', lat, wall);
  [lat, wall] = await run(OPS, 1, (i) => store.get(`missing-${i}`));
  report('get (miss), sequential', lat, wall);

  // Event-loop responsiveness during the full pruning pass: worst gap between 10 ms ticks.
  let worstGap = 0;
  let last = performance.now();
  const ticker = setInterval(() => {
    const t = performance.now();
    worstGap = Math.max(worstGap, t - last - 10);
    last = t;
  }, 10);
  const p0 = performance.now();
  const pruned = await store.prune();
  const pruneMs = performance.now() - p0;
  clearInterval(ticker);
  console.log(
    `prune: full pass over ${SESSIONS + OPS} files deleted ${pruned} expired in ${(pruneMs / 1000).toFixed(1)} s (${Math.round(((SESSIONS + OPS) / pruneMs) * 1000)} files/s); worst event-loop delay ${worstGap.toFixed(1)} ms`,
  );
  const l0 = performance.now();
  const length = await store.length();
  console.log(`length() = ${length} in ${((performance.now() - l0) / 1000).toFixed(1)} s`);
  await store.close();

  if (!values.keep) {
    const r0 = performance.now();
    await rm(dir, { recursive: true, force: true });
    console.log(`deleted the directory in ${((performance.now() - r0) / 1000).toFixed(1)} s`);
  }
}

main().catch((err) => {
  console.error(err);
  rmSync(dir, { recursive: true, force: true });
  process.exit(1);
});

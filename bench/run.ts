/**
 * `npm run bench`: every store side by side with the store it replaces and with its raw driver (issue 8).
 *
 *   node --import tsx bench/run.ts [--quick] [--backend memory,sqlite,file,redis,postgres,mongo,dynamodb,mysql] [--rounds N]
 *     [--sessions N] [--duration ms] [--e2e-duration s] [--no-e2e] [--no-micro] [--rss-sessions N] [--out dir] [--merge] [--docs]
 *     [--max-load L] [--force] [--ops get,touch,set,destroy] [--sizes small,large] [--concurrency 1,64]
 *
 * --ops, --sizes and --concurrency run a subset of the store-operation cells (to measure one lever quickly).
 * A full run has 7 interleaved rounds: each cell's ratio is the median of the per-round ratios ours ÷ other (same
 * round), reported with its min–max; a cell is decided when that spread lies on one side of the target. Client
 * CPU per operation (process.cpuUsage) is reported next to throughput: it hardly moves when the machine is noisy.
 *
 * The machine's load is recorded (load average before and after, cores busy in a quiet second before and after
 * the run, other processes' CPU during it). A full run on a busy machine (load average or quiet-window cores above
 * --max-load, default 0.75 per core: 1.5 on 2 cores) does not write bench/results or docs/benchmarks.md: its
 * reports go to a temp dir instead, unless --force (or an explicit --out). Quick runs (CI smoke) never refuse and
 * never fail on slowness.
 * --merge keeps the other backends of an existing results.json; --docs (old name: --readme) replaces the text
 * between `<!-- bench:start -->` and `<!-- bench:end -->` in docs/benchmarks.md with the summary (full runs of every
 * backend only).
 * Servers come from the same place as the tests' (env URL, then testcontainers, then local binaries; see
 * test/servers). Reports go to bench/results/ (quick runs: a temp dir unless --out is given).
 */
import { tmpdir } from 'node:os';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { requireServer, startSharedServer, type RunningServer } from '../test/servers/shared.js';
import { MissingServerError } from '../test/servers/types.js';
import { BACKENDS } from './contenders/index.js';
import { runE2E, type E2ESettings } from './e2e/harness.js';
import { LoadMonitor, defaultMaxLoad } from './lib/load.js';
import { describeMachine } from './lib/machine.js';
import { runMicro, type MicroSettings } from './lib/micro.js';
import { type BackendResult, type Results, misses, missText, runInfo, writeReports, backendMarkdown } from './lib/report.js';
import { measureRss } from './lib/rss.js';

const { values: args } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    backend: { type: 'string' },
    rounds: { type: 'string' },
    sessions: { type: 'string' },
    duration: { type: 'string' },
    'e2e-duration': { type: 'string' },
    'no-e2e': { type: 'boolean', default: false },
    'no-micro': { type: 'boolean', default: false },
    'rss-sessions': { type: 'string' },
    out: { type: 'string' },
    merge: { type: 'boolean', default: false },
    docs: { type: 'boolean', default: false },
    readme: { type: 'boolean', default: false },
    'max-load': { type: 'string' },
    force: { type: 'boolean', default: false },
    ops: { type: 'string' },
    sizes: { type: 'string' },
    concurrency: { type: 'string' },
  },
});

const quick = args.quick;
const num = (v: string | undefined, dflt: number) => (v === undefined ? dflt : Number(v));
const rounds = num(args.rounds, quick ? 1 : 7);
const micro: MicroSettings = {
  sessions: num(args.sessions, quick ? 1_000 : 20_000),
  rounds,
  durationMs: num(args.duration, quick ? 100 : 250),
  warmupMs: quick ? 0 : 100,
  concurrencies: args.concurrency ? args.concurrency.split(',').map(Number) : [1, 64],
  sizes: args.sizes ? (args.sizes.split(',') as MicroSettings['sizes']) : ['small', 'large'],
  ops: args.ops ? (args.ops.split(',') as MicroSettings['ops']) : ['get', 'touch', 'set', 'destroy'],
};
const e2e: E2ESettings = {
  rounds,
  durationS: num(args['e2e-duration'], quick ? 0.5 : 1.5),
  warmupS: quick ? 0 : 0.5,
  connections: quick ? 16 : 64,
  users: quick ? 50 : 1_000,
  touchAfter: 600,
};
const rssSessions = num(args['rss-sessions'], quick ? 0 : 1_000_000);
const names = args.backend ? args.backend.split(',').map((s) => s.trim()) : Object.keys(BACKENDS);
for (const n of names) if (!BACKENDS[n]) throw new Error(`unknown backend ${n}; known: ${Object.keys(BACKENDS).join(', ')}`);
const repo = fileURLToPath(new URL('..', import.meta.url));
// A subset of the cells is for measuring a lever: never written where the published reports are.
const partial = args.ops !== undefined || args.sizes !== undefined || args.concurrency !== undefined;
let out =
  args.out ?? (quick || partial ? join(tmpdir(), `session-stores-bench-${quick ? 'quick' : 'partial'}`) : join(repo, 'bench/results'));

const log = (msg: string) => console.log(msg);
const machine = describeMachine();
const results: Results = {
  generatedAt: new Date().toISOString(),
  mode: quick ? 'quick' : 'full',
  settings: { micro, e2e, rssSessions },
  machine,
  backends: [],
};
if (args.merge && existsSync(join(out, 'results.json'))) {
  const prev = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')) as Results;
  // Each kept backend keeps the settings and load of the run that measured it.
  results.backends = prev.backends.filter((b) => !names.includes(b.name)).map((b) => ({ ...b, run: b.run ?? runInfo(prev) }));
  Object.assign(machine.servers, prev.machine.servers);
}

log(`session-stores bench (${results.mode}): ${names.join(', ')} on ${machine.cpu}, ${machine.cores} cores, Node ${machine.node}`);
const monitor = new LoadMonitor(num(args['max-load'], defaultMaxLoad()));
// A quiet second before and after (not in quick runs: CI smoke must stay short).
const quietMs = quick ? 0 : 1_000;
await monitor.start(quietMs);
let failed = 0;
for (const name of names) {
  const entry = BACKENDS[name]!;
  const started = Date.now();
  const result: BackendResult = { name, server: '', sessions: micro.sessions, micro: [], e2e: [], rss: [], seconds: 0 };
  let server: RunningServer | undefined;
  log(`\n== ${name}`);
  try {
    if (entry.server) {
      try {
        server = await startSharedServer(entry.server);
      } catch (err) {
        if (err instanceof MissingServerError && !requireServer(entry.server)) {
          result.error = `no ${entry.server} server: ${err.message}`;
          log(`!!! SKIPPING ${name}: ${err.message}`);
          continue;
        }
        throw err;
      }
    }
    const backend = await (await entry.load())(server?.url);
    result.server = server ? `${backend.server} (${server.description}, ${server.source})` : backend.server;
    machine.servers[name] = result.server;
    log(`  server: ${result.server}`);
    // A slow server gets a smaller run (unless sizes were given explicitly), so that the whole bench fits its budget.
    const slow = !quick && backend.slow && args.sessions === undefined && args.rounds === undefined ? backend.slow : undefined;
    const settings: MicroSettings = slow ? { ...micro, sessions: slow.sessions, rounds: slow.rounds, warmupMs: 0 } : micro;
    result.sessions = settings.sessions;
    if (slow) {
      result.sessionsNote = `${slow.rounds} rounds, no warm-up: ${slow.why}`;
      log(`  ${slow.sessions} sessions, ${result.sessionsNote}`);
    }
    if (!args['no-micro']) result.micro = await runMicro(backend, settings, log);
    if (!args['no-e2e']) result.e2e = await runE2E(backend, server?.url, e2e, log);
    if (name === 'memory' && rssSessions > 0) {
      for (const c of backend.contenders) {
        const m = await measureRss(name, c.name, rssSessions);
        log(`  RSS with ${rssSessions} sessions, ${c.name}: ${m.rssMB.toFixed(0)} MB`);
        result.rss.push(m);
      }
    }
  } catch (err) {
    failed++;
    result.error = (err as Error).stack ?? String(err);
    log(`!!! ${name} FAILED: ${result.error}`);
  } finally {
    await server?.close().catch(() => {});
    result.seconds = (Date.now() - started) / 1000;
    results.backends.push(result);
  }
  log('');
  log(backendMarkdown(results, result));
  log(`  (${name}: ${result.seconds.toFixed(0)} s)`);
}

results.load = await monitor.stop(quietMs);
for (const b of results.backends) if (names.includes(b.name)) b.run = runInfo(results);
log(
  `\nLoad: average ${results.load.before.map((x) => x.toFixed(2)).join('/')} before, ${results.load.after.map((x) => x.toFixed(2)).join('/')} after; others during the run ${results.load.othersDuring?.toFixed(2) ?? '?'} cores`,
);
// A busy machine's figures are kept, but not where they would be published (unless asked).
const refused = !quick && !partial && results.load.busy !== undefined && !args.force && args.out === undefined;
if (refused) {
  out = join(tmpdir(), 'session-stores-bench-busy');
  log(`BUSY MACHINE (${results.load.busy}): not writing bench/results or docs/benchmarks.md (--force to write anyway).`);
}
const order = Object.keys(BACKENDS);
results.backends.sort((a, b) => order.indexOf(a.name) - order.indexOf(b.name));
// Only a full run of every backend may replace the summary in docs/benchmarks.md (`npm run bench` passes --docs).
const complete = !quick && !partial && Object.keys(BACKENDS).every((n) => results.backends.some((b) => b.name === n && !b.error));
writeReports(results, out, (args.docs || args.readme) && complete && !refused ? join(repo, 'docs/benchmarks.md') : undefined);
const missed = misses(results);
log(`\nReports in ${out}. ${missed.length} target(s) missed${missed.length ? ':' : '.'}`);
for (const m of missed) log(`  ${missText(m)}`);
process.exitCode = failed ? 1 : 0;

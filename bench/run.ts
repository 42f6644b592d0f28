/**
 * `npm run bench`: every store side by side with the store it replaces and with its raw driver (issue 8).
 *
 *   node --import tsx bench/run.ts [--quick] [--backend memory,sqlite,file,redis,postgres,mongo,mysql] [--rounds N]
 *     [--sessions N] [--duration ms] [--e2e-duration s] [--no-e2e] [--no-micro] [--rss-sessions N] [--out dir] [--merge] [--docs]
 *
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
import { describeMachine } from './lib/machine.js';
import { runMicro, type MicroSettings } from './lib/micro.js';
import { type BackendResult, type Results, misses, writeReports, backendMarkdown } from './lib/report.js';
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
  },
});

const quick = args.quick;
const num = (v: string | undefined, dflt: number) => (v === undefined ? dflt : Number(v));
const rounds = num(args.rounds, quick ? 1 : 3);
const micro: MicroSettings = {
  sessions: num(args.sessions, quick ? 1_000 : 20_000),
  rounds,
  durationMs: num(args.duration, quick ? 100 : 250),
  warmupMs: quick ? 0 : 100,
  concurrencies: [1, 64],
  sizes: ['small', 'large'],
  ops: ['get', 'touch', 'set', 'destroy'],
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
const out = args.out ?? (quick ? join(tmpdir(), 'session-stores-bench-quick') : join(repo, 'bench/results'));

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
  results.backends = prev.backends.filter((b) => !names.includes(b.name));
  Object.assign(machine.servers, prev.machine.servers);
}

log(`session-stores bench (${results.mode}): ${names.join(', ')} on ${machine.cpu}, ${machine.cores} cores, Node ${machine.node}`);
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

const order = Object.keys(BACKENDS);
results.backends.sort((a, b) => order.indexOf(a.name) - order.indexOf(b.name));
// Only a full run of every backend may replace the summary in docs/benchmarks.md (`npm run bench` passes --docs).
const complete = !quick && Object.keys(BACKENDS).every((n) => results.backends.some((b) => b.name === n && !b.error));
writeReports(results, out, (args.docs || args.readme) && complete ? join(repo, 'docs/benchmarks.md') : undefined);
const missed = misses(results);
log(`\nReports in ${out}. ${missed.length} target(s) missed${missed.length ? ':' : '.'}`);
for (const m of missed) log(`  ${m.backend}, ${m.what}: ours ÷ ${m.versus} = ${m.ratio.toFixed(2)} (target ≥ ${m.target.toFixed(2)})`);
process.exitCode = failed ? 1 : 0;

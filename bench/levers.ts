/**
 * `npm run bench:levers`: the options that make our store do only the work its incumbent does, where a cell misses
 * its target because our default does more on purpose (issue 21): leave a tombstone on logout, read the exact
 * expiry, keep an expiry index. Each backend runs our store with its defaults, our store with the lever, and the
 * incumbent, interleaved in the same rounds as `npm run bench` (same harness, same cells). Per cell: the median of
 * the paired per-round ratios to the incumbent (min–max), for the default and for the lever, so the gain and what
 * is left of the gap are measured in one run. What each lever gives up is stated next to it.
 *
 *   node --import tsx bench/levers.ts [--backend memory,file,sqlite,redis,postgres,mysql,dynamodb] [--rounds 5]
 *     [--sessions N] [--duration ms] [--docs]
 *
 * `--docs` replaces the text between `<!-- levers:start -->` and `<!-- levers:end -->` in docs/benchmarks.md.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { startSharedServer, type RunningServer } from '../test/servers/shared.js';
import { BACKENDS } from './contenders/index.js';
import type { Contender, Op } from './lib/contender.js';
import { LoadMonitor, defaultMaxLoad, loadLine } from './lib/load.js';
import { type MicroRow, type MicroSettings, runMicro } from './lib/micro.js';
import { label, sameWorkload } from './lib/report.js';
import { type PairedRatio, pairedRatio } from './lib/stats.js';

/** A lever: options of our store, the cells it is for, and what it gives up. */
interface Lever {
  options: Record<string, unknown>;
  ops: Op[];
  tradeoff: string;
}

const NO_TOMBSTONE =
  'destroy() deletes and leaves no tombstone: a request still in flight when the user logs out can write the session back (logout is not final), as with the incumbent';
const LEVERS: Record<string, Lever> = {
  memory: { options: { revocationWindowMs: false }, ops: ['destroy'], tradeoff: NO_TOMBSTONE },
  file: { options: { revocationWindowMs: false }, ops: ['destroy'], tradeoff: NO_TOMBSTONE },
  sqlite: {
    options: { expireIndex: false },
    ops: ['touch'],
    tradeoff:
      'no index on the expiry: touch and set no longer update it, and each pruning pass scans the table (as the incumbent does) instead of reading the expired rows only',
  },
  redis: {
    options: { readExpiry: false, revocationWindowMs: false },
    ops: ['get', 'set', 'destroy'],
    tradeoff: `get() reads the value alone: cookie.expires is the one last saved, not the one last touched (read anyway with touchAfter); and ${NO_TOMBSTONE}`,
  },
  postgres: { options: { revocationWindowMs: false }, ops: ['destroy'], tradeoff: NO_TOMBSTONE },
  mysql: {
    options: { expiresIndex: false, revocationWindowMs: false },
    ops: ['touch', 'set', 'destroy'],
    tradeoff: `a table created without the index on expires: touch and set no longer move its entry, and each pruning batch scans the table (as on the incumbent's table); and ${NO_TOMBSTONE}`,
  },
  dynamodb: { options: { revocationWindowMs: false }, ops: ['set', 'destroy'], tradeoff: NO_TOMBSTONE },
};

const { values: args } = parseArgs({
  options: {
    backend: { type: 'string' },
    rounds: { type: 'string' },
    sessions: { type: 'string' },
    duration: { type: 'string' },
    docs: { type: 'boolean', default: false },
  },
});
const names = (args.backend ?? Object.keys(LEVERS).join(',')).split(',');
for (const n of names) if (!LEVERS[n]) throw new Error(`no lever for ${n}; known: ${Object.keys(LEVERS).join(', ')}`);

interface Row {
  backend: string;
  cell: string;
  incumbent: string;
  ours: PairedRatio;
  lever: PairedRatio;
}

const optionsText = (o: Record<string, unknown>) =>
  Object.entries(o)
    .map(([k, v]) => `${k}: ${String(v)}`)
    .join(', ');
const ratioText = (p: PairedRatio) =>
  Number.isFinite(p.median) ? `${p.median.toFixed(2)} (${p.min.toFixed(2)}–${p.max.toFixed(2)})` : '–';

const monitor = new LoadMonitor(defaultMaxLoad());
await monitor.start(1_000);
const rows: Row[] = [];
for (const name of names) {
  const lever = LEVERS[name]!;
  const entry = BACKENDS[name]!;
  let server: RunningServer | undefined;
  try {
    if (entry.server) server = await startSharedServer(entry.server);
    const backend = await (await entry.load())(server?.url);
    const ours = backend.contenders.find((c) => c.role === 'ours')!;
    const leverName = `${ours.name}, ${optionsText(lever.options)}`;
    const withLever: Contender = { name: leverName, role: 'ours', create: (o) => ours.create({ ...o, options: lever.options }) };
    const incumbents = backend.contenders.filter((c) => c.role === 'incumbent');
    const settings: MicroSettings = {
      sessions: Number(args.sessions ?? 20_000),
      rounds: Number(args.rounds ?? 5),
      durationMs: Number(args.duration ?? 250),
      warmupMs: 100,
      concurrencies: [1, 64],
      sizes: ['small', 'large'],
      ops: lever.ops,
    };
    console.log(`== ${name}: ${ours.name} with and without ${optionsText(lever.options)}, vs ${incumbents.map((c) => c.name).join(', ')}`);
    const micro = await runMicro({ ...backend, contenders: [ours, withLever, ...incumbents] }, settings, (m) => console.log(m));
    const find = (contender: string, like: MicroRow) =>
      micro.find((r) => r.contender === contender && sameWorkload(r.workload, like.workload))!;
    const ops = (r: MicroRow) => r.rounds.map((x) => x.opsPerSec);
    for (const inc of micro.filter((r) => r.role === 'incumbent')) {
      rows.push({
        backend: name,
        cell: label(inc.workload),
        incumbent: inc.contender,
        ours: pairedRatio(ops(find(ours.name, inc)), ops(inc)),
        lever: pairedRatio(ops(find(leverName, inc)), ops(inc)),
      });
    }
  } finally {
    await server?.close();
  }
}
const load = await monitor.stop(1_000);

const lines = [
  `Ours ÷ the incumbent, with our defaults and with the lever, median of ${args.rounds ?? 5} paired rounds (min–max), each`,
  `backend in one interleaved run (\`npm run bench:levers\`). ${loadLine(load).replace(/^- /, '')}`,
  '',
  ...names.map((n) => `- **${n}**, \`${optionsText(LEVERS[n]!.options)}\`: ${LEVERS[n]!.tradeoff}.`),
  '',
  '| backend | cell | versus | ours (defaults) | ours with the lever |',
  '|---|---|---|--:|--:|',
  ...rows.map((r) => `| ${r.backend} | ${r.cell} | ${r.incumbent} | ${ratioText(r.ours)} | ${ratioText(r.lever)} |`),
];
const text = lines.join('\n');
console.log(`\n${text}`);
if (args.docs) {
  const file = new URL('../docs/benchmarks.md', import.meta.url);
  const doc = readFileSync(file, 'utf8');
  const start = '<!-- levers:start -->';
  const end = '<!-- levers:end -->';
  if (!doc.includes(start) || !doc.includes(end)) throw new Error(`docs/benchmarks.md has no ${start} … ${end} section`);
  writeFileSync(file, doc.slice(0, doc.indexOf(start) + start.length) + `\n${text}\n` + doc.slice(doc.indexOf(end)));
}

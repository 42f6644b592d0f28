import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, sep } from 'node:path';
import type { E2ERow, E2ESettings } from '../e2e/harness.js';
import type { Machine } from './machine.js';
import type { MicroRow, MicroSettings, Workload } from './micro.js';
import { SIZE_LABEL } from './payload.js';
import { type LoadRecord, loadLine } from './load.js';
import type { RssResult } from './rss.js';
import { type PairedRatio, type Verdict, fmt, geomean, median, pairedRatio, spread, verdict } from './stats.js';
import { type Group, ratioChart } from './svg.js';

/** Everything measured for one backend. */
export interface BackendResult {
  name: string;
  server: string;
  /** Sessions present per contender in the store-operation benchmark. */
  sessions: number;
  /** Why this backend ran smaller than the run's settings, if it did. */
  sessionsNote?: string;
  micro: MicroRow[];
  e2e: E2ERow[];
  rss: RssResult[];
  /** Set when the backend could not be measured (e.g. no server): the message says why. */
  error?: string;
  seconds: number;
  /**
   * The run that measured this backend: with `--merge`, results.json holds backends of several runs, and each
   * report must state its own run's settings and load, not the latest run's. Absent in results written before it
   * was recorded (then the file's top-level run is the one).
   */
  run?: RunInfo;
}

/** When and how a run measured, and how busy the machine was. */
export interface RunInfo {
  generatedAt: string;
  mode: 'full' | 'quick';
  settings: { micro: MicroSettings; e2e: E2ESettings; rssSessions: number };
  /** How busy the machine was (absent in results written before it was recorded). */
  load?: LoadRecord;
}

/** The run fields of `r` alone (to record on each backend it measured). */
export function runInfo(r: RunInfo): RunInfo {
  return { generatedAt: r.generatedAt, mode: r.mode, settings: r.settings, load: r.load };
}

/** The whole run, as written to results.json (top-level: the latest run; each backend: the run that measured it). */
export interface Results extends RunInfo {
  machine: Machine;
  backends: BackendResult[];
}

/** Per-cell targets (issue 21): every cell ≥ 1.00 × the incumbent, none below 0.80 × the raw driver. */
export const TARGETS = { incumbent: 1.0, raw: 0.8 };
/** Targets of the geometric mean over a backend's store-operation cells (issue 21). */
export const GEOMEAN_TARGETS = { incumbent: 1.25, raw: 0.9 };

/** A store-operation cell as the reports name it, e.g. `get 300 B ×64`. */
export const label = (w: Workload) => `${w.op} ${SIZE_LABEL[w.size]} ×${w.concurrency}`;
/** Whether two rows measured the same cell. */
export const sameWorkload = (a: Workload, b: Workload) => a.op === b.op && a.size === b.size && a.concurrency === b.concurrency;
const ratioText = (x: number) => (Number.isFinite(x) ? x.toFixed(2) : '–');
const spreadText = (p: PairedRatio) => (p.rounds > 1 ? `${ratioText(p.min)}–${ratioText(p.max)}` : '–');
const VERDICT: Record<Verdict, string> = { met: '✓', missed: '✗', undecided: '?' };
/** The paired ratio of one contender's rounds to ours (micro cells). */
const pairedOps = (ours: MicroRow, r: MicroRow) =>
  pairedRatio(
    ours.rounds.map((x) => x.opsPerSec),
    r.rounds.map((x) => x.opsPerSec),
  );
const pairedRps = (ours: E2ERow, r: E2ERow) =>
  pairedRatio(
    ours.rounds.map((x) => x.rps),
    r.rounds.map((x) => x.rps),
  );

/** A ratio that missed its target, for the summary. */
export interface Miss {
  backend: string;
  what: string;
  versus: string;
  /** The median of the paired per-round ratios. */
  ratio: number;
  target: number;
  /** `missed`: every round below the target; `undecided`: the median is, but the spread crosses it. */
  verdict: Verdict;
  spread: string;
}

interface Ratio {
  what: string;
  versus: string;
  role: 'incumbent' | 'raw';
  /** The median of the paired per-round ratios (ours ÷ this, same round). */
  ratio: number;
  paired: PairedRatio;
  target: number;
  verdict: Verdict;
}

/**
 * ours ÷ contender for every (workload or page) and non-ours contender: the median of the per-round ratios, its
 * spread, and the verdict against the target it must meet.
 */
function ratios(b: BackendResult): Ratio[] {
  const out: Ratio[] = [];
  const add = (what: string, versus: string, role: 'incumbent' | 'raw', paired: PairedRatio) =>
    out.push({ what, versus, role, ratio: paired.median, paired, target: TARGETS[role], verdict: verdict(paired, TARGETS[role]) });
  for (const r of b.micro) {
    if (r.role === 'ours') continue;
    const ours = b.micro.find((o) => o.role === 'ours' && sameWorkload(o.workload, r.workload));
    if (ours) add(label(r.workload), r.contender, r.role, pairedOps(ours, r));
  }
  const oursName = b.micro.find((r) => r.role === 'ours')?.contender ?? b.e2e.find((r) => r.role === 'ours')?.contender;
  for (const r of b.e2e) {
    if (r.role === 'ours') continue;
    const ours = b.e2e.find((o) => o.contender === oursName && o.page === r.page);
    if (ours) add(`e2e ${r.page} page`, r.contender, r.role, pairedRps(ours, r));
  }
  return out;
}

/** Every ratio whose median is below its target (decided or not), and every geomean below its target. */
export function misses(results: Results): Miss[] {
  const out: Miss[] = [];
  for (const b of results.backends) {
    for (const r of ratios(b)) {
      if (r.ratio >= r.target) continue;
      out.push({
        backend: b.name,
        what: r.what,
        versus: r.versus,
        ratio: r.ratio,
        target: r.target,
        verdict: r.verdict,
        spread: spreadText(r.paired),
      });
    }
  }
  for (const s of summaryRows(results)) {
    const target = GEOMEAN_TARGETS[s.role as 'incumbent' | 'raw'];
    if (target !== undefined && !(s.storeOps >= target))
      out.push({
        backend: s.backend,
        what: 'store ops geomean',
        versus: s.versus,
        ratio: s.storeOps,
        target,
        verdict: 'missed',
        spread: '–',
      });
  }
  return out;
}

/** One line per miss. */
export function missText(m: Miss): string {
  const how = m.verdict === 'undecided' ? `undecided, rounds ${m.spread}` : m.spread === '–' ? '' : `rounds ${m.spread}`;
  return `${m.backend}, ${m.what}: ours ÷ ${m.versus} = ${m.ratio.toFixed(2)} (target ≥ ${m.target.toFixed(2)}${how ? `; ${how}` : ''})`;
}

function machineLines(r: Results, run: RunInfo): string[] {
  const m = r.machine;
  const s = run.settings;
  return [
    `- Machine: ${m.cpu}, ${m.cores} cores, ${m.memoryGB} GB RAM, ${m.os}; Node ${m.node}.`,
    `- Servers: ${
      Object.entries(m.servers)
        .map(([k, v]) => `${k}: ${v}`)
        .join('; ') || '–'
    }.`,
    `- Store operations: ${s.micro.sessions.toLocaleString('en-US')} sessions present per contender (half ~300 B, half ~5 KB), ` +
      `${s.micro.rounds} interleaved rounds of ${s.micro.durationMs} ms per cell after a ${s.micro.warmupMs} ms warm-up round; ` +
      `called through the express-session callback API.`,
    `- End to end: express ${m.packages.express} + express-session ${m.packages['express-session']} (resave: false, saveUninitialized: false), ` +
      `${s.e2e.users} logged-in users, autocannon ${m.packages.autocannon} in a separate process, ${s.e2e.connections} connections, ` +
      `${s.e2e.rounds} interleaved rounds of ${s.e2e.durationS} s per page.`,
    loadLine(run.load),
    `- Mode: ${run.mode}; generated ${run.generatedAt}.`,
  ];
}

/** The markdown report of one backend. */
export function backendMarkdown(r: Results, b: BackendResult): string {
  const lines = [`# ${b.name}`, '', `Server: ${b.server}.`, '', ...machineLines(r, b.run ?? r), ''];
  if (b.sessionsNote) lines.push(`Smaller run here: ${b.sessions.toLocaleString('en-US')} sessions per contender, ${b.sessionsNote}.`, '');
  if (b.error) lines.push(`**Not measured:** ${b.error}`, '');
  if (b.micro.length) {
    lines.push(
      '## Store operations',
      '',
      '“ours ÷ this” is the median over rounds of our throughput divided by this contender’s in the same round ' +
        '(> 1: ours is faster), with the min–max of those per-round ratios; ✓ / ✗: every round met / missed the ' +
        `target (≥ ${TARGETS.incumbent.toFixed(2)} against the incumbent, ≥ ${TARGETS.raw.toFixed(2)} against the raw driver), ` +
        '?: the spread crosses it (undecided). ops/s is the median of the rounds, with min–max. CPU µs/op: this ' +
        'process’s CPU time per operation (client, plus the engine for in-process stores; not a separate server), ' +
        'median of the rounds. Latencies are medians of the per-round percentiles.',
      '',
      '| workload | contender | ops/s | min–max | CPU µs/op | ours ÷ this | rounds min–max | | p50 µs | p99 µs |',
      '|---|---|--:|--:|--:|--:|--:|:-:|--:|--:|',
    );
    for (const r of b.micro) {
      const ours = b.micro.find((o) => o.role === 'ours' && sameWorkload(o.workload, r.workload))!;
      const sp = spread(r.rounds.map((x) => x.opsPerSec));
      const paired = r.role === 'ours' ? undefined : pairedOps(ours, r);
      const mark = paired && r.role !== 'ours' ? VERDICT[verdict(paired, TARGETS[r.role])] : '';
      const miss = r.misses ? ` (${r.misses} misses!)` : '';
      lines.push(
        `| ${label(r.workload)} | ${r.role === 'ours' ? `**${r.contender}**` : r.contender}${miss} | ${fmt(sp.median)} | ${fmt(sp.min)}–${fmt(sp.max)} | ${fmt(median(r.rounds.map((x) => x.cpuUsPerOp ?? NaN)))} | ${paired ? ratioText(paired.median) : ''} | ${paired ? spreadText(paired) : ''} | ${mark} | ${fmt(median(r.rounds.map((x) => x.p50)))} | ${fmt(median(r.rounds.map((x) => x.p99)))} |`,
      );
    }
    lines.push('');
  }
  if (b.e2e.length) {
    const oursName = b.e2e.find((o) => o.role === 'ours')!.contender;
    lines.push(
      '## End to end',
      '',
      'Read page: get + touch per request. Write page: get + set. Ratios as above (paired per round). App CPU ' +
        'µs/req: the app process’s CPU time per request (express, express-session and the store’s client). RSS: the ' +
        'app process after all rounds.',
      '',
      '| page | contender | req/s | min–max | app CPU µs/req | ours ÷ this | rounds min–max | | p50 ms | p99 ms | app RSS MB |',
      '|---|---|--:|--:|--:|--:|--:|:-:|--:|--:|--:|',
    );
    for (const r of b.e2e) {
      const ours = b.e2e.find((o) => o.contender === oursName && o.page === r.page)!;
      const sp = spread(r.rounds.map((x) => x.rps));
      const paired = r === ours ? undefined : pairedRps(ours, r);
      const mark = paired && r.role !== 'ours' ? VERDICT[verdict(paired, TARGETS[r.role])] : '';
      const failed = r.rounds.reduce((a, x) => a + x.failed, 0) + r.misses;
      lines.push(
        `| ${r.page} | ${r.role === 'ours' ? `**${r.contender}**` : r.contender}${failed ? ` (${failed} failed!)` : ''} | ${fmt(sp.median)} | ${fmt(sp.min)}–${fmt(sp.max)} | ${fmt(median(r.rounds.map((x) => x.cpuUsPerReq ?? NaN)))} | ${paired ? ratioText(paired.median) : ''} | ${paired ? spreadText(paired) : ''} | ${mark} | ${fmt(median(r.rounds.map((x) => x.p50)))} | ${fmt(median(r.rounds.map((x) => x.p99)))} | ${fmt(r.rssMB)} |`,
      );
    }
    lines.push('');
  }
  if (b.rss.length) {
    lines.push(
      '## Memory with many sessions',
      '',
      '| contender | sessions | RSS MB | growth MB | heap used MB | bytes/session |',
      '|---|--:|--:|--:|--:|--:|',
    );
    for (const m of b.rss) {
      lines.push(
        `| ${m.contender} | ${m.sessions.toLocaleString('en-US')} | ${fmt(m.rssMB)} | ${fmt(m.growthMB)} | ${fmt(m.heapUsedMB)} | ${fmt((m.growthMB * 2 ** 20) / m.sessions)} |`,
      );
    }
    lines.push('');
  }
  const missed = misses({ ...r, backends: [b] });
  lines.push('## Targets', '');
  if (!missed.length) lines.push(b.micro.length || b.e2e.length ? 'All met.' : '–');
  for (const m of missed) lines.push(`- ${m.verdict === 'undecided' ? '?' : '✗'} ${missText(m)}`);
  lines.push('', `![ratios](${b.name}.svg)`, '');
  return lines.join('\n');
}

interface SummaryRow {
  backend: string;
  versus: string;
  role: string;
  storeOps: number;
  worst: number;
  /** Store-op cells decided (spread on one side of the target) out of all. */
  decided: string;
  read?: number;
  write?: number;
}

function summaryRows(r: Results): SummaryRow[] {
  const rows: SummaryRow[] = [];
  for (const b of r.backends) {
    const all = ratios(b);
    const versus = [...new Set(all.map((x) => `${x.role}\u0000${x.versus}`))];
    for (const key of versus) {
      const [role, name] = key.split('\u0000') as [string, string];
      const mine = all.filter((x) => x.versus === name);
      const cells = mine.filter((x) => !x.what.startsWith('e2e'));
      const ops = cells.map((x) => x.ratio);
      rows.push({
        backend: b.name,
        versus: name,
        role,
        storeOps: geomean(ops),
        worst: Math.min(...ops),
        decided: `${cells.filter((x) => x.verdict !== 'undecided').length}/${cells.length}`,
        read: mine.find((x) => x.what === 'e2e read page')?.ratio,
        write: mine.find((x) => x.what === 'e2e write page')?.ratio,
      });
    }
  }
  return rows;
}

/**
 * The summary: one line per backend and contender, the misses, and the machine.
 * @param chart the path of `ratios.svg` relative to the Markdown file the summary goes into
 */
export function summaryMarkdown(r: Results, chart = 'ratios.svg'): string {
  const lines = [
    '| backend | compared with | store ops: ours ÷ this (geomean) | worst store op | cells decided | e2e read page | e2e write page |',
    '|---|---|--:|--:|--:|--:|--:|',
  ];
  for (const s of summaryRows(r)) {
    lines.push(
      `| ${s.backend} | ${s.versus} (${s.role}) | ${ratioText(s.storeOps)} | ${ratioText(s.worst)} | ${s.decided} | ${ratioText(s.read ?? NaN)} | ${ratioText(s.write ?? NaN)} |`,
    );
  }
  const lazy = r.backends.flatMap((b) => {
    const ours = b.e2e.filter((x) => x.role === 'ours' && x.page === 'read');
    if (ours.length !== 2) return [];
    const gain = pairedRps(ours[1]!, ours[0]!);
    return [`${b.name} ${gain.median.toFixed(2)}× (rounds ${spreadText(gain)})`];
  });
  lines.unshift(
    'Ratios are medians over rounds of our throughput divided by the other contender’s in the same round (> 1: ours ' +
      'is faster); absolute numbers, CPU per operation and the spread of each ratio are in each backend’s report. ' +
      `Targets: every cell ≥ ${TARGETS.incumbent.toFixed(2)} against the incumbent (geomean ≥ ${GEOMEAN_TARGETS.incumbent.toFixed(2)}), ` +
      `≥ ${TARGETS.raw.toFixed(2)} against the raw driver (geomean ≥ ${GEOMEAN_TARGETS.raw.toFixed(2)}). A cell is decided ` +
      'when the min–max of its per-round ratios lies on one side of its target.',
    '',
  );
  lines.push('');
  if (lazy.length)
    lines.push(
      `With lazy touch (touchAfter ${r.settings.e2e.touchAfter} s) the read page serves ${lazy.join(', ')} the requests of the default.`,
      '',
    );
  const rss = r.backends.flatMap((b) => b.rss.map((m) => `${m.contender} ${fmt(m.rssMB)} MB`));
  if (rss.length) lines.push(`RSS with ${r.settings.rssSessions.toLocaleString('en-US')} sessions in memory: ${rss.join(', ')}.`, '');
  const missed = misses(r);
  if (missed.length) {
    lines.push('Targets missed:', '');
    for (const m of missed) lines.push(`- ${missText(m)}`);
    lines.push('');
  }
  const failed = r.backends.filter((b) => b.error);
  for (const b of failed) lines.push(`Not measured: ${b.name} (${b.error}).`, '');
  lines.push(...machineLines(r, r));
  // Backends merged in from other runs (`--merge`): each with the run that measured it.
  const others = r.backends.filter((b) => b.run && b.run.generatedAt !== r.generatedAt);
  for (const b of others) {
    const run = b.run!;
    lines.push(
      `- ${b.name} comes from another run: ${run.mode}, generated ${run.generatedAt}, ${run.settings.micro.rounds} rounds; ` +
        loadLine(run.load)
          .replace(/^- /, '')
          .replace(/^./, (c) => c.toLowerCase()),
    );
  }
  lines.push('', `![ratios](${chart})`, '');
  return lines.join('\n');
}

const SERIES = [
  { name: 'store ops vs incumbent', color: '#2b6cb0' },
  { name: 'store ops vs raw driver', color: '#9f7aea' },
  { name: 'e2e read page', color: '#38a169' },
  { name: 'e2e write page', color: '#dd6b20' },
];

function summaryChart(r: Results): string {
  const groups: Group[] = summaryRows(r).map((s) => ({
    label: `${s.backend}: ${s.versus}`,
    values: s.role === 'raw' ? [undefined, s.storeOps, s.read, s.write] : [s.storeOps, undefined, s.read, s.write],
  }));
  return ratioChart({
    title: 'session-stores: our throughput relative to each contender',
    subtitle: `${r.machine.cpu}, ${r.machine.cores} cores, Node ${r.machine.node} (${r.mode} run; store ops = geometric mean over workloads)`,
    series: SERIES,
    groups,
    refs: [
      { at: 1, label: 'parity (incumbent target)' },
      { at: TARGETS.raw, label: `raw target ${TARGETS.raw.toFixed(2)}` },
    ],
  });
}

function backendChart(b: BackendResult): string {
  const others = [...new Set(b.micro.filter((x) => x.role !== 'ours').map((x) => x.contender))];
  const palette = ['#2b6cb0', '#e53e3e', '#9f7aea', '#38a169'];
  const groups: Group[] = [];
  const all = ratios(b);
  for (const what of [...new Set(all.map((x) => x.what))]) {
    groups.push({ label: what, values: others.map((o) => all.find((x) => x.what === what && x.versus === o)?.ratio) });
  }
  return ratioChart({
    title: `${b.name}: our throughput relative to each contender`,
    subtitle: b.server,
    series: others.map((o, i) => ({ name: `vs ${o}`, color: palette[i % palette.length]! })),
    groups,
    refs: [
      { at: 1, label: 'parity' },
      { at: TARGETS.raw, label: `raw target ${TARGETS.raw.toFixed(2)}` },
    ],
  });
}

/**
 * Writes `<backend>.md`, `<backend>.svg`, `summary.md`, `ratios.svg` and `results.json` to `dir`, and, when asked,
 * replaces the text between `<!-- bench:start -->` and `<!-- bench:end -->` of `doc` (docs/benchmarks.md) with the
 * summary.
 */
export function writeReports(r: Results, dir: string, doc?: string): void {
  mkdirSync(dir, { recursive: true });
  for (const b of r.backends) {
    writeFileSync(join(dir, `${b.name}.md`), backendMarkdown(r, b));
    writeFileSync(join(dir, `${b.name}.svg`), backendChart(b));
  }
  writeFileSync(join(dir, 'summary.md'), `# Benchmark summary\n\n${summaryMarkdown(r)}`);
  writeFileSync(join(dir, 'ratios.svg'), summaryChart(r));
  writeFileSync(join(dir, 'results.json'), JSON.stringify(r, null, 1) + '\n');
  if (doc && existsSync(doc)) {
    const summary = summaryMarkdown(r, relative(dirname(doc), join(dir, 'ratios.svg')).split(sep).join('/'));
    const text = readFileSync(doc, 'utf8');
    const start = '<!-- bench:start -->';
    const end = '<!-- bench:end -->';
    const a = text.indexOf(start);
    const z = text.indexOf(end);
    if (a >= 0 && z > a) writeFileSync(doc, `${text.slice(0, a + start.length)}\n${summary}\n${text.slice(z)}`);
  }
}

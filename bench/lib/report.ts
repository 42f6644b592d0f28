import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, sep } from 'node:path';
import type { E2ERow, E2ESettings } from '../e2e/harness.js';
import type { Machine } from './machine.js';
import type { MicroRow, MicroSettings, Workload } from './micro.js';
import { SIZE_LABEL } from './payload.js';
import type { RssResult } from './rss.js';
import { fmt, geomean, median, spread } from './stats.js';
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
}

/** The whole run, as written to results.json. */
export interface Results {
  generatedAt: string;
  mode: 'full' | 'quick';
  settings: { micro: MicroSettings; e2e: E2ESettings; rssSessions: number };
  machine: Machine;
  backends: BackendResult[];
}

/** The targets of issue 8. */
export const TARGETS = { incumbent: 1.0, raw: 0.85 };

const label = (w: Workload) => `${w.op} ${SIZE_LABEL[w.size]} ×${w.concurrency}`;
const sameWorkload = (a: Workload, b: Workload) => a.op === b.op && a.size === b.size && a.concurrency === b.concurrency;
const opsOf = (r: MicroRow) => median(r.rounds.map((x) => x.opsPerSec));
const rpsOf = (r: E2ERow) => median(r.rounds.map((x) => x.rps));
const ratioText = (x: number) => (Number.isFinite(x) ? x.toFixed(2) : '–');

/** A ratio that missed its target, for the summary. */
export interface Miss {
  backend: string;
  what: string;
  versus: string;
  ratio: number;
  target: number;
}

/** ours ÷ contender for every (workload or page) and non-ours contender, with the target it must meet. */
function ratios(b: BackendResult): { what: string; versus: string; role: string; ratio: number; target: number }[] {
  const out: { what: string; versus: string; role: string; ratio: number; target: number }[] = [];
  for (const r of b.micro) {
    if (r.role === 'ours') continue;
    const ours = b.micro.find((o) => o.role === 'ours' && sameWorkload(o.workload, r.workload));
    if (!ours) continue;
    out.push({ what: label(r.workload), versus: r.contender, role: r.role, ratio: opsOf(ours) / opsOf(r), target: TARGETS[r.role] });
  }
  const oursName = b.micro.find((r) => r.role === 'ours')?.contender ?? b.e2e.find((r) => r.role === 'ours')?.contender;
  for (const r of b.e2e) {
    if (r.role === 'ours') continue;
    const ours = b.e2e.find((o) => o.contender === oursName && o.page === r.page);
    if (!ours) continue;
    out.push({ what: `e2e ${r.page} page`, versus: r.contender, role: r.role, ratio: rpsOf(ours) / rpsOf(r), target: TARGETS[r.role] });
  }
  return out;
}

/** Every ratio below its target. */
export function misses(results: Results): Miss[] {
  return results.backends.flatMap((b) =>
    ratios(b)
      .filter((r) => !(r.ratio >= r.target))
      .map((r) => ({ backend: b.name, what: r.what, versus: r.versus, ratio: r.ratio, target: r.target })),
  );
}

function machineLines(r: Results): string[] {
  const m = r.machine;
  const s = r.settings;
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
    `- Mode: ${r.mode}; generated ${r.generatedAt}.`,
  ];
}

/** The markdown report of one backend. */
export function backendMarkdown(r: Results, b: BackendResult): string {
  const lines = [`# ${b.name}`, '', `Server: ${b.server}.`, '', ...machineLines(r), ''];
  if (b.sessionsNote) lines.push(`Smaller run here: ${b.sessions.toLocaleString('en-US')} sessions per contender, ${b.sessionsNote}.`, '');
  if (b.error) lines.push(`**Not measured:** ${b.error}`, '');
  if (b.micro.length) {
    lines.push(
      '## Store operations',
      '',
      '“ours ÷ this” is our throughput divided by this contender’s (> 1: ours is faster). Targets: ≥ 1.00 against ' +
        'the incumbent, ≥ 0.85 against the raw driver. ops/s is the median of the rounds, with min–max; latencies are ' +
        'medians of the per-round percentiles.',
      '',
      '| workload | contender | ops/s | min–max | ours ÷ this | p50 µs | p99 µs |',
      '|---|---|--:|--:|--:|--:|--:|',
    );
    for (const r of b.micro) {
      const ours = b.micro.find((o) => o.role === 'ours' && sameWorkload(o.workload, r.workload))!;
      const sp = spread(r.rounds.map((x) => x.opsPerSec));
      const ratio = opsOf(ours) / sp.median;
      const target = r.role === 'ours' ? undefined : TARGETS[r.role];
      const mark = target !== undefined && !(ratio >= target) ? ' ✗' : '';
      const miss = r.misses ? ` (${r.misses} misses!)` : '';
      lines.push(
        `| ${label(r.workload)} | ${r.role === 'ours' ? `**${r.contender}**` : r.contender}${miss} | ${fmt(sp.median)} | ${fmt(sp.min)}–${fmt(sp.max)} | ${ratioText(ratio)}${mark} | ${fmt(median(r.rounds.map((x) => x.p50)))} | ${fmt(median(r.rounds.map((x) => x.p99)))} |`,
      );
    }
    lines.push('');
  }
  if (b.e2e.length) {
    const oursName = b.e2e.find((o) => o.role === 'ours')!.contender;
    lines.push(
      '## End to end',
      '',
      'Read page: get + touch per request. Write page: get + set. RSS: the app process after all rounds.',
      '',
      '| page | contender | req/s | min–max | ours ÷ this | p50 ms | p99 ms | app RSS MB |',
      '|---|---|--:|--:|--:|--:|--:|--:|',
    );
    for (const r of b.e2e) {
      const ours = b.e2e.find((o) => o.contender === oursName && o.page === r.page)!;
      const sp = spread(r.rounds.map((x) => x.rps));
      const ratio = rpsOf(ours) / sp.median;
      const target = r.role === 'ours' ? undefined : TARGETS[r.role];
      const mark = target !== undefined && !(ratio >= target) ? ' ✗' : '';
      const failed = r.rounds.reduce((a, x) => a + x.failed, 0) + r.misses;
      lines.push(
        `| ${r.page} | ${r.role === 'ours' ? `**${r.contender}**` : r.contender}${failed ? ` (${failed} failed!)` : ''} | ${fmt(sp.median)} | ${fmt(sp.min)}–${fmt(sp.max)} | ${ratioText(ratio)}${mark} | ${fmt(median(r.rounds.map((x) => x.p50)))} | ${fmt(median(r.rounds.map((x) => x.p99)))} | ${fmt(r.rssMB)} |`,
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
  const missed = ratios(b).filter((x) => !(x.ratio >= x.target));
  lines.push('## Targets', '');
  if (!missed.length) lines.push(b.micro.length || b.e2e.length ? 'All met.' : '–');
  for (const m of missed) lines.push(`- ✗ ${m.what}: ours ÷ ${m.versus} = ${m.ratio.toFixed(2)} (target ≥ ${m.target.toFixed(2)})`);
  lines.push('', `![ratios](${b.name}.svg)`, '');
  return lines.join('\n');
}

interface SummaryRow {
  backend: string;
  versus: string;
  role: string;
  storeOps: number;
  worst: number;
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
      const ops = mine.filter((x) => !x.what.startsWith('e2e')).map((x) => x.ratio);
      rows.push({
        backend: b.name,
        versus: name,
        role,
        storeOps: geomean(ops),
        worst: Math.min(...ops),
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
    '| backend | compared with | store ops: ours ÷ this (geomean) | worst store op | e2e read page | e2e write page |',
    '|---|---|--:|--:|--:|--:|',
  ];
  for (const s of summaryRows(r)) {
    lines.push(
      `| ${s.backend} | ${s.versus} (${s.role}) | ${ratioText(s.storeOps)} | ${ratioText(s.worst)} | ${ratioText(s.read ?? NaN)} | ${ratioText(s.write ?? NaN)} |`,
    );
  }
  const lazy = r.backends.flatMap((b) => {
    const ours = b.e2e.filter((x) => x.role === 'ours' && x.page === 'read');
    return ours.length === 2 ? [`${b.name} ${(rpsOf(ours[1]!) / rpsOf(ours[0]!)).toFixed(2)}×`] : [];
  });
  lines.unshift(
    'Ratios are our throughput divided by the other contender’s (> 1: ours is faster); absolute numbers are in ' +
      'each backend’s report. Targets: ≥ 1.00 against the incumbent, ≥ 0.85 against the raw driver.',
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
    for (const m of missed) lines.push(`- ${m.backend}, ${m.what}: ours ÷ ${m.versus} = ${m.ratio.toFixed(2)} (≥ ${m.target.toFixed(2)})`);
    lines.push('');
  }
  const failed = r.backends.filter((b) => b.error);
  for (const b of failed) lines.push(`Not measured: ${b.name} (${b.error}).`, '');
  lines.push(...machineLines(r), '', `![ratios](${chart})`, '');
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
      { at: 0.85, label: 'raw target 0.85' },
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
      { at: 0.85, label: 'raw target 0.85' },
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

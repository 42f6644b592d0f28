/**
 * `npm run matrix`: runs the conformance suite against every store module in test/matrix/stores (ours and the
 * popular third-party stores, each against a real server from test/servers, each in a child process of its own,
 * MATRIX_CONCURRENCY=3 at a time) and writes
 * test/matrix/results/matrix.{json,md}, plus the section of docs/conformance.md between `<!-- matrix:start -->` and
 * `<!-- matrix:end -->`. Never edit those by hand: they are this script's output.
 *
 * Exit code: 0 unless the harness itself breaks (2), or one of OUR stores is unavailable or fails a test that it
 * does not list in its knownFailures (1), or (in CI) any row is unavailable (1). Third-party test failures are
 * what the matrix reports, not errors.
 *
 *     node --import tsx test/matrix/run.ts [store-module-name …]   # names given: run only those, write nothing
 */
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync, existsSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import prettier from 'prettier';
import { loadStoreModule } from '../../conformance/load.js';
import { groupNames, oneLine, runConformance, type Report, type TestResult } from '../../conformance/runner.js';
import { SERVERS_ENV, type SharedServers } from '../servers/index.js';
import { startSharedServers } from '../servers/shared.js';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');
const resultsDir = join(here, 'results');

/** The rows, in display order: ours first. `pkg` names the npm package whose version the row shows. */
const ENTRIES: Array<{ file: string; ours: boolean; pkg: string }> = [
  { file: 'ours-memory', ours: true, pkg: 'session-stores' },
  { file: 'ours-redis', ours: true, pkg: 'session-stores' },
  { file: 'ours-mongo', ours: true, pkg: 'session-stores' },
  { file: 'ours-postgres', ours: true, pkg: 'session-stores' },
  { file: 'ours-sqlite', ours: true, pkg: 'session-stores' },
  { file: 'ours-file', ours: true, pkg: 'session-stores' },
  { file: 'ours-dynamodb', ours: true, pkg: 'session-stores' },
  { file: 'ours-mysql', ours: true, pkg: 'session-stores' },
  { file: 'express-session-memory', ours: false, pkg: 'express-session' },
  { file: 'memorystore', ours: false, pkg: 'memorystore' },
  { file: 'connect-redis', ours: false, pkg: 'connect-redis' },
  { file: 'connect-mongo', ours: false, pkg: 'connect-mongo' },
  { file: 'connect-pg-simple', ours: false, pkg: 'connect-pg-simple' },
  { file: 'better-sqlite3-session-store', ours: false, pkg: 'better-sqlite3-session-store' },
  { file: 'session-file-store', ours: false, pkg: 'session-file-store' },
  { file: 'connect-sqlite3', ours: false, pkg: 'connect-sqlite3' },
  { file: 'connect-dynamodb', ours: false, pkg: 'connect-dynamodb' },
  { file: 'express-mysql-session', ours: false, pkg: 'express-mysql-session' },
];

/** Rows that take longest: started first, so that the matrix takes about as long as the slowest of them. */
const SLOW = new Set(['connect-pg-simple', 'connect-sqlite3']);
/**
 * Rows that must not run at the same time: FerretDB (one SQLite file under the MongoDB API) serializes writes, and two
 * stores' 1,000-parallel tests at once queue each request past the suite's 30 s callback bound.
 */
const SERIAL = [['connect-mongo', 'ours-mongo']];

/** One row of the matrix. */
interface Row {
  name: string;
  ours: boolean;
  version: string;
  backend?: string;
  /** False when the module could not be loaded (store not built yet, server missing …): see `reason`. */
  available: boolean;
  reason?: string;
  /** Failures the store lists in its knownFailures (only ours may list any). */
  known: string[];
  report?: Report;
}

function versionOf(pkg: string): string {
  const file = pkg === 'session-stores' ? join(root, 'package.json') : join(root, 'node_modules', pkg, 'package.json');
  try {
    return (JSON.parse(readFileSync(file, 'utf8')) as { version: string }).version;
  } catch {
    return '?';
  }
}

const fullName = (t: TestResult): string => `${t.group}: ${t.name}`;

// Temp directories and uniqueName()s differ on every run; in failure reasons they would churn every commit.
const tmp = new RegExp(`${tmpdir().replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}/[^/\\s'"]+`, 'g');
const stable = (text: string): string => text.replace(tmp, '<tmp>').replace(/\b[a-z][a-z0-9_]*_\d+_\d+_[a-z0-9]{4}\b/g, '<name>');

/** A row's name until its module says its own. */
const labelOf = (entry: (typeof ENTRIES)[number]): string =>
  entry.ours ? `session-stores ${entry.file.replace(/^ours-/, '')}` : entry.pkg;

async function runEntry(entry: (typeof ENTRIES)[number]): Promise<Row> {
  const row: Row = { name: labelOf(entry), ours: entry.ours, version: versionOf(entry.pkg), available: false, known: [] };
  let mod;
  try {
    mod = await loadStoreModule(join(here, 'stores', `${entry.file}.ts`));
  } catch (err) {
    row.reason = oneLine(err);
    return row;
  }
  const { knownFailures = [], cleanup, ...rest } = mod;
  Object.assign(row, { name: mod.name ?? entry.file, backend: mod.backend, available: true });
  // knownFailures are not handed to the suite: the matrix shows every failure as it is, and only decides here
  // which of our failures are already known (not fatal).
  const report = await runConformance(rest);
  try {
    await cleanup?.();
  } catch (err) {
    report.uncaught.push(`cleanup(): ${oneLine(err)}`);
  }
  for (const t of report.tests) if (t.reason) t.reason = stable(t.reason);
  report.uncaught = report.uncaught.map(stable);
  const isKnown = (t: TestResult): boolean => knownFailures.some((k) => (typeof k === 'string' ? k === fullName(t) : k.test(fullName(t))));
  row.known = report.tests.filter((t) => t.status === 'failed' && isKnown(t)).map(fullName);
  row.report = report;
  return row;
}

const ci = !!process.env.CI && process.env.CI !== 'false' && process.env.CI !== '0';

/**
 * What makes the run fail: our stores must be available and pass everything they do not list as known. In CI
 * every row must be available too: a third-party row missing there means the harness (or its server) broke.
 */
function problemsOf(row: Row): string[] {
  if (!row.available && (row.ours || ci)) return [`${row.name}: not available: ${row.reason}`];
  if (!row.ours || !row.report) return [];
  const r = row.report;
  return [
    ...r.tests
      .filter((t) => t.status === 'failed' && !row.known.includes(fullName(t)))
      .map((t) => `${row.name}: ${fullName(t)}: ${t.reason}`),
    ...r.uncaught.map((u) => `${row.name}: ${u}`),
  ];
}

function cell(report: Report, group: string): string {
  const g = report.groups.find((x) => x.name === group);
  if (!g) return '';
  const run = g.passed + g.failed;
  if (run === 0) return '—';
  return g.failed ? `**${g.passed}/${run}**` : `${g.passed}/${run}`;
}

const escape = (text: string): string => text.replace(/\|/g, '\\|').replace(/</g, '&lt;');

/** Markdown: a table of groups, then per store what it ran against, what it skipped and each failure. */
function markdown(rows: Row[]): string {
  const head = ['Store', 'Version', ...groupNames(), 'Result'];
  const lines = [
    `<!-- Generated by \`npm run matrix\` (test/matrix/run.ts) on ${new Date().toISOString().slice(0, 10)}, Node ${process.version}. Do not edit. -->`,
    '',
    'Each store runs the whole conformance suite against a real server. A cell is tests passed / tests run in that',
    'group (bold: something failed); tests the store cannot take part in (a method it lacks, an option it does not',
    'have) are skipped and not counted, and `—` means the whole group was skipped.',
    '',
    `| ${head.join(' | ')} |`,
    `|${head.map((_, i) => (i < 2 ? ' --- ' : ' ---: ')).join('|')}|`,
  ];
  for (const row of rows) {
    const name = row.ours ? `**${row.name}**` : row.name;
    if (!row.report) {
      lines.push(
        `| ${name} | ${row.version} | ${groupNames()
          .map(() => '')
          .join(' | ')} | not available |`,
      );
      continue;
    }
    const r = row.report;
    const result = r.failed ? `❌ ${r.failed} failed` : '✅ all passed';
    lines.push(
      `| ${name} | ${row.version} | ${groupNames()
        .map((g) => cell(r, g))
        .join(' | ')} | ${result} |`,
    );
  }
  lines.push('', '### Details', '');
  for (const row of rows) {
    lines.push(`#### ${row.name} ${row.version}`, '');
    if (!row.report) {
      lines.push(`Not available: ${escape(row.reason ?? '')}`, '');
      continue;
    }
    const r = row.report;
    lines.push(`Ran against ${row.backend ?? 'n/a'}: ${r.passed} passed, ${r.failed} failed, ${r.skipped} skipped.`);
    // Per capability: a test that needs two missing capabilities counts for both.
    const lacks = new Map<string, number>();
    for (const t of r.tests) {
      if (t.status !== 'skipped') continue;
      for (const need of (t.reason ?? '').replace(/^store lacks: /, '').split(', ')) lacks.set(need, (lacks.get(need) ?? 0) + 1);
    }
    if (lacks.size) lines.push(`Skipped tests need: ${[...lacks].map(([need, n]) => `${need} (${n})`).join(', ')}.`);
    lines.push('');
    for (const t of r.tests) {
      if (t.status !== 'failed') continue;
      const known = row.known.includes(fullName(t)) ? ' (known)' : '';
      lines.push(`- ${t.group}: ${escape(t.name)}${known} — ${escape(t.reason ?? '')}`);
    }
    for (const u of r.uncaught) lines.push(`- thrown outside any test — ${escape(u)}`);
    if (r.failed || r.uncaught.length) lines.push('');
  }
  return `${lines.join('\n').trimEnd()}\n`;
}

async function writeResults(rows: Row[]): Promise<void> {
  mkdirSync(resultsDir, { recursive: true });
  const md = markdown(rows);
  // Formatted like every other file, so `npm run lint` passes on the committed result.
  const jsonFile = join(resultsDir, 'matrix.json');
  const options = { ...(await prettier.resolveConfig(jsonFile)), filepath: jsonFile };
  // Durations and the long list of passed tests would make every commit of the result a large, noisy diff.
  const slim = rows.map(({ report, ...row }) => {
    if (!report) return row;
    const { durationMs: _d, tests, ...counts } = report;
    return { ...row, report: { ...counts, tests: tests.filter((t) => t.status !== 'passed').map(({ durationMs: _t, ...t }) => t) } };
  });
  writeFileSync(jsonFile, await prettier.format(JSON.stringify({ node: process.version, rows: slim }), options));
  writeFileSync(join(resultsDir, 'matrix.md'), md);
  const doc = join(root, 'docs/conformance.md');
  if (!existsSync(doc)) return;
  const text = readFileSync(doc, 'utf8');
  const start = '<!-- matrix:start -->';
  const end = '<!-- matrix:end -->';
  const a = text.indexOf(start);
  const b = text.indexOf(end);
  if (a < 0 || b < a) return;
  writeFileSync(doc, `${text.slice(0, a + start.length)}\n${md}${text.slice(b)}`);
}

async function main(): Promise<number> {
  if (process.argv[2] === '--child') return child(process.argv[3]!, process.argv[4]!);
  const only = process.argv.slice(2);
  const unknown = only.filter((name) => !ENTRIES.some((e) => e.file === name));
  if (unknown.length) throw new Error(`unknown store module(s): ${unknown.join(', ')}; known: ${ENTRIES.map((e) => e.file).join(', ')}`);
  const entries = ENTRIES.filter((e) => only.length === 0 || only.includes(e.file));
  // The servers every store module uses, started once here and handed to the child processes.
  const { servers, running } = await startSharedServers();
  // Each store runs in a process of its own, MATRIX_CONCURRENCY (default 3) at a time, on the servers started here:
  // a store's stray rejections and exceptions (the runner reports those against the test running at the time)
  // cannot land in another store's report, and its leftover timers and sockets die with its process. Most of a
  // run is waiting on servers and on the suite's expiry timers; every store works in its own namespace.
  const concurrency = Math.max(1, Number(process.env.MATRIX_CONCURRENCY) || 3);
  const rows: Row[] = new Array(entries.length);
  // Rows on the same slow server run one after the other in one job; the longest jobs start first.
  const jobs: number[][] = [];
  entries.forEach((entry, i) => {
    const group = SERIAL.find((g) => g.includes(entry.file));
    const job = group && jobs.find((j) => group.includes(entries[j[0]!]!.file));
    if (job) job.push(i);
    else jobs.push([i]);
  });
  const slow = (job: number[]): number => Number(job.length > 1 || SLOW.has(entries[job[0]!]!.file));
  const queue = jobs.sort((a, b) => slow(b) - slow(a));
  const run = async (i: number): Promise<void> => {
    const entry = entries[i]!;
    const row = await runChild(entry, servers);
    const r = row.report;
    process.stderr.write(
      `${entry.file}: ${
        r
          ? `${r.passed} passed, ${r.failed} failed, ${r.skipped} skipped (${(r.durationMs / 1000).toFixed(1)} s)`
          : `not available: ${row.reason}`
      }\n`,
    );
    rows[i] = row;
  };
  const worker = async (): Promise<void> => {
    for (let job = queue.shift(); job !== undefined; job = queue.shift()) for (const i of job) await run(i);
  };
  try {
    await Promise.all(Array.from({ length: Math.min(concurrency, jobs.length) }, worker));
  } finally {
    await Promise.allSettled(running.map((s) => s.close()));
  }
  if (only.length === 0) await writeResults(rows);
  else process.stdout.write(markdown(rows));
  const problems = rows.flatMap(problemsOf);
  for (const p of problems) process.stderr.write(`MATRIX FAILS: ${p}\n`);
  return problems.length ? 1 : 0;
}

/** Runs one store module in a child process (this script with `--child`) and returns its row. */
function runChild(entry: (typeof ENTRIES)[number], servers: SharedServers): Promise<Row> {
  const out = join(tmpdir(), `session-stores-matrix-${process.pid}-${entry.file}.json`);
  return new Promise((resolve) => {
    const proc = spawn(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url), '--child', entry.file, out], {
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { ...process.env, [SERVERS_ENV]: JSON.stringify(servers) },
    });
    let stderr = '';
    proc.stderr.on('data', (chunk: Buffer) => void (stderr = (stderr + chunk.toString()).slice(-4000)));
    proc.on('close', (code, signal) => {
      try {
        resolve(JSON.parse(readFileSync(out, 'utf8')) as Row);
      } catch {
        const why = `its run ended (${signal ?? `exit code ${code}`}) without a report: ${oneLine(stderr.trim().split('\n').slice(-3).join(' '))}`;
        resolve({ name: labelOf(entry), ours: entry.ours, version: versionOf(entry.pkg), available: false, reason: why, known: [] });
      } finally {
        rmSync(out, { force: true });
      }
    });
  });
}

/** `--child <module> <out.json>`: runs one store module and writes its row. */
async function child(file: string, out: string): Promise<number> {
  const entry = ENTRIES.find((e) => e.file === file);
  if (!entry) throw new Error(`unknown store module ${file}`);
  writeFileSync(out, JSON.stringify(await runEntry(entry)));
  return 0;
}

// process.exit, not a drained loop: third-party stores leave intervals and sockets behind (the matrix reports
// their tests, not their hygiene), and the exit hooks of test/servers stop the servers this run started.
main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`matrix harness failed: ${(err as Error)?.stack ?? String(err)}\n`);
    process.exit(2);
  },
);

/**
 * `session-stores conformance <module>`: runs the conformance suite against a store module (see
 * {@link StoreModule}) without a test file, prints a report and exits 0 (all passed), 1 (a test failed) or
 * 2 (the module or the arguments are unusable).
 */
import { parseArgs } from 'node:util';
import { runStoreCommand, STORE_COMMANDS, STORE_USAGE } from '../cli/commands.js';
import { loadStoreModule, type StoreModule } from './load.js';
import { groupNames, runConformance, type Report, type TestResult } from './runner.js';

const USAGE = `usage: session-stores conformance <module> [--json] [--group basic,touch] [--bail] [--timeout ms]

<module>     path or package exporting a store factory:
               export default async function factory(hints) { return new MyStore({ ttl: hints?.ttl }) }
             optional exports: teardown(store), cleanup(), capabilities, knownFailures, name, backend
--json       print the report as JSON (progress and store logs go to stderr)
--group      run only these groups: ${groupNames().join(', ')}
--bail       stop at the first failure
--timeout    per-test timeout in ms (default 20000)
`;

/** How long handles a store left open may keep the process alive after the report. */
const GRACE_MS = 2_000;

// process.stdout and process.stderr are created on first use; when they are pipes (`| tee`, CI logs) each is a
// PipeWrap handle. Create them before the baseline so they never count as something the store left open.
void process.stdout;
void process.stderr;
/** What was open before the store module loaded: not the store's doing. */
const baseline = process.getActiveResourcesInfo();
/** Stores the factory made during the run; with none (e.g. an unknown --group), nothing can have leaked. */
let storesCreated = 0;

async function main(argv: string[]): Promise<number> {
  // `migrate` and `inspect` (cli/commands.ts) close what they open themselves.
  if ((STORE_COMMANDS as readonly string[]).includes(argv[0] ?? '')) return runStoreCommand(argv);
  let args: ReturnType<typeof parse>;
  try {
    args = parse(argv);
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n\n${USAGE}`);
    return 2;
  }
  const { values, positionals } = args;
  if (values.help) {
    process.stdout.write(`${USAGE}\n${STORE_USAGE}`);
    return 0;
  }
  if (positionals[0] !== 'conformance' || positionals.length !== 2) {
    process.stderr.write(USAGE);
    return 2;
  }
  const json = values.json === true;
  // In --json mode stdout carries only the report: a store that logs with console.log must not corrupt it.
  if (json) for (const level of ['log', 'info', 'debug'] as const) console[level] = console.error;
  const out = (text: string): void => void (json ? process.stderr : process.stdout).write(text);

  let mod: StoreModule;
  try {
    mod = await loadStoreModule(positionals[1]!);
  } catch (err) {
    process.stderr.write(`session-stores: cannot load ${positionals[1]}: ${(err as Error).message}\n`);
    return 2;
  }
  const timeoutMs = values.timeout === undefined ? undefined : Number(values.timeout);
  if (timeoutMs !== undefined && !(timeoutMs > 0)) {
    process.stderr.write(`--timeout must be a positive number of milliseconds\n`);
    return 2;
  }

  out(`session-stores conformance: ${mod.name}${mod.backend ? ` (${mod.backend})` : ''}\n\n`);
  const printer = groupPrinter(out);
  let report: Report;
  try {
    report = await runConformance({
      ...mod,
      factory: (hints) => {
        storesCreated += 1;
        return mod.factory(hints);
      },
      // Leave nothing in the user's database: each store is cleared (its namespace only) before its teardown.
      clearAfter: true,
      groups: values.group
        ?.split(',')
        .map((g) => g.trim())
        .filter(Boolean),
      bail: values.bail === true,
      timeoutMs,
      onResult: printer.add,
    });
  } catch (err) {
    process.stderr.write(`session-stores: ${(err as Error).message}\n`);
    return 2;
  } finally {
    try {
      await mod.cleanup?.();
    } catch (err) {
      process.stderr.write(`session-stores: cleanup() failed: ${(err as Error).message}\n`);
    }
  }
  printer.flush();
  if (json) process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  else out(formatSummary(report));
  return report.ok ? 0 : 1;
}

function parse(argv: string[]) {
  return parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      json: { type: 'boolean' },
      group: { type: 'string' },
      bail: { type: 'boolean' },
      timeout: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
}

/** Prints each group as soon as it is complete: a line of counts, its failures, its skips grouped by reason. */
function groupPrinter(out: (text: string) => void): { add: (result: TestResult) => void; flush: () => void } {
  let group: TestResult[] = [];
  const flush = (): void => {
    if (group.length > 0) out(formatGroup(group));
    group = [];
  };
  const add = (result: TestResult): void => {
    if (group.length > 0 && group[0]!.group !== result.group) flush();
    group.push(result);
  };
  return { add, flush };
}

function formatGroup(results: TestResult[]): string {
  const n = (status: TestResult['status']): number => results.filter((r) => r.status === status).length;
  const counts = [`${n('passed')} passed`, n('failed') && `${n('failed')} failed`, n('skipped') && `${n('skipped')} skipped`];
  const mark = n('failed') ? '✗' : n('passed') ? '✓' : '·';
  const lines = [`${mark} ${results[0]!.group.padEnd(12)} ${counts.filter(Boolean).join(', ')}`];
  for (const r of results) if (r.status === 'failed') lines.push(`    ✗ ${r.name}: ${r.reason}`);
  for (const r of results) if (r.status === 'passed' && r.knownFailure) lines.push(`    ~ ${r.name}: known failure, still failing`);
  // One line for every skip for lack of capabilities, naming them all; one line per other reason.
  const LACKS = 'store lacks: ';
  const lacking = new Set<string>();
  let lackCount = 0;
  const skips = new Map<string, number>();
  for (const r of results) {
    if (r.status !== 'skipped') continue;
    const reason = r.reason ?? '';
    if (reason.startsWith(LACKS)) {
      lackCount += 1;
      for (const need of reason.slice(LACKS.length).split(', ')) lacking.add(need);
    } else skips.set(reason, (skips.get(reason) ?? 0) + 1);
  }
  if (lackCount > 0) lines.push(`    - ${lackCount} skipped: ${LACKS}${[...lacking].join(', ')}`);
  for (const [reason, count] of skips) lines.push(`    - ${count} skipped: ${reason}`);
  return `${lines.join('\n')}\n`;
}

function formatSummary(report: Report): string {
  const lines = [''];
  for (const u of report.uncaught) lines.push(`✗ thrown outside any test: ${u}`);
  if (report.bailed) lines.push('stopped at the first failure (--bail)');
  lines.push(
    `${report.ok ? 'PASS' : 'FAIL'} ${report.name}: ${report.passed} passed, ${report.failed} failed, ${report.skipped} skipped ` +
      `of ${report.total} tests (${(report.durationMs / 1000).toFixed(1)} s)`,
  );
  return `${lines.join('\n')}\n`;
}

/**
 * Exits once the handles the store module opened are closed, or after a grace period, saying what was still
 * open: a store that leaks a socket or an interval must not hang a CI job. Only the store module's handles count:
 * what was open before it loaded (stdio) is excluded, and the suite's own HTTP servers and their connections are
 * closed by the runner before it returns. Exiting explicitly (rather than letting the loop drain) also keeps
 * native drivers' finalizers from running at teardown, which can abort the process (sqlite3 does, after a store
 * was left mid-statement).
 */
async function finish(code: number): Promise<void> {
  const leftover = (): string[] => {
    if (storesCreated === 0) return [];
    const open = process.getActiveResourcesInfo();
    for (const r of baseline) {
      const i = open.indexOf(r);
      if (i >= 0) open.splice(i, 1);
    }
    return open;
  };
  const deadline = Date.now() + GRACE_MS;
  while (leftover().length > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
  const open = leftover();
  if (open.length > 0) {
    process.stderr.write(
      `session-stores: the store left handles open after the run (${summarize(open)}); exiting anyway. ` +
        `Close clients in the module's teardown() or cleanup().\n`,
    );
  }
  process.exit(code);
}

function summarize(resources: string[]): string {
  const counts = new Map<string, number>();
  for (const r of [...resources].sort()) counts.set(r, (counts.get(r) ?? 0) + 1);
  return [...counts].map(([r, c]) => (c > 1 ? `${r} ×${c}` : r)).join(', ') || 'unknown';
}

main(process.argv.slice(2)).then(
  (code) => finish(code),
  (err: unknown) => {
    process.stderr.write(`session-stores: ${(err as Error)?.stack ?? String(err)}\n`);
    void finish(2);
  },
);

/**
 * `session-stores migrate` and `session-stores inspect`, dispatched from the `session-stores` command
 * (conformance/cli.ts). Exit codes: 0 done (migrate: verification passed), 1 migrate verification failed or
 * operations failed, 2 unusable arguments or a store that cannot be opened.
 */
import { createHash } from 'node:crypto';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { formatInspect, inspect } from './inspect.js';
import { migrate, type MigrateReport } from './migrate.js';
import { duration } from './progress.js';
import { openStoreUrl, type OpenedStore } from './urls.js';

/** The commands this module runs. */
export const STORE_COMMANDS = ['migrate', 'inspect'] as const;

export const STORE_USAGE = `usage: session-stores migrate --from <store> --to <store> [options]
       session-stores inspect <store> [--owner path] [--top n] [--json]

<store>   redis://host:6379?prefix=sess:   rediss://…   redis://h1:7000,h2:7001 (cluster)
          postgres://user@host/db?table=session&schema=public
          mongodb://host/db?collection=sessions
          sqlite:./sessions.db?table=sessions   file:./sessions   memory:
          ./my-store.mjs (a module exporting a store factory, any express-session store)
          every URL also takes ?ttl=<seconds> and ?owner=<property path>

migrate   copies every unexpired session with its remaining expiry, then verifies the target
  --dry-run            read the source only: counts and sizes
  --since <when>       catch-up pass: only sessions written since <when>: an ISO time, epoch ms,
                       a duration ago (30s, 15m, 2h, 1d) or "last" (the start of the last completed run)
  --delete-source      after a verification that passed, delete the copied sessions from the source
  --journal <file>     what was copied, for re-runs (default .session-stores-migrate/<hash of from+to>.jsonl)
  --no-journal         keep no journal (re-runs cannot then delete what the source deleted)
  --batch-size <n>     sessions per batch (default 500)
  --concurrency <n>    store operations in flight (default 32)
  --verify-sample <n>  sessions compared byte for byte at the end (default 100)
  --json               print the report as JSON (progress goes to stderr)
inspect   count, sizes, expiry histogram, largest sessions, owners
  --owner <path>       session property naming its owner (default: the URL's ?owner=)
  --top <n>            largest sessions and busiest owners to list (default 10)
  --json               print the report as JSON
`;

/** Runs `migrate` or `inspect` with `argv` (starting with the command); resolves the exit code. */
export async function runStoreCommand(argv: string[]): Promise<number> {
  const command = argv[0];
  try {
    if (command === 'migrate') return await migrateCommand(argv.slice(1));
    if (command === 'inspect') return await inspectCommand(argv.slice(1));
  } catch (err) {
    process.stderr.write(`session-stores ${command}: ${(err as Error)?.message ?? String(err)}\n`);
    return 2;
  }
  process.stderr.write(STORE_USAGE);
  return 2;
}

class UsageError extends Error {}

async function migrateCommand(argv: string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        from: { type: 'string' },
        to: { type: 'string' },
        'dry-run': { type: 'boolean' },
        since: { type: 'string' },
        'delete-source': { type: 'boolean' },
        journal: { type: 'string' },
        'no-journal': { type: 'boolean' },
        'batch-size': { type: 'string' },
        concurrency: { type: 'string' },
        'verify-sample': { type: 'string' },
        'progress-interval': { type: 'string' },
        json: { type: 'boolean' },
      },
    }));
    if (!values.from || !values.to) throw new UsageError('--from and --to are required');
    if (values.from === values.to) throw new UsageError('--from and --to name the same store');
    if (values['dry-run'] && values['delete-source']) throw new UsageError('--dry-run and --delete-source exclude each other');
  } catch (err) {
    process.stderr.write(`session-stores migrate: ${(err as Error).message}\n\n${STORE_USAGE}`);
    return 2;
  }
  const since = values.since === undefined ? undefined : parseSince(values.since);
  const journal = values['no-journal'] ? null : resolve(values.journal ?? defaultJournal(values.from, values.to));
  const json = values.json === true;
  if (json) for (const level of ['log', 'info', 'debug'] as const) console[level] = console.error;

  const from = await openStoreUrl(values.from);
  let to: OpenedStore;
  try {
    to = await openStoreUrl(values.to, { create: values['dry-run'] !== true });
  } catch (err) {
    await from.close();
    throw err;
  }
  try {
    process.stderr.write(`migrate: from ${from.description}\n         to   ${to.description}\n`);
    const report = await migrate({
      from: from.store,
      to: to.store,
      fromName: from.description,
      toName: to.description,
      dryRun: values['dry-run'] === true,
      since,
      deleteSource: values['delete-source'] === true,
      journal,
      batchSize: positive(values['batch-size'], '--batch-size'),
      concurrency: positive(values.concurrency, '--concurrency'),
      verifySample: positive(values['verify-sample'], '--verify-sample', true),
      progress: process.stderr,
      progressIntervalMs: positive(values['progress-interval'], '--progress-interval'),
    });
    process.stdout.write(json ? `${JSON.stringify(report, null, 2)}\n` : formatMigrate(report, journal));
    return report.ok ? 0 : 1;
  } finally {
    await Promise.allSettled([from.close(), to.close()]);
  }
}

async function inspectCommand(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: { owner: { type: 'string' }, top: { type: 'string' }, json: { type: 'boolean' } },
    });
    if (parsed.positionals.length !== 1) throw new UsageError('inspect takes one store');
  } catch (err) {
    process.stderr.write(`session-stores inspect: ${(err as Error).message}\n\n${STORE_USAGE}`);
    return 2;
  }
  const { values, positionals } = parsed;
  const spec = positionals[0]!;
  const json = values.json === true;
  if (json) for (const level of ['log', 'info', 'debug'] as const) console[level] = console.error;
  const owner = values.owner ?? ownerParam(spec);
  const opened = await openStoreUrl(spec);
  try {
    const report = await inspect(opened.store, { owner, top: positive(values.top, '--top', true), progress: process.stderr });
    process.stdout.write(
      json ? `${JSON.stringify({ store: opened.description, ...report }, null, 2)}\n` : formatInspect(opened.description, report),
    );
    return 0;
  } finally {
    await opened.close();
  }
}

/** The `?owner=` of a store URL, if any. */
function ownerParam(spec: string): string | undefined {
  const q = spec.indexOf('?');
  return q < 0 ? undefined : (new URLSearchParams(spec.slice(q + 1)).get('owner') ?? undefined);
}

function positive(value: string | undefined, name: string, zero = false): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < (zero ? 0 : 1)) throw new UsageError(`${name} must be a ${zero ? 'non-negative' : 'positive'} integer`);
  return n;
}

/**
 * `--since`: `last`, an ISO time, epoch ms, or a duration ago (`90s`, `15m`, `2h`, `1d`).
 * @throws Error for anything else
 */
export function parseSince(text: string, now = Date.now()): number | 'last' {
  if (text === 'last') return 'last';
  const ago = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/.exec(text);
  if (ago) {
    const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[ago[2] as 'ms' | 's' | 'm' | 'h' | 'd'];
    return now - Number(ago[1]) * unit;
  }
  if (/^\d+$/.test(text)) return Number(text);
  const t = Date.parse(text);
  if (Number.isNaN(t)) throw new Error(`--since: not a time, a duration (15m) or "last": ${text}`);
  return t;
}

/** The default journal: per pair of stores, in the working directory, named by a hash (URLs may hold passwords). */
function defaultJournal(from: string, to: string): string {
  const hash = createHash('sha256').update(`${from}\n${to}`).digest('hex').slice(0, 16);
  return `.session-stores-migrate/${hash}.jsonl`;
}

function formatMigrate(r: MigrateReport, journal: string | null): string {
  const n = (x: number): string => x.toLocaleString('en-US');
  const lines = [
    `${r.dryRun ? 'dry run: ' : ''}${n(r.listed)} listed, ${n(r.live)} unexpired (${n(r.bytes)} bytes) in ${duration(r.durationMs)} (${n(Math.round(r.rate))} sessions/s)`,
    `  ${r.dryRun ? 'would copy' : 'copied'} ${n(r.copied)}, unchanged ${n(r.unchanged)}, already equal ${n(r.alreadyEqual)}, ` +
      `kept newer in target ${n(r.keptTarget)}, not re-created ${n(r.notRecreated)}`,
    `  gone during the run ${n(r.gone)}, ${r.dryRun ? 'would delete' : 'deleted'} from target ${n(r.deletedFromTarget)}` +
      `${r.skippedSince ? `, skipped (--since) ${n(r.skippedSince)}` : ''}${r.renewed ? `, renewed ${n(r.renewed)}` : ''}` +
      `${r.deletedFromSource ? `, deleted from source ${n(r.deletedFromSource)}` : ''}`,
  ];
  if (r.errors) lines.push(`  ${n(r.errors)} errors, e.g. ${r.errorSamples.join('; ')}`);
  const v = r.verification;
  if (v) {
    lines.push(
      `verification ${v.ok ? 'passed' : 'FAILED'}: ${n(v.expected - v.missing)} of ${n(v.expected)} sessions in the target` +
        `${v.missing ? ` (missing: ${v.missingSample.join(', ')})` : ''}; source holds ${v.sourceCount ?? '?'}, target ${v.targetCount ?? '?'}`,
      `  ${n(v.sampled)} sampled, ${n(v.mismatched)} differ${v.mismatched ? ` (${v.mismatchSample.join(', ')})` : ''}` +
        `${v.changedSinceCopy ? `, ${n(v.changedSinceCopy)} changed in the source since copied (run again to catch up)` : ''}`,
    );
  }
  if (journal && !r.dryRun) lines.push(`journal: ${journal}`);
  return `${lines.join('\n')}\n`;
}

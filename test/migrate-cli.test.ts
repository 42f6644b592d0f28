/**
 * `session-stores migrate` and `session-stores inspect` as users run them: child processes on store URLs and
 * store modules, checked by exit code and output; a migration killed half-way and run again.
 */
import { execFile, spawn } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { InspectReport } from '../cli/inspect.js';
import type { MigrateReport } from '../cli/migrate.js';
import { call } from '../cli/store-api.js';
import { contents, seed, sessions, migrateFixture, withParams } from './migrate-helpers.js';
import { uniqueName } from './servers/index.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const { dir, url, open } = await migrateFixture();

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the command with stdout and stderr piped (not a TTY: plain progress lines). */
function cli(args: string[], env: Record<string, string> = {}): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', 'conformance/cli.ts', ...args],
      { cwd: root, timeout: 120_000, env: { ...process.env, ...env }, maxBuffer: 64 * 1024 * 1024 },
      (err, stdout, stderr) => resolve({ code: err ? Number((err as { code?: unknown }).code ?? -1) : 0, stdout, stderr }),
    );
  });
}

describe.skipIf(!url('sqlite'))('session-stores inspect', () => {
  it('counts, sizes, an expiry histogram, the largest sessions and the owners; --json', async () => {
    const spec = withParams(url('sqlite')!, { owner: 'user' });
    const store = await open(spec);
    const items = sessions(30, (i) => (i < 10 ? 30_000 : i < 29 ? 3 * 3_600_000 : null));
    (items[5]![1] as unknown as Record<string, unknown>).big = 'x'.repeat(5000);
    await seed(store.store, items);

    const text = await cli(['inspect', spec]);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/sessions +30\n/);
    expect(text.stdout).toMatch(/< 1 min │█+ 10\n/);
    expect(text.stdout).toMatch(/< 6 h │█+ 19\n/);
    expect(text.stdout).toMatch(/no expiry │█+ 1\n/);
    expect(text.stdout).toContain(`${items[5]![0].slice(0, 8)}…`);
    expect(text.stdout).not.toContain(items[5]![0]); // sids are shortened
    expect(text.stdout).toMatch(/owners \(user\): 7 distinct, 0 sessions without one/);
    expect(text.stdout).toMatch(/user0 +5 sessions, 5 in the owner index/);

    const json = await cli(['inspect', spec, '--json', '--top', '3']);
    expect(json.code).toBe(0);
    const report = JSON.parse(json.stdout) as InspectReport;
    expect(report).toMatchObject({ listing: 'ids', listed: 30, count: 30, length: 30, expired: { returned: 0, listedNotReadable: 0 } });
    expect(report.expiry.buckets.reduce((a, b) => a + b.count, 0) + report.expiry.noExpiry).toBe(30);
    expect(report.largest).toHaveLength(3);
    expect(report.largest[0]!.bytes).toBeGreaterThan(5000);
    expect(report.bytes.max).toBe(report.largest[0]!.bytes);
    expect(report.bytes.p50).toBeLessThan(report.bytes.p99);
    expect(report.owners!.top[0]).toEqual({ owner: 'user0', sessions: 5, indexed: 5 });
  });

  it('exits 2 with a message for a store it cannot open or list', async () => {
    const bad = await cli(['inspect', 'redis://127.0.0.1:6379?nope=1']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('unknown parameter ?nope=');
    const missing = await cli(['inspect', './no-such-store.mjs']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('no-such-store.mjs');
    expect((await cli(['inspect'])).code).toBe(2);
  });
});

describe.skipIf(!url('sqlite') || !url('redis'))('session-stores migrate', () => {
  it('copies, prints plain progress lines when not on a TTY, verifies, exits 0; --json is the report', async () => {
    const from = url('sqlite')!;
    const to = url('redis')!;
    const source = await open(from);
    await seed(source.store, sessions(300));
    const journal = join(dir, `${uniqueName('j')}.jsonl`);
    const run = await cli(['migrate', '--from', from, '--to', to, '--journal', journal, '--batch-size', '50', '--progress-interval', '1']);
    expect(run.code).toBe(0);
    expect(run.stderr).toMatch(/^migrate: \d+% [\d,]+\/300 [\d,]+ sessions\/s ETA \S+$/m);
    expect(run.stderr).toMatch(/^migrate: 100% 300\/300 /m);
    expect(run.stdout).toContain('copied 300');
    expect(run.stdout).toContain('verification passed: 300 of 300 sessions in the target');
    expect(run.stdout).toContain(`journal: ${journal}`);

    const again = await cli(['migrate', '--from', from, '--to', to, '--journal', journal, '--json']);
    expect(again.code).toBe(0);
    const report = JSON.parse(again.stdout) as MigrateReport;
    expect(report).toMatchObject({ ok: true, copied: 0, unchanged: 300, verification: { ok: true, expected: 300, missing: 0 } });
  });

  it('--dry-run prints counts and sizes and writes nothing', async () => {
    const from = url('sqlite')!;
    const to = url('redis')!;
    const source = await open(from);
    await seed(source.store, sessions(20));
    const run = await cli(['migrate', '--from', from, '--to', to, '--dry-run', '--no-journal']);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^dry run: 20 listed, 20 unexpired \([\d,]+ bytes\)/);
    expect(run.stdout).toContain('would copy 20');
    const target = await open(to);
    expect(await call(target.store, 'length')).toBe(0);
  });

  it('exits 1 when verification fails (a target that forgets what it is given)', async () => {
    const from = url('sqlite')!;
    const source = await open(from);
    await seed(source.store, sessions(5));
    const run = await cli(['migrate', '--from', from, '--to', 'test/matrix/fixtures/forgetful-store.mjs', '--no-journal']);
    expect(run.code).toBe(1);
    expect(run.stdout).toContain('verification FAILED');
  });

  it('exits 2 for unusable arguments', async () => {
    expect((await cli(['migrate', '--from', url('sqlite')!])).code).toBe(2);
    const bad = await cli(['migrate', '--from', url('sqlite')!, '--to', 'postgres://x?table=a&table=b']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('?table= given twice');
    expect((await cli(['migrate', '--from', 'memory:', '--to', 'memory:'])).code).toBe(2);
    expect((await cli(['migrate', '--from', url('sqlite')!, '--to', url('redis')!, '--since', 'yesterday-ish'])).code).toBe(2);
  });

  it('killed half-way and run again: converges, nothing duplicated or resurrected', { timeout: 180_000 }, async () => {
    const from = url('sqlite')!;
    const to = url('redis')!;
    const journal = join(dir, `${uniqueName('j')}.jsonl`);
    const source = await open(from);
    const items = sessions(2000);
    await seed(source.store, items);

    // The target stops answering after 1,050 writes: ten batches of 100 done, the eleventh half-way.
    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        'conformance/cli.ts',
        'migrate',
        '--from',
        from,
        '--to',
        'test/fixtures/stalling-store.ts',
        '--journal',
        journal,
        '--batch-size',
        '100',
      ],
      {
        cwd: root,
        env: { ...process.env, STALL_STORE_URL: to, STALL_METHOD: 'set', STALL_AFTER: '1050' },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let stderr = '';
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    await new Promise<void>((resolve, reject) => {
      child.stderr.on('data', (chunk: Buffer) => {
        stderr += chunk.toString();
        if (stderr.includes('STALLED')) resolve();
      });
      void exited.then(() => reject(new Error(`exited before stalling: ${stderr}`)));
    });
    child.kill('SIGKILL');
    await exited;
    const target = await open(to);
    // Ten batches committed; of the eleventh, what reached Redis before the kill.
    const copied = (await call<number>(target.store, 'length')) ?? 0;
    expect(copied).toBeGreaterThanOrEqual(1000);
    expect(copied).toBeLessThanOrEqual(1050);

    // Meanwhile the application logs users out (copied ones, and ones of the interrupted batch) and in.
    const destroyed = [...items.slice(0, 10), ...items.slice(1000, 1010)].map(([sid]) => sid);
    let inTarget = 0;
    for (const sid of destroyed) if (await call(target.store, 'get', sid)) inTarget += 1;
    expect(inTarget).toBeGreaterThanOrEqual(10);
    for (const sid of destroyed) await call(source.store, 'destroy', sid);
    await seed(source.store, sessions(7));

    const run = await cli(['migrate', '--from', from, '--to', to, '--journal', journal, '--json']);
    expect(run.code, run.stderr).toBe(0);
    const report = JSON.parse(run.stdout) as MigrateReport;
    expect(report).toMatchObject({ ok: true, listed: 2000 - 20 + 7, deletedFromTarget: inTarget });
    // The ten committed batches (in the source's listing order), less the logouts among them, are not even read
    // from the target; every other session is written or found already there.
    expect(report.unchanged).toBeGreaterThanOrEqual(980);
    expect(report.unchanged).toBeLessThanOrEqual(1000);
    expect(report.unchanged + report.alreadyEqual + report.copied).toBe(report.listed);
    expect(await contents(target.store)).toEqual(await contents(source.store));
    for (const sid of destroyed) expect(await call(target.store, 'get', sid)).toBeFalsy();
  });
});

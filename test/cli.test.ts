/**
 * The `session-stores conformance` command, run as users run it: a child process on a store module, checked by
 * exit code and output. Runs the TypeScript source through tsx (dist/cli.js is the same code, bundled).
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { groupNames, type Report } from '../conformance/runner.js';

const root = fileURLToPath(new URL('..', import.meta.url));

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the CLI with stdout and stderr piped, as under `| tee` or in a CI log. */
function cli(...args: string[]): Promise<Run> {
  return cliWith({}, ...args);
}

function cliWith(env: Record<string, string>, ...args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', 'conformance/cli.ts', ...args],
      { cwd: root, timeout: 60_000, env: { ...process.env, ...env } },
      (err, stdout, stderr) => resolve({ code: err ? Number((err as { code?: unknown }).code ?? -1) : 0, stdout, stderr }),
    );
  });
}

const LEAK = 'left handles open';

describe('session-stores conformance <module>', () => {
  it('passes our MemoryStore: exit 0, a line per group, skips with the missing capability', async () => {
    const { code, stdout } = await cli('conformance', 'test/matrix/stores/ours-memory.ts');
    expect(code).toBe(0);
    expect(stdout).toContain('session-stores conformance: session-stores MemoryStore');
    expect(stdout).toMatch(/✓ basic +8 passed/);
    expect(stdout).toContain('skipped: store lacks: namespaces');
    expect(stdout).toMatch(/PASS session-stores MemoryStore: \d+ passed, 0 failed, \d+ skipped of \d+ tests/);
  });

  it("runs the atRest group through the module's `raw` export", async () => {
    const { code, stdout } = await cli('conformance', 'test/matrix/stores/ours-memory.ts', '--group', 'atRest', '--json');
    expect(code).toBe(0);
    const report = JSON.parse(stdout) as Report;
    const atRest = report.tests.filter((t) => t.group === 'atRest');
    expect(atRest.filter((t) => t.status === 'passed').length).toBeGreaterThanOrEqual(4);
    // MemoryStore has no namespaces: only the test that needs them is skipped, none for want of a raw view.
    expect(atRest.filter((t) => t.status === 'skipped').map((t) => t.reason)).toEqual([expect.stringContaining('namespaces')]);
  });

  it("reports express-session's MemoryStore failures by name and reason, exit 1; --json is the report", async () => {
    const { code, stdout } = await cli('conformance', 'test/matrix/stores/express-session-memory.ts', '--json');
    expect(code).toBe(1);
    const report = JSON.parse(stdout) as Report; // nothing but the report on stdout
    expect(report).toMatchObject({ name: 'express-session MemoryStore', ok: false, bailed: false, uncaught: [] });
    expect(report.total).toBe(report.passed + report.failed + report.skipped);
    expect(report.groups.map((g) => g.name)).toEqual(groupNames());
    expect(report.tests).toContainEqual(
      expect.objectContaining({
        group: 'payloads',
        name: 'a circular session fails cleanly',
        status: 'failed',
        reason: expect.stringContaining('threw synchronously'),
      }),
    );
    // Declared capabilities (ttlOption: false) skip at registration, detected ones (no close()) at run time.
    expect(report.tests).toContainEqual(expect.objectContaining({ group: 'expiry', status: 'skipped', reason: 'store lacks: ttlOption' }));
    expect(report.tests).toContainEqual(
      expect.objectContaining({ group: 'lifecycle', status: 'skipped', reason: expect.stringContaining('close') }),
    );
  });

  it('runs a CommonJS module written as memorystore’s README says, only the groups asked for', async () => {
    const { code, stdout } = await cli('conformance', 'test/matrix/fixtures/memorystore-readme.cjs', '--group', 'basic,payloads');
    expect(code).toBe(0);
    expect(stdout).toMatch(/✓ basic +8 passed\n✓ payloads +7 passed\n/);
    expect(stdout).not.toContain('expiry');
  });

  it('names what a broken store does wrong, exits 1, and exits even though the module leaks a timer', async () => {
    const { code, stdout, stderr } = await cli('conformance', 'test/matrix/fixtures/forgetful-store.mjs', '--group', 'basic');
    expect(code).toBe(1);
    expect(stdout).toContain('✗ set() then get() returns the same data and cookie: get() did not return what set() stored');
    expect(stdout).toMatch(/FAIL forgetful store: 2 passed, 6 failed/);
    expect(stderr).toContain('the store left handles open after the run (Timeout); exiting anyway');
  });

  it('reports no leak for a store that leaks nothing, with stdout piped, and does not wait for one', async () => {
    const { code, stdout, stderr } = await cli(
      'conformance',
      'test/matrix/stores/ours-memory.ts',
      '--group',
      'basic,integration,revocation',
    );
    expect(code).toBe(0);
    expect(stdout).toMatch(/✓ integration +\d+ passed/);
    expect(stderr).not.toContain(LEAK);
  });

  it('names exactly the handles a store left open: an interval and a listening socket', async () => {
    const { code, stderr } = await cli('conformance', 'test/matrix/fixtures/leaky-store.mjs', '--group', 'basic,integration');
    expect(code).toBe(0);
    expect(stderr).toContain('the store left handles open after the run (TCPServerWrap, Timeout); exiting anyway');
  });

  it('reports no leak when no store was made (unknown group)', async () => {
    const { code, stderr } = await cli('conformance', 'test/matrix/fixtures/leaky-store.mjs', '--group', 'nope');
    expect(code).toBe(2);
    expect(stderr).toContain('unknown group "nope"');
    expect(stderr).not.toContain(LEAK);
  });

  it('exits 2 before any test when the factory does not return a store', async () => {
    for (const [kind, got] of [
      ['empty', 'an object without get, set, destroy()'],
      ['null', 'null'],
      ['partial', 'an object without destroy()'],
    ]) {
      const { code, stdout, stderr } = await cliWith({ NOT_A_STORE: kind! }, 'conformance', 'test/matrix/fixtures/not-a-store.mjs');
      expect(code, kind).toBe(2);
      expect(stderr).toContain(`the factory did not return a store (it returned ${got})`);
      expect(stdout).not.toMatch(/passed|failed/);
    }
  });

  it('gives up on a group after three timeouts of a store that never calls back, in one line', async () => {
    const { code, stdout } = await cli('conformance', 'test/matrix/fixtures/silent-store.mjs', '--group', 'basic', '--timeout', '300');
    expect(code).toBe(1);
    expect(stdout).toMatch(/✗ basic +0 passed, 3 failed, 5 skipped\n/);
    expect(stdout.match(/timed out after 300 ms/g)).toHaveLength(3);
    expect(stdout).toContain('    - 5 skipped: not run: 3 tests of this group timed out (the store does not call back)\n');
  });

  it('lists the capabilities a group lacks in one line', async () => {
    const { stdout } = await cli('conformance', 'test/matrix/stores/express-session-memory.ts', '--group', 'lifecycle');
    expect(stdout.match(/skipped: store lacks:/g)).toHaveLength(1);
  });

  it('--bail stops at the first failure', async () => {
    const { code, stdout } = await cli('conformance', 'test/matrix/fixtures/forgetful-store.mjs', '--bail', '--json');
    expect(code).toBe(1);
    const report = JSON.parse(stdout) as Report;
    expect(report).toMatchObject({ bailed: true, failed: 1 });
    expect(report.tests.at(-1)).toMatchObject({ status: 'failed', name: 'set() then get() returns the same data and cookie' });
  });

  it('exits 2 with a message for unusable input', async () => {
    expect((await cli()).code).toBe(2);
    const missing = await cli('conformance', './no-such-store.mjs');
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('cannot load ./no-such-store.mjs');
    const group = await cli('conformance', 'test/matrix/fixtures/memorystore-readme.cjs', '--group', 'nope');
    expect(group.code).toBe(2);
    expect(group.stderr).toContain('unknown group "nope"');
  });
});

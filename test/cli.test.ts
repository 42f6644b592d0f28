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

function cli(...args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', 'conformance/cli.ts', ...args], { cwd: root, timeout: 60_000 }, (err, stdout, stderr) =>
      resolve({ code: err ? Number((err as { code?: unknown }).code ?? -1) : 0, stdout, stderr }),
    );
  });
}

describe('session-stores conformance <module>', () => {
  it('passes our MemoryStore: exit 0, a line per group, skips with the missing capability', async () => {
    const { code, stdout } = await cli('conformance', 'test/matrix/stores/ours-memory.ts');
    expect(code).toBe(0);
    expect(stdout).toContain('session-stores conformance: session-stores MemoryStore');
    expect(stdout).toMatch(/✓ basic +8 passed/);
    expect(stdout).toContain('skipped: store lacks: namespaces');
    expect(stdout).toMatch(/PASS session-stores MemoryStore: \d+ passed, 0 failed, \d+ skipped of \d+ tests/);
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

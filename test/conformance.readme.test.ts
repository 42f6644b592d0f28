/**
 * The conformance guide's examples (docs/conformance.md), run as printed: the test file (```ts, under node:test)
 * and the store module (```js)
 * through the CLI, against the run's Redis. It must reproduce the matrix row of connect-redis (the
 * matrix module, test/matrix/stores/connect-redis.ts, run by the same runner) group by group and test by test,
 * and leave no key behind.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createClient } from 'redis';
import { describe, expect, it } from 'vitest';
import { loadStoreModule } from '../conformance/load.js';
import { runConformance, type Report } from '../conformance/runner.js';
import { redisServer } from './servers/index.js';

const root = fileURLToPath(new URL('..', import.meta.url));

/** The fenced blocks of one language in the conformance guide (the README links to it). */
function guideBlocks(lang: string): string[] {
  const guide = readFileSync(join(root, 'docs/conformance.md'), 'utf8');
  return [...guide.matchAll(new RegExp('```' + lang + '\\n([\\s\\S]*?)```', 'g'))].map((m) => m[1]!);
}

/** Per group counts and the status of every test: what a matrix row is made of. */
function row(report: Report): unknown {
  return {
    groups: report.groups,
    tests: report.tests.map((t) => `${t.group}: ${t.name}: ${t.status}`).sort(),
  };
}

function run(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) =>
    execFile(
      process.execPath,
      args,
      { cwd: root, timeout: 240_000, maxBuffer: 16 << 20, env: { ...process.env, ...env } },
      (err, stdout, stderr) => resolve({ code: err ? Number((err as { code?: unknown }).code ?? -1) : 0, stdout, stderr }),
    ),
  );
}

describe('README conformance example', () => {
  it('the test-file example, as printed, passes under node:test (through the published package, dist/)', async () => {
    const [example] = guideBlocks('ts');
    expect(example).toContain("from 'session-stores/conformance'");
    const dir = join(root, '.cache/readme');
    mkdirSync(dir, { recursive: true });
    const file = join(dir, 'my-store.test.ts');
    writeFileSync(file, example!);
    const { code, stdout, stderr } = await run(['--import', 'tsx', '--test', file]);
    expect(code, stdout.slice(-2000) + stderr).toBe(0);
    expect(stdout).toMatch(/# fail 0\n/);
  }, 300_000);

  it('connect-redis, as printed, reproduces the matrix row and leaves no key behind', async () => {
    const [module] = guideBlocks('js');
    expect(module).toContain("from 'connect-redis'");
    // Inside the repository, so that connect-redis and redis resolve from its node_modules.
    const dir = join(root, '.cache/readme');
    mkdirSync(dir, { recursive: true });
    const file = join(dir, 'connect-redis.conformance.mjs');
    writeFileSync(file, module!);
    const { url } = await redisServer();

    const printed = await run(['--import', 'tsx', 'conformance/cli.ts', 'conformance', file, '--json'], { REDIS_URL: url });
    expect(printed.code, printed.stderr).toBeLessThan(2);
    expect(printed.stderr).not.toContain('left handles open');
    const readmeReport = JSON.parse(printed.stdout) as Report;

    const matrixModule = await loadStoreModule('test/matrix/stores/connect-redis.ts', root);
    let matrixReport: Report;
    try {
      matrixReport = await runConformance({ ...matrixModule });
    } finally {
      await matrixModule.cleanup?.();
    }
    expect(row(readmeReport)).toEqual(row(matrixReport));

    const client = await createClient({ url }).connect();
    try {
      expect(await client.keys('conformance:*')).toEqual([]);
    } finally {
      await client.close();
    }
  }, 600_000);
});

/**
 * Vitest global setup: starts the shared Redis, PostgreSQL and MongoDB-compatible servers once per run,
 * prints what each backend runs against, hands them to the workers (provide/inject, see test/servers), and
 * stops them at teardown. A missing server fails the run here when it is required (CI set or
 * SESSION_STORES_REQUIRE_ALL=1), so the problem is reported once instead of in every file.
 */
import { execSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { TestProject } from 'vitest/node';
import { KINDS, requireServer, startSharedServers } from './servers/shared.js';

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const t0 = Date.now();
  buildIfMissing();
  // Only plain data crosses to the workers (a local server also carries stop/start methods).
  const { servers, running } = await startSharedServers(KINDS);
  const failures: string[] = [];
  const lines: string[] = [];
  for (const kind of KINDS) {
    const info = servers[kind]!;
    if ('missing' in info) {
      lines.push(`${kind}: MISSING: ${info.missing}`);
      if (requireServer(kind)) failures.push(`${kind}: ${info.missing}`);
    } else lines.push(`${kind}: ${info.description} (${info.url})`);
  }
  const stopAll = async () => {
    await Promise.allSettled(running.map((s) => s.close()));
  };
  process.stdout.write(`\nsession-stores test servers (${Date.now() - t0} ms):\n${lines.map((l) => `  ${l}\n`).join('')}\n`);
  if (failures.length) {
    await stopAll();
    throw new Error(`required test servers are missing (CI or SESSION_STORES_REQUIRE_ALL=1):\n${failures.join('\n')}`);
  }
  project.provide('sessionStoresServers', servers);
  return stopAll;
}

/**
 * Tests that load the package by its name (the published artefact, the README's examples) need dist/. CI builds
 * before testing; a fresh clone running `npm test` directly gets it built here, once, before any test file runs.
 */
function buildIfMissing(): void {
  const root = fileURLToPath(new URL('..', import.meta.url));
  if (existsSync(`${root}/dist/index.js`) && existsSync(`${root}/dist/cli.js`)) return;
  const t0 = Date.now();
  process.stdout.write('\nsession-stores: dist/ is missing; running npm run build once …\n');
  execSync('npm run build', { cwd: root, stdio: 'ignore', timeout: 300_000 });
  process.stdout.write(`session-stores: built in ${Date.now() - t0} ms\n`);
}

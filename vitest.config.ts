import { availableParallelism } from 'node:os';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts', 'stores/**/*.test.ts'],
    // Starts the shared Redis/PostgreSQL/MongoDB servers once per run (test/servers).
    globalSetup: ['./test/global-setup.ts'],
    testTimeout: 30_000,
    hookTimeout: 120_000,
    pool: 'forks',
    // Two files at a time even on 2 cores (vitest's default there is one): most of a store test waits on a server
    // or on an expiry, and every file works in its own namespaces (fault tests on private servers). The suite is
    // run with two CPU hogs beside it to keep it deterministic under that load (issue 13).
    maxWorkers: Math.max(2, availableParallelism() - 1),
  },
});

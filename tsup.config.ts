import { defineConfig } from 'tsup';

// Frameworks the conformance suite imports lazily (dev dependencies here, the user's own packages there).
const frameworks = ['koa', 'koa-session', 'fastify', '@fastify/cookie', '@fastify/session'];
const external = [
  'express-session',
  'ioredis',
  'redis',
  'mongodb',
  'pg',
  'better-sqlite3',
  '@aws-sdk/client-dynamodb',
  'mysql2',
  'tsx',
  ...frameworks,
];

export default defineConfig([
  {
    entry: {
      index: 'shared/index.ts',
      memory: 'stores/memory/index.ts',
      redis: 'stores/redis/index.ts',
      mongo: 'stores/mongo/index.ts',
      postgres: 'stores/postgres/index.ts',
      sqlite: 'stores/sqlite/index.ts',
      file: 'stores/file/index.ts',
      conformance: 'conformance/index.ts',
      koa: 'frameworks/koa.ts',
      dynamodb: 'stores/dynamodb/index.ts',
      mysql: 'stores/mysql/index.ts',
    },
    format: ['esm', 'cjs'],
    dts: true,
    clean: false, // `npm run build` empties dist/ once: the two configs build in parallel
    sourcemap: true,
    target: 'node20',
    splitting: true,
    external,
  },
  {
    // The `session-stores` command: ESM only, with the shebang the bin entry needs.
    entry: { cli: 'conformance/cli.ts' },
    format: ['esm'],
    banner: { js: '#!/usr/bin/env node' },
    target: 'node20',
    sourcemap: true,
    external,
  },
]);

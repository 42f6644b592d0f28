import { defineConfig } from 'tsup';

export default defineConfig({
  entry: {
    index: 'shared/index.ts',
    memory: 'stores/memory/index.ts',
    redis: 'stores/redis/index.ts',
    mongo: 'stores/mongo/index.ts',
    postgres: 'stores/postgres/index.ts',
    sqlite: 'stores/sqlite/index.ts',
    file: 'stores/file/index.ts',
    conformance: 'test/conformance/index.ts',
    cli: 'test/conformance/cli.ts',
  },
  format: ['esm', 'cjs'],
  dts: true,
  clean: true,
  sourcemap: true,
  target: 'node20',
  splitting: true,
  external: ['express-session', 'ioredis', 'redis', 'mongodb', 'pg', 'better-sqlite3'],
});

/**
 * Throughput of `session-stores migrate`: 100,000 sessions (override with MIGRATE_N) for SQLite → Redis and
 * Redis → PostgreSQL, one run each, printed as sessions/s. Uses REDIS_URL and POSTGRES_URL, else the test
 * servers' chain (local binaries). `node --import tsx bench/migrate.ts`
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { migrate } from '../cli/migrate.js';
import { openStoreUrl } from '../cli/urls.js';
import { seed, sessions, withParams } from '../test/migrate-helpers.js';
import { postgresServer, redisServer, uniqueName } from '../test/servers/index.js';

const N = Number(process.env.MIGRATE_N ?? 100_000);
const dir = mkdtempSync(join(tmpdir(), 'bench-migrate-'));
const redis = await redisServer();
const postgres = await postgresServer();
const sqliteUrl = `sqlite:${join(dir, 'bench.db')}?table=bench`;
const redisUrl = withParams(redis.url, { prefix: `${uniqueName('bench')}:` });
const pgUrl = withParams(postgres.url, { table: uniqueName('bench') });

async function pair(fromUrl: string, toUrl: string, seedIt: boolean): Promise<void> {
  const from = await openStoreUrl(fromUrl, { create: true });
  const to = await openStoreUrl(toUrl, { create: true });
  if (seedIt) await seed(from.store, sessions(N), 256);
  const report = await migrate({ from: from.store, to: to.store, journal: null, batchSize: 1000, concurrency: 64 });
  const copyMs = report.durationMs;
  console.log(
    `${from.description} → ${to.description}: ${report.copied.toLocaleString('en-US')} sessions in ${(copyMs / 1000).toFixed(1)} s ` +
      `= ${Math.round(report.rate).toLocaleString('en-US')} sessions/s (including verification), ok=${report.ok}`,
  );
  await Promise.all([from.close(), to.close()]);
}

try {
  await pair(sqliteUrl, redisUrl, true);
  await pair(redisUrl, pgUrl, false);
} finally {
  for (const u of [redisUrl, pgUrl]) {
    const o = await openStoreUrl(u, { create: true });
    await (o.store as unknown as { clear: () => Promise<void> }).clear();
    await o.close();
  }
  rmSync(dir, { recursive: true, force: true });
  process.exit(0);
}

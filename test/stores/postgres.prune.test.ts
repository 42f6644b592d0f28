// Several app processes pruning one table: only one prunes at a time (pg_try_advisory_lock) and nothing that has
// not expired is ever deleted, while sessions keep arriving and expiring.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PostgresStore } from '../../stores/postgres/index.js';
import { lockKey } from '../../stores/postgres/sql.js';
import { serverOrSkip } from '../servers/index.js';
import { makePool, scratchSchema } from './helpers.js';

const server = await serverOrSkip('postgres');
const fixture = fileURLToPath(new URL('./fixtures/postgres-pruner.ts', import.meta.url));
const PROCESSES = 4;
const DURATION_MS = 4000;

function runPruner(env: Record<string, string>): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', fixture], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('exit', (code) => resolve({ code, stderr }));
  });
}

describe.skipIf(!server)(`PostgresStore pruning across processes [${server?.description}]`, () => {
  let pool: pg.Pool;
  let schema: { name: string; drop: () => Promise<void> };
  beforeAll(async () => {
    pool = makePool(server!.url);
    schema = await scratchSchema(pool, 'prune');
  });
  afterAll(async () => {
    await schema?.drop();
    await pool?.end();
  });

  it(`${PROCESSES} processes: one pass at a time, only expired sessions deleted`, { timeout: 60_000 }, async () => {
    const table = 'session';
    const t = `"${schema.name}"."${table}"`;
    const creator = new PostgresStore({ pool, schemaName: schema.name, createTableIfMissing: true, pruneSessionInterval: false });
    await creator.ready();
    await creator.close();
    await pool.query(
      `CREATE TABLE "${schema.name}".prune_log (pid int NOT NULL, started timestamptz, ended timestamptz, deleted int, skipped boolean NOT NULL DEFAULT false)`,
    );
    // Every deleted row is recorded with its expiry and the deletion time: the proof that nothing live went.
    await pool.query(`CREATE TABLE "${schema.name}".deleted (sid text, expire timestamptz, at timestamptz)`);
    await pool.query(`CREATE FUNCTION "${schema.name}".log_delete() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN INSERT INTO "${schema.name}".deleted VALUES (OLD.sid, OLD.expire::timestamptz, clock_timestamp()); RETURN OLD; END $$`);
    await pool.query(`CREATE TRIGGER log_delete AFTER DELETE ON ${t} FOR EACH ROW EXECUTE FUNCTION "${schema.name}".log_delete()`);

    const seed = (label: string, n: number, expireSql: string) =>
      pool.query(
        `INSERT INTO ${t} (sid, sess, expire) SELECT $1 || '-' || g, '{"cookie":{}}'::json, ${expireSql} FROM generate_series(1, $2) g`,
        [label, n],
      );
    await seed('old', 2000, `now() - interval '1 hour'`);

    const env = { PG_URL: server!.url, SCHEMA: schema.name, TABLE: table, DURATION_MS: String(DURATION_MS), INTERVAL_MS: '40' };
    const children = Array.from({ length: PROCESSES }, () => runPruner(env));

    // Meanwhile: live sessions, and sessions that expire while the pruners run.
    const live: string[] = [];
    const stopAt = Date.now() + DURATION_MS + 1500;
    for (let round = 0; Date.now() < stopAt; round++) {
      const label = `r${round}`;
      await seed(`${label}-live`, 20, `now() + interval '1 hour'`);
      await seed(`${label}-soon`, 40, `clock_timestamp() + interval '200 milliseconds'`);
      await seed(`${label}-old`, 60, `now() - interval '1 second'`);
      live.push(`${label}-live`);
      await new Promise((r) => setTimeout(r, 50));
    }
    const results = await Promise.all(children);
    for (const r of results) expect(r, r.stderr).toMatchObject({ code: 0 });

    const passes = (
      await pool.query(`SELECT pid, started, ended, deleted FROM "${schema.name}".prune_log WHERE NOT skipped ORDER BY started`)
    ).rows as Array<{
      pid: number;
      started: Date;
      ended: Date;
      deleted: number;
    }>;
    const skipped = (await pool.query(`SELECT count(*)::int AS n FROM "${schema.name}".prune_log WHERE skipped`)).rows[0].n as number;
    // Sorted by start, passes never overlap: each starts after the previous one ended.
    for (let i = 1; i < passes.length; i++) {
      expect(passes[i]!.started.getTime(), `pass ${i} overlaps pass ${i - 1}`).toBeGreaterThanOrEqual(passes[i - 1]!.ended.getTime());
    }
    const pids = new Set(passes.map((p) => p.pid));
    console.log(
      `prune: ${passes.length} passes by ${pids.size} processes, ${skipped} skipped (lock held elsewhere), ` +
        `${passes.reduce((n, p) => n + p.deleted, 0)} rows deleted`,
    );
    expect(passes.length).toBeGreaterThan(5);
    expect(skipped).toBeGreaterThan(0); // the processes did contend for the lock
    expect(pids.size).toBeGreaterThan(1); // and the right to prune moved between them (jitter)

    const early = await pool.query(`SELECT count(*)::int AS n FROM "${schema.name}".deleted WHERE expire > at`);
    expect(early.rows[0].n).toBe(0);
    const liveLeft = await pool.query(`SELECT count(*)::int AS n FROM ${t} WHERE sid LIKE '%-live-%'`);
    expect(liveLeft.rows[0].n).toBe(live.length * 20);
    const deletedTotal = (await pool.query(`SELECT count(*)::int AS n FROM "${schema.name}".deleted`)).rows[0].n as number;
    expect(deletedTotal).toBe(passes.reduce((n, p) => n + p.deleted, 0));
    expect(deletedTotal).toBeGreaterThan(2000);
    // No advisory lock is left behind once every process has exited.
    const key = BigInt.asUintN(64, BigInt(lockKey(`session-stores:prune:${t}`)));
    const locks = await pool.query(
      `SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND classid::text::int8 = $1 AND objid::text::int8 = $2`,
      [String(key >> 32n), String(key & 0xffffffffn)],
    );
    expect(locks.rows[0].n).toBe(0);
  });
});

/**
 * Several processes share one database file under write load (as cluster workers would). Real child
 * processes, each with its own SQLiteStore on the same fresh file, started at the same instant (so they also
 * race to create the table and switch the file to WAL), each pruning every few ms. Afterwards every write a
 * store acknowledged must be there, and no SQLITE_BUSY / SQLITE_LOCKED may have surfaced.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { afterAll, expect, it } from 'vitest';

const WORKERS = 4;
const OPS_PER_WORKER = 5000;
const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');
const dir = mkdtempSync(join(tmpdir(), 'sqlite-multi-'));
const children: ChildProcess[] = [];
afterAll(() => {
  for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

interface Report {
  type: 'done';
  expected: Array<{ sid: string; v: number; expire: string }>;
  destroyed: string[];
  sharedWrites: Array<{ sid: string; v: number }>;
  errors: string[];
  durationMs: number;
}

function start(file: string, id: number): { ready: Promise<void>; done: Promise<Report>; child: ChildProcess } {
  const child = fork(join(here, 'fixtures', 'sqlite-worker.ts'), [file, String(id), String(OPS_PER_WORKER)], {
    cwd: root,
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  children.push(child);
  let onReady!: () => void;
  const ready = new Promise<void>((resolve) => (onReady = resolve));
  const done = new Promise<Report>((resolve, reject) => {
    let report: Report | undefined;
    child.on('message', (msg: { type: string }) => {
      if (msg.type === 'ready') onReady();
      else if (msg.type === 'done') report = msg as Report;
    });
    child.on('error', reject);
    child.on('exit', (code, signal) =>
      report && code === 0 ? resolve(report) : reject(new Error(`worker ${id} exited with ${code ?? signal} before reporting`)),
    );
  });
  done.catch(() => {}); // observed below; avoid an unhandled rejection while waiting for `ready`
  return { ready, done, child };
}

it(
  `${WORKERS} processes writing one file concurrently lose no acknowledged write and see no SQLITE_BUSY`,
  { timeout: 60_000 },
  async () => {
    const file = join(dir, 'shared.db');
    const started = Date.now();
    const workers = Array.from({ length: WORKERS }, (_, i) => start(file, i));
    await Promise.race([Promise.all(workers.map((w) => w.ready)), ...workers.map((w) => w.done)]);
    const go = Date.now();
    for (const w of workers) w.child.send('go');
    const reports = await Promise.all(workers.map((w) => w.done));
    const wall = Date.now() - go;

    expect(reports.flatMap((r) => r.errors)).toEqual([]);

    const db = new Database(file, { readonly: true });
    try {
      const row = db.prepare<[string], { sess: string; expire: string }>('SELECT sess, expire FROM sessions WHERE sid = ?');
      const lost: string[] = [];
      let checked = 0;
      for (const report of reports) {
        for (const e of report.expected) {
          checked++;
          const r = row.get(e.sid);
          if (!r) lost.push(`${e.sid}: missing`);
          else if ((JSON.parse(r.sess) as { v: number }).v !== e.v || r.expire !== e.expire)
            lost.push(`${e.sid}: ${r.sess} ${r.expire} != v${e.v} ${e.expire}`);
        }
        // destroy() leaves a tombstone row (sess 'null'): present, but no session.
        for (const sid of report.destroyed) if (row.get(sid) && row.get(sid)!.sess !== 'null') lost.push(`${sid}: destroyed but present`);
      }
      expect(lost).toEqual([]);

      // Contended sids hold one complete write that some worker made.
      const written = new Set(reports.flatMap((r) => r.sharedWrites.map((w) => `${w.sid}:${w.v}`)));
      for (const sid of new Set(reports.flatMap((r) => r.sharedWrites.map((w) => w.sid)))) {
        const r = row.get(sid)!;
        expect(written.has(`${sid}:${(JSON.parse(r.sess) as { v: number }).v}`)).toBe(true);
      }
      expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
      expect(db.pragma('integrity_check', { simple: true })).toBe('ok');

      const totalOps = WORKERS * OPS_PER_WORKER;
      console.log(
        `[sqlite multi-process] ${WORKERS} workers × ${OPS_PER_WORKER} ops = ${totalOps} ops in ${wall} ms after start-up ` +
          `(${Math.round((totalOps / wall) * 1000)} ops/s; per worker ${reports.map((r) => r.durationMs).join('/')} ms); ` +
          `${checked} acknowledged sessions verified, ${reports.reduce((n, r) => n + r.destroyed.length, 0)} destroys verified, ` +
          `0 errors; total ${Date.now() - started} ms including process start-up`,
      );
    } finally {
      db.close();
    }
  },
);

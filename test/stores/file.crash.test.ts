/**
 * Crash safety and multi-process writes, with real processes (`node --import tsx` children):
 * - a writer killed with SIGKILL at random moments, many times, never leaves a torn or unparseable session
 *   visible (every file of the directory parses; every session's payload checks out);
 * - several processes writing, touching and reading the same sids end with one complete value and never see
 *   an error, a torn read or a missing session.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, expect, it } from 'vitest';
import { FileStore } from '../../stores/file/index.js';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');
const outer = mkdtempSync(join(tmpdir(), 'file-crash-'));
const children: ChildProcess[] = [];
afterAll(() => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  rmSync(outer, { recursive: true, force: true });
});

function spawnFixture(name: string, args: string[]): ChildProcess {
  const child = fork(join(here, 'fixtures', name), args, {
    cwd: root,
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  children.push(child);
  return child;
}

// Each kill costs a process start (~0.5 s with tsx on an idle machine, several seconds on a loaded one): 30 without
// fsync, fewer with it (same code path plus fsync). The timeouts leave room for a loaded machine; nothing here is timed.
for (const [fsync, KILLS] of [
  [false, 30],
  [true, 12],
] as const) {
  it(
    `a writer SIGKILLed ${KILLS} times at random moments never leaves a torn session (fsync: ${fsync})`,
    { timeout: 600_000 },
    async () => {
      const dir = join(outer, `kill-${fsync}`);
      let orphans = 0;
      for (let i = 0; i < KILLS; i++) {
        const child = spawnFixture('file-crash-writer.ts', [dir, fsync ? '1' : '0']);
        const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
        await new Promise<void>((resolve, reject) => {
          child.on('message', () => resolve());
          child.on('exit', (code) => reject(new Error(`writer exited early with ${code}`)));
        });
        await sleep(Math.random() * 60);
        child.kill('SIGKILL');
        await exited;
        // Every session file on disk parses, raw, right after each kill.
        for (const name of readdirSync(dir)) {
          if (name.startsWith('.')) continue;
          expect(() => JSON.parse(readFileSync(join(dir, name), 'utf8')), name).not.toThrow();
        }
      }
      const store = new FileStore({ path: dir, reapInterval: -1 });
      try {
        const ids = (await store.ids()).sort();
        expect(ids).toEqual(['Crash_D', 'crash-a', 'crash-b', 'crash-c']);
        for (const sid of ids) {
          const s = (await store.get(sid)) as unknown as { blob: string; sum: string; round: number };
          expect(createHash('sha1').update(s.blob).digest('hex'), sid).toBe(s.sum);
        }
        orphans = readdirSync(dir).filter((n) => n.startsWith('.~tmp-')).length;
      } finally {
        await store.close();
      }
      // Kills inside a write leave an orphaned temp file (removed by pruning once stale), never a torn session.
      console.log(
        `file crash test (fsync ${fsync}): ${KILLS} SIGKILLs, ${orphans} killed mid-write (orphaned temp files), 0 torn sessions`,
      );
    },
  );
}

it(
  '4 processes setting, touching and reading the same sids see no error, no torn read, no missing session',
  { timeout: 600_000 },
  async () => {
    const dir = join(outer, 'same-sid');
    const WORKERS = 4;
    const OPS = 1500;
    const workers = Array.from({ length: WORKERS }, (_, i) => spawnFixture('file-same-sid-writer.ts', [dir, String(i), String(OPS)]));
    const reports = workers.map(
      (child, i) =>
        new Promise<{ errors: string[]; errorCount: number; writes: number }>((resolve, reject) => {
          child.on('message', (msg: { type: string }) => {
            if (msg.type === 'done') resolve(msg as never);
          });
          child.on('exit', (code) => reject(new Error(`worker ${i} exited with ${code} before reporting`)));
        }),
    );
    for (const r of reports) r.catch(() => {});
    // Worker 0 creates both sids before it says ready; the others may start first, so wait for all.
    await Promise.all(
      workers.map((child) => new Promise<void>((resolve) => child.on('message', (m: { type: string }) => m.type === 'ready' && resolve()))),
    );
    for (const child of workers) child.send('go');
    const done = await Promise.all(reports);
    expect(done.flatMap((r) => r.errors)).toEqual([]);
    const store = new FileStore({ path: dir, reapInterval: -1 });
    try {
      for (const sid of ['shared-1', 'Shared_2']) {
        const s = (await store.get(sid)) as unknown as { blob: string; sum: string; worker: string };
        expect(createHash('sha1').update(s.blob).digest('hex')).toBe(s.sum);
        expect(s.blob.startsWith(`${s.worker}:`)).toBe(true);
      }
      expect(readdirSync(dir).filter((n) => n.startsWith('.'))).toEqual([]); // no temp file left by live writers
    } finally {
      await store.close();
    }
    console.log(
      `file multi-process test: ${WORKERS} processes × ${OPS} ops (${done.reduce((a, r) => a + r.writes, 0)} sets) on 2 sids, 0 errors`,
    );
  },
);

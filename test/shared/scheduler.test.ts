import { describe, expect, it } from 'vitest';
import { Scheduler, jittered } from '../../shared/scheduler.js';

describe('Scheduler', () => {
  it('runs again after a failing run, never overlaps, and stops', async () => {
    let running = 0;
    let maxConcurrent = 0;
    let runs = 0;
    const errors: unknown[] = [];
    await new Promise<void>((resolve) => {
      const scheduler = new Scheduler(
        1,
        async () => {
          running++;
          maxConcurrent = Math.max(maxConcurrent, running);
          runs++;
          await new Promise((r) => setTimeout(r, 5));
          running--;
          if (runs === 3) {
            scheduler.stop();
            resolve();
          }
          if (runs === 1) throw new Error('first run fails');
        },
        (err) => errors.push(err),
      );
    });
    expect(runs).toBe(3);
    expect(maxConcurrent).toBe(1);
    expect(errors).toHaveLength(1);
  });

  it('waits a jittered 50–150% of the interval', () => {
    const delays: number[] = [];
    const realSetTimeout = globalThis.setTimeout;
    globalThis.setTimeout = ((fn: () => void, ms: number) => {
      delays.push(ms);
      return realSetTimeout(() => undefined, 0);
    }) as typeof setTimeout;
    try {
      new Scheduler(
        1000,
        async () => undefined,
        () => undefined,
        (ms) => jittered(ms, () => 0),
      ).stop();
      new Scheduler(
        1000,
        async () => undefined,
        () => undefined,
        (ms) => jittered(ms, () => 0.999),
      ).stop();
    } finally {
      globalThis.setTimeout = realSetTimeout;
    }
    expect(delays).toEqual([500, 1499]);
  });

  it('does not keep the process alive', async () => {
    const { spawnSync } = await import('node:child_process');
    const script = `import('${new URL('../../shared/scheduler.ts', import.meta.url).pathname}').then(({ Scheduler }) => { new Scheduler(60_000, async () => {}, () => {}); })`;
    const result = spawnSync(process.execPath, ['--import', 'tsx', '-e', script], { timeout: 20_000, encoding: 'utf8' });
    expect(result.error).toBeUndefined();
    expect(result.status, result.stderr).toBe(0);
  });
});

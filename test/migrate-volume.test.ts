/**
 * `migrate` with 100,000 sessions (SQLite → Redis): all copied with their expiries, verified, and a second run
 * converges without writing. Speed is measured by bench/migrate.ts, never asserted here.
 */
import type { SessionData } from 'express-session';
import { describe, expect, it } from 'vitest';
import { migrate } from '../cli/migrate.js';
import { call, expiryOf, getSession } from '../cli/store-api.js';
import { seed, sessions, migrateFixture } from './migrate-helpers.js';

const { url, open } = await migrateFixture();

const N = 100_000;

describe.skipIf(!url('sqlite') || !url('redis'))(`migrate ${N.toLocaleString('en-US')} sessions`, () => {
  it('SQLite → Redis: every session, verified; a re-run converges without writing', { timeout: 600_000 }, async () => {
    const source = await open(url('sqlite')!);
    const target = await open(url('redis')!);
    const items: Array<[string, SessionData]> = sessions(N, (i) => 3_600_000 + i);
    await seed(source.store, items, 256);
    expect(await call(source.store, 'length')).toBe(N);

    const report = await migrate({ from: source.store, to: target.store, journal: null, batchSize: 1000, concurrency: 64 });
    expect(report).toMatchObject({ ok: true, errors: 0, listed: N, copied: N });
    expect(report.verification).toMatchObject({ ok: true, expected: N, missing: 0, mismatched: 0, sourceCount: N, targetCount: N });
    for (const i of [0, 1, 4_999, 50_000, N - 1]) {
      const [sid, original] = items[i]!;
      expect(expiryOf((await getSession(target.store, sid))!)).toBe(expiryOf(original));
    }
    const again = await migrate({ from: source.store, to: target.store, journal: null, batchSize: 1000, concurrency: 64 });
    expect(again).toMatchObject({ ok: true, copied: 0, alreadyEqual: N });
  });
});

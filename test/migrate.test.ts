/**
 * `migrate` in process, between real stores: every ordered pair of our backends, incumbents' data and incumbent
 * stores as sources, sessions expiring during the run, re-runs that converge without resurrecting anything, and
 * newest-write-wins against a target the application already writes to.
 */
import { join } from 'node:path';
import type { SessionData, Store } from 'express-session';
import session from 'express-session';
import { beforeAll, describe, expect, it } from 'vitest';
import { migrate } from '../cli/migrate.js';
import { call, expiryOf, getSession } from '../cli/store-api.js';
import type { OpenedStore } from '../cli/urls.js';
import { KINDS, contents, seed, sessions, migrateFixture, textOf, withParams } from './migrate-helpers.js';
import { redisCluster, serverOrSkip, skipIfMissing, uniqueName } from './servers/index.js';
import { sess } from './stores/helpers.js';

const { dir, url, open } = await migrateFixture();
const cluster = url('redis') ? await skipIfMissing('redis-cluster', redisCluster) : undefined;

/** Sessions per source: small, FerretDB serializes writes on one SQLite file. */
const PER_SOURCE = 12;

describe('migrate between every pair of our backends', () => {
  for (const from of KINDS) {
    describe.skipIf(!url(from))(`from ${from}`, () => {
      let source: OpenedStore;
      // Sliding cookies with distinct ms expiries, one browser-session cookie.
      const items = sessions(PER_SOURCE, (i) => (i === 0 ? null : 3_600_000 + i * 1_001));

      beforeAll(async () => {
        source = await open(url(from)!);
        await seed(source.store, items);
      });

      for (const to of KINDS.filter((k) => k !== from)) {
        it.skipIf(!url(to))(`${from} → ${to}: every session, byte for byte, with its exact expiry`, async () => {
          const target = await open(url(to)!);
          const report = await migrate({ from: source.store, to: target.store, journal: null });
          expect(report).toMatchObject({ ok: true, errors: 0, listed: PER_SOURCE, copied: PER_SOURCE });
          expect(report.verification).toMatchObject({ ok: true, expected: PER_SOURCE, missing: 0, mismatched: 0, sampled: PER_SOURCE });
          for (const [sid, original] of items) {
            const text = await textOf(target.store, sid);
            expect(text, sid).toBe(await textOf(source.store, sid));
            const expires = expiryOf(JSON.parse(text!) as SessionData);
            expect(expires).toBe(expiryOf(original)); // to the millisecond (null for the browser-session cookie)
          }
          // A second run has nothing to do: the target already holds every session.
          const again = await migrate({ from: source.store, to: target.store, journal: null });
          expect(again).toMatchObject({ ok: true, copied: 0, alreadyEqual: PER_SOURCE });
        });
      }
    });
  }
});

describe.skipIf(!url('sqlite') || !cluster)('a Redis Cluster URL (several hosts)', () => {
  it('SQLite → Redis Cluster: keys spread over the masters, read back through the same URL', async () => {
    const hosts = cluster!.nodes.map((n) => `${n.host}:${n.port}`).join(',');
    const target = await open(`redis://${hosts}?prefix=${uniqueName('cl')}:`);
    expect(target.description).toMatch(/^Redis Cluster /);
    const source = await open(url('sqlite')!);
    const items = sessions(30);
    await seed(source.store, items);
    const report = await migrate({ from: source.store, to: target.store, journal: null });
    expect(report).toMatchObject({ ok: true, copied: 30 });
    expect(await contents(target.store)).toEqual(await contents(source.store));
  });
});

describe.skipIf(!url('sqlite') || !url('redis'))('sessions expiring during the run', () => {
  it('copies each with its expiry or not at all, and verification passes', async () => {
    const source = await open(url('sqlite')!);
    const target = await open(url('redis')!);
    // 150 sessions expiring over the next 1.5 s (some before they are read, some after they are copied) and 50 that do not.
    const items = sessions(200, (i) => (i < 150 ? 200 + i * 10 : 3_600_000));
    await seed(source.store, items);
    const report = await migrate({ from: source.store, to: target.store, journal: null, batchSize: 10, concurrency: 2 });
    expect(report.ok).toBe(true);
    expect(report.copied + report.gone).toBe(report.listed);
    for (const [sid, original] of items) {
      const copy = await getSession(target.store, sid);
      // Read first, then look at the clock: a copy may only be missing once the original has expired.
      const now = Date.now();
      if (copy === null) expect(expiryOf(original)! <= now, sid).toBe(true);
      else expect(expiryOf(copy)).toBe(expiryOf(original));
    }
    const long = items.slice(150);
    for (const [sid] of long) expect(await textOf(target.store, sid)).toBe(await textOf(source.store, sid));
  });
});

describe.skipIf(!url('sqlite') || !url('postgres'))('re-runs with a journal', () => {
  it('converge: changed sessions are copied again, destroyed ones deleted from the target, none resurrected', async () => {
    const source = await open(url('sqlite')!);
    const target = await open(url('postgres')!);
    const journal = join(dir, `${uniqueName('journal')}.jsonl`);
    const items = sessions(60);
    await seed(source.store, items);
    const first = await migrate({ from: source.store, to: target.store, journal, batchSize: 16 });
    expect(first).toMatchObject({ ok: true, copied: 60 });

    // Between the runs the application keeps using the source: logouts, new logins, changed sessions.
    const [destroyed, changed, kept] = [items.slice(0, 5), items.slice(5, 10), items.slice(10)];
    for (const [sid] of destroyed) await call(source.store, 'destroy', sid);
    for (const [sid, s] of changed) await call(source.store, 'set', sid, { ...s, visits: 1000 });
    const fresh = sessions(4);
    await seed(source.store, fresh);

    const second = await migrate({ from: source.store, to: target.store, journal, batchSize: 16 });
    expect(second).toMatchObject({ ok: true, copied: 5 + 4, unchanged: kept.length, deletedFromTarget: 5 });
    expect(await contents(target.store)).toEqual(await contents(source.store));

    // A third run changes nothing, and reads nothing from the target.
    const third = await migrate({ from: source.store, to: target.store, journal });
    expect(third).toMatchObject({ ok: true, copied: 0, deletedFromTarget: 0, unchanged: 59 });
  });

  it('does not re-create a session destroyed in the target after it was copied (a logout after the switch)', async () => {
    const source = await open(url('sqlite')!);
    const target = await open(url('postgres')!);
    const journal = join(dir, `${uniqueName('journal')}.jsonl`);
    const items = sessions(3);
    await seed(source.store, items);
    await migrate({ from: source.store, to: target.store, journal });
    // The application runs on the target now; a user logs out there, and touches another session, which then
    // expires later than the source's stale copy.
    await call(target.store, 'destroy', items[0]![0]);
    const touched = { ...items[1]![1], visits: 7, cookie: { ...items[1]![1].cookie, expires: new Date(Date.now() + 7_200_000) } };
    await call(target.store, 'set', items[1]![0], touched);
    // The source changes too (a request still served by the old servers), with an older expiry than the target's.
    await call(source.store, 'set', items[0]![0], { ...items[0]![1], visits: 2 });
    await call(source.store, 'set', items[1]![0], { ...items[1]![1], visits: 3 });
    const report = await migrate({ from: source.store, to: target.store, journal });
    expect(report).toMatchObject({ ok: true, notRecreated: 1, keptTarget: 1, unchanged: 1, copied: 0 });
    expect(await getSession(target.store, items[0]![0])).toBeNull();
    expect((await getSession(target.store, items[1]![0]))?.visits).toBe(7);
  });

  it('newest write wins against sessions the target got elsewhere: the later expiry', async () => {
    const source = await open(url('sqlite')!);
    const target = await open(url('postgres')!);
    const now = Date.now();
    const older = sess(now + 600_000, { v: 'target, older' });
    const newer = sess(now + 900_000, { v: 'source, newer' });
    await call(target.store, 'set', 'a', older);
    await call(source.store, 'set', 'a', newer);
    await call(target.store, 'set', 'b', sess(now + 900_000, { v: 'target, newer' }));
    await call(source.store, 'set', 'b', sess(now + 600_000, { v: 'source, older' }));
    const report = await migrate({ from: source.store, to: target.store, journal: null });
    expect(report).toMatchObject({ ok: true, copied: 1, keptTarget: 1 });
    expect((await getSession(target.store, 'a'))?.['v' as never]).toBe('source, newer');
    expect((await getSession(target.store, 'b'))?.['v' as never]).toBe('target, newer');
  });

  it('--dry-run reads the source only: counts and sizes, nothing written', async () => {
    const source = await open(url('sqlite')!);
    const target = await open(url('postgres')!);
    await seed(source.store, sessions(10));
    const report = await migrate({ from: source.store, to: target.store, journal: join(dir, `${uniqueName('dry')}.jsonl`), dryRun: true });
    expect(report).toMatchObject({ ok: true, dryRun: true, listed: 10, live: 10, copied: 10, verification: null });
    expect(report.bytes).toBeGreaterThan(10 * 100);
    expect(await call(target.store, 'length')).toBe(0);
  });

  it('--since skips sessions last written before it (expires − originalMaxAge)', async () => {
    const source = await open(url('sqlite')!);
    const target = await open(url('postgres')!);
    const now = Date.now();
    // Written an hour ago with a 2 h lifetime, and just now.
    const old = { cookie: { originalMaxAge: 7_200_000, expires: new Date(now + 3_600_000).toISOString(), path: '/' }, v: 'old' };
    const recent = { cookie: { originalMaxAge: 7_200_000, expires: new Date(now + 7_200_000).toISOString(), path: '/' }, v: 'new' };
    await call(source.store, 'set', 'old', old);
    await call(source.store, 'set', 'recent', recent);
    const report = await migrate({ from: source.store, to: target.store, journal: null, since: now - 60_000 });
    expect(report).toMatchObject({ ok: true, copied: 1, skippedSince: 1 });
    expect(await getSession(target.store, 'old')).toBeNull();
  });

  it('--delete-source deletes from the source what was copied, after verification', async () => {
    const source = await open(url('sqlite')!);
    const target = await open(url('postgres')!);
    await seed(source.store, sessions(8));
    const report = await migrate({ from: source.store, to: target.store, journal: null, deleteSource: true });
    expect(report).toMatchObject({ ok: true, copied: 8, deletedFromSource: 8 });
    expect(await call(source.store, 'length')).toBe(0);
    expect(await call(target.store, 'length')).toBe(8);
  });
});

describe('from incumbents', () => {
  const items = (): Array<[string, SessionData]> => sessions(10);

  it.skipIf(!url('redis') || !url('postgres'))(
    'connect-redis data → PostgresStore, read by our RedisStore and by connect-redis itself',
    async () => {
      const redis = (await serverOrSkip('redis'))!;
      const [{ RedisStore: ConnectRedis }, { createClient }] = await Promise.all([import('connect-redis'), import('redis')]);
      const client = createClient({ url: redis.url });
      await client.connect();
      try {
        const prefix = `${uniqueName('cr')}:`;
        const incumbent = new ConnectRedis({ client, prefix }) as unknown as Store;
        const data = items();
        await seed(incumbent, data);

        // 1. Our RedisStore on the same keys (the drop-in layout): expiry from the key's TTL (connect-redis keeps
        // whole seconds), data byte for byte.
        const viaUrl = await open(url('postgres')!);
        const ours = await open(withParams(redis.url, { prefix }));
        const r1 = await migrate({ from: ours.store, to: viaUrl.store, journal: null });
        expect(r1).toMatchObject({ ok: true, copied: 10 });
        // 2. connect-redis itself as the source (third-party: ids(), get(), callbacks).
        const viaModule = await open(url('postgres')!);
        const r2 = await migrate({ from: incumbent, to: viaModule.store, journal: null });
        expect(r2).toMatchObject({ ok: true, copied: 10 });
        for (const [sid, original] of data) {
          const { cookie: _c1, ...a } = (await getSession(viaUrl.store, sid))!;
          const { cookie: _c2, ...b } = (await getSession(viaModule.store, sid))!;
          const { cookie: _c3, ...c } = original;
          expect(a).toEqual(c);
          expect(b).toEqual(c);
          // connect-redis writes whole-second TTLs: the copy expires with the key, as our RedisStore reads it.
          expect(expiryOf((await getSession(viaUrl.store, sid))!)).toBe(expiryOf((await getSession(ours.store, sid))!));
          expect(expiryOf((await getSession(viaModule.store, sid))!)).toBe(expiryOf(original));
        }
        await call(incumbent, 'clear' as never).catch(() => {});
      } finally {
        await client.close();
      }
    },
  );

  it.skipIf(!url('postgres') || !url('redis'))('connect-pg-simple data → RedisStore', async () => {
    const pgServer = (await serverOrSkip('postgres'))!;
    const connectPgSimple = (await import('connect-pg-simple')).default;
    const table = uniqueName('cps');
    const incumbent = new (connectPgSimple(session))({
      conString: pgServer.url,
      tableName: table,
      createTableIfMissing: true,
      pruneSessionInterval: false,
    });
    try {
      const data = items();
      await seed(incumbent, data, 4);
      const source = await open(withParams(pgServer.url, { table }));
      const target = await open(url('redis')!);
      const report = await migrate({ from: source.store, to: target.store, journal: null });
      expect(report).toMatchObject({ ok: true, copied: 10 });
      for (const [sid, original] of data) {
        const copy = (await getSession(target.store, sid))!;
        expect(copy.user).toBe(original.user);
        // connect-pg-simple keeps whole seconds (rounded up): the copy expires when the original row does.
        expect(expiryOf(copy)! - expiryOf(original)!).toBeGreaterThanOrEqual(0);
        expect(expiryOf(copy)! - expiryOf(original)!).toBeLessThan(1000);
      }
      await (source.store as unknown as { clear: () => Promise<void> }).clear();
    } finally {
      (incumbent as unknown as { close: () => void }).close();
    }
  });

  it.skipIf(!url('sqlite'))('session-file-store files → SQLiteStore, read by our FileStore', async () => {
    const sessionFileStore = (await import('session-file-store')).default;
    const path = join(dir, uniqueName('sfs'));
    const incumbent = new (sessionFileStore(session))({ path, logFn: () => {} }) as Store;
    const data = items();
    await seed(incumbent, data, 4);
    const source = await open(`file:${path}`);
    const target = await open(url('sqlite')!);
    const report = await migrate({ from: source.store, to: target.store, journal: null });
    expect(report).toMatchObject({ ok: true, copied: 10 });
    for (const [sid, original] of data) {
      // The copy is what our FileStore reads from session-file-store's file, expiry included.
      expect(await textOf(target.store, sid)).toBe(await textOf(source.store, sid));
      expect((await getSession(target.store, sid))?.user).toBe(original.user);
    }
  });

  it.skipIf(!url('mongo') || !url('sqlite'))(
    'connect-mongo data → SQLiteStore, read by our MongoStore (connect-mongo lists no sids)',
    async () => {
      const mongoUrl = url('mongo')!;
      const { default: MongoStore } = await import('connect-mongo');
      const u = new URL(mongoUrl);
      const collectionName = u.searchParams.get('collection')!;
      u.search = '';
      const incumbent = MongoStore.create({ mongoUrl: u.toString(), collectionName, autoRemove: 'disabled' }) as unknown as Store;
      try {
        const data = items().slice(0, 5);
        await seed(incumbent, data, 1);
        const target = await open(url('sqlite')!);
        // connect-mongo's all() returns sessions without their sids: refused, with what to do instead.
        await expect(migrate({ from: incumbent, to: target.store, journal: null })).rejects.toThrow(
          /without their sids: open its data through a store URL/,
        );
        const source = await open(mongoUrl);
        const report = await migrate({ from: source.store, to: target.store, journal: null });
        expect(report).toMatchObject({ ok: true, copied: 5 });
        for (const [sid, original] of data) expect(expiryOf((await getSession(target.store, sid))!)).toBe(expiryOf(original));
      } finally {
        await (incumbent as unknown as { close: () => Promise<void> }).close();
      }
    },
  );
});

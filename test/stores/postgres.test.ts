import { createHash } from 'node:crypto';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { isSessionStoreError } from '../../shared/errors.js';
import { PostgresStore, type PostgresStoreOptions } from '../../stores/postgres/index.js';
import PostgresStoreDefault from '../../stores/postgres/index.js';
import { lockKey } from '../../stores/postgres/sql.js';
import { serverOrSkip, uniqueName } from '../servers/index.js';
import { AT_REST_MODES, conformanceIn, HOUR, atRestOptions, makePool, qualified, scratchSchema, sess } from './helpers.js';
import { postgresRaw } from './raw.js';

const server = await serverOrSkip('postgres');

describe.skipIf(!server)(`PostgresStore [${server?.description}]`, () => {
  const url = server?.url ?? '';
  let pool: pg.Pool;
  let schema: { name: string; drop: () => Promise<void> };
  const opened: PostgresStore[] = [];

  beforeAll(async () => {
    pool = makePool(url, { max: 8 });
    schema = await scratchSchema(pool, 'pgstore');
  });
  afterAll(async () => {
    for (const s of opened.splice(0)) if (!s.closed) await s.close();
    await schema?.drop();
    await pool?.end();
  });
  afterEach(async () => {
    for (const s of opened.splice(0)) if (!s.closed) await s.close();
  });

  const open = (options: PostgresStoreOptions): PostgresStore => {
    const store = new PostgresStore({ pool, schemaName: schema.name, createTableIfMissing: true, pruneSessionInterval: false, ...options });
    opened.push(store);
    return store;
  };
  // Same namespace, same table; tables are cheap, so every other store gets its own.
  const tableFor = (namespace?: string) =>
    namespace === undefined ? uniqueName('t') : `ns_${createHash('sha1').update(namespace).digest('hex').slice(0, 16)}`;

  // Both layouts plain; the compatible one also with sessions encrypted, under hashed ids, and both (issue 17).
  const runs = [['compatible', undefined], ['modern', undefined], ...AT_REST_MODES.map((mode) => ['compatible', mode] as const)] as const;
  for (const [layout, mode] of runs) {
    conformanceIn(mode, {
      test: it,
      describe,
      name: `conformance (${layout} schema${mode ? `, ${mode.label}` : ''})`,
      // jsonb cannot hold U+0000 in a string (a PostgreSQL limitation, documented); the json layout can.
      knownFailures: layout === 'modern' ? [/payloads: unicode strings round-trip/] : [],
      raw: postgresRaw,
      factory: async (hints) => {
        const store = new PostgresStore({
          pool,
          schemaName: schema.name,
          tableName: tableFor(hints?.namespace === undefined ? undefined : `${layout}:${mode?.label}:${hints.namespace}`),
          schema: layout,
          createTableIfMissing: true,
          pruneSessionInterval: false,
          ttl: hints?.ttl,
          touchAfter: hints?.touchAfter,
          disableTouch: hints?.disableTouch,
          owner: hints?.owner,
          ...atRestOptions(hints, mode),
        });
        // The table is created lazily by the first operation; tests with 20 ms expiries must not pay for it.
        await store.ready();
        return store;
      },
      teardown: async (store) => {
        const s = store as PostgresStore;
        if (!s.closed) await s.close();
      },
    });
  }

  describe('layout', () => {
    it('is the named and the default export, and accepts a bare pool', async () => {
      expect(PostgresStoreDefault).toBe(PostgresStore);
      const store = new PostgresStore(pool);
      expect(store.pool).toBe(pool);
      expect(store.table).toBe('"session"');
      await store.close();
      expect((await pool.query('SELECT 1 AS one')).rows[0].one).toBe(1); // a pool we passed in is not ended
    });

    it("creates connect-pg-simple's table: varchar sid primary key session_pkey, sess json, expire timestamp(6), IDX_session_expire", async () => {
      const s = await scratchSchema(pool, 'layout');
      try {
        const store = open({ schemaName: s.name });
        await store.set('a', sess(Date.now() + HOUR));
        const cols = await pool.query(
          `SELECT column_name, data_type, datetime_precision, is_nullable, collation_name FROM information_schema.columns
           WHERE table_schema = $1 AND table_name = 'session' ORDER BY ordinal_position`,
          [s.name],
        );
        expect(cols.rows.map((c) => [c.column_name, c.data_type, c.datetime_precision, c.is_nullable])).toEqual([
          ['sid', 'character varying', null, 'NO'],
          ['sess', 'json', null, 'NO'],
          ['expire', 'timestamp without time zone', 6, 'NO'],
        ]);
        const idx = await pool.query(
          `SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = $1 AND tablename = 'session' ORDER BY indexname`,
          [s.name],
        );
        expect(idx.rows.map((r) => r.indexname)).toEqual(['IDX_session_expire', 'session_pkey']);
        const pk = await pool.query(`SELECT conname FROM pg_constraint WHERE conrelid = to_regclass($1) AND contype = 'p'`, [
          qualified(s.name, 'session'),
        ]);
        expect(pk.rows).toEqual([{ conname: 'session_pkey' }]);
      } finally {
        await s.drop();
      }
    });

    it("schema: 'modern' creates sess jsonb and expire timestamptz(6)", async () => {
      const table = uniqueName('modern');
      const store = open({ tableName: table, schema: 'modern' });
      await store.set('a', sess(Date.now() + HOUR, { n: 1 }));
      const cols = await pool.query(
        `SELECT column_name, data_type, datetime_precision FROM information_schema.columns
         WHERE table_schema = $1 AND table_name = $2 ORDER BY ordinal_position`,
        [schema.name, table],
      );
      expect(cols.rows.map((c) => [c.column_name, c.data_type, c.datetime_precision])).toEqual([
        ['sid', 'character varying', null],
        ['sess', 'jsonb', null],
        ['expire', 'timestamp with time zone', 6],
      ]);
      expect(await store.get('a')).toMatchObject({ n: 1 });
    });

    it("accepts connect-pg-simple's pgPromise option: the database object's pool ($pool), never ended", async () => {
      // What pg-promise's database object exposes: its pg.Pool as $pool.
      const db = { $pool: pool };
      const store = new PostgresStore({ pgPromise: db, schemaName: schema.name, tableName: uniqueName('pgp'), createTableIfMissing: true });
      expect(store.client).toBe(pool);
      await store.set('p', sess(Date.now() + HOUR, { via: 'pg-promise' }));
      expect(await store.get('p')).toMatchObject({ via: 'pg-promise' });
      await store.client.query(`DROP TABLE ${store.table}`);
      await store.close();
      expect((await pool.query('SELECT 1 AS one')).rows[0].one).toBe(1);
    });

    it('rejects invalid options at construction', () => {
      const bad: Array<[PostgresStoreOptions, RegExp]> = [
        [{ pool, tableName: 'a\u0000b' }, /NUL/],
        [{ pool, schemaName: '\u0000' }, /NUL/],
        [{ pool, tableName: '' }, /non-empty/],
        [{ pool, tableName: 'x'.repeat(64) }, /63 bytes/],
        [{ pool, tableName: 'é'.repeat(32) }, /63 bytes/],
        [{ pool, schema: 'legacy' as never }, /schema/],
        [{ pool, pruneSessionInterval: -1 }, /pruneSessionInterval/],
        [{ pool, pgPromise: {} as never }, /pgPromise/],
      ];
      for (const [options, message] of bad) {
        let caught: unknown;
        try {
          new PostgresStore(options);
        } catch (err) {
          caught = err;
        }
        expect(isSessionStoreError(caught, 'SESSION_STORE_INVALID_OPTION'), String(caught)).toBe(true);
        expect(String((caught as Error).message)).toMatch(message);
      }
    });
  });

  describe('hostile identifiers', () => {
    const hostile = [
      'a"; DROP TABLE canary; --',
      `it's`,
      '"',
      '""',
      'a.b',
      'ünï cødé 日本',
      ' spaced ',
      'Robert"); DROP SCHEMA public; --',
      '$1',
      'x\\y',
    ];

    beforeAll(async () => {
      await pool.query(`CREATE TABLE IF NOT EXISTS ${qualified(schema.name, 'canary')} (id int)`);
    });

    for (const name of hostile) {
      it(`tableName and schemaName ${JSON.stringify(name)} name exactly that table`, async () => {
        const table = open({ tableName: name });
        const inSchema = open({ schemaName: `${schema.name}${name}`, tableName: name, schema: 'modern' });
        try {
          for (const store of [table, inSchema]) {
            await store.set('sid', sess(Date.now() + HOUR, { name }));
            expect(await store.get('sid')).toMatchObject({ name });
            expect(await store.length()).toBe(1);
            expect(await store.ids()).toEqual(['sid']);
            await store.touch('sid', sess(Date.now() + 2 * HOUR));
            expect(await store.prune()).toBe(0);
            await store.clear();
            expect(await store.length()).toBe(0);
          }
          const found = await pool.query(
            `SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relname = $1 AND c.relkind = 'r'
             ORDER BY n.nspname`,
            [name],
          );
          expect(found.rows).toEqual(
            [
              { nspname: schema.name, relname: name },
              { nspname: `${schema.name}${name}`, relname: name },
            ].sort((a, b) => (a.nspname < b.nspname ? -1 : 1)),
          );
          const canary = await pool.query(`SELECT to_regclass($1) IS NOT NULL AS ok`, [qualified(schema.name, 'canary')]);
          expect(canary.rows[0].ok).toBe(true);
        } finally {
          await inSchema.close();
          await pool.query(`DROP SCHEMA IF EXISTS "${`${schema.name}${name}`.replaceAll('"', '""')}" CASCADE`);
        }
      });
    }
  });

  describe('table creation', () => {
    it('is idempotent and safe when many instances on separate connections start at once (schema included)', async () => {
      const s = uniqueName('race');
      const pools = Array.from({ length: 8 }, () => makePool(url, { max: 1 }));
      try {
        for (const layout of ['compatible', 'modern'] as const) {
          const stores = pools.map(
            (p) =>
              new PostgresStore({
                pool: p,
                schemaName: s,
                tableName: layout,
                schema: layout,
                createTableIfMissing: true,
                pruneSessionInterval: false,
              }),
          );
          const results = await Promise.allSettled(stores.map((store, i) => store.set(`s${i}`, sess(Date.now() + HOUR, { i }))));
          expect(results.filter((r) => r.status === 'rejected')).toEqual([]);
          expect(await stores[0]!.length()).toBe(stores.length);
          // A second generation of stores finds the table and leaves it be.
          const again = new PostgresStore({
            pool: pools[0]!,
            schemaName: s,
            tableName: layout,
            createTableIfMissing: true,
            pruneSessionInterval: false,
          });
          expect(await again.length()).toBe(stores.length);
          await Promise.all([...stores, again].map((store) => store.close()));
        }
        const tables = await pool.query(`SELECT tablename FROM pg_tables WHERE schemaname = $1 ORDER BY 1`, [s]);
        expect(tables.rows.map((r) => r.tablename)).toEqual(['compatible', 'modern']);
      } finally {
        await pool.query(`DROP SCHEMA IF EXISTS "${s}" CASCADE`);
        await Promise.all(pools.map((p) => p.end()));
      }
    });

    it('without createTableIfMissing, fails cleanly on a missing table and works once it exists', async () => {
      const table = uniqueName('later');
      const store = open({ tableName: table, createTableIfMissing: false });
      await expect(store.get('x')).rejects.toMatchObject({ code: 'SESSION_STORE_BACKEND', cause: { code: '42P01' } });
      expect(store.connected).toBe(true); // a missing table is not a connection problem
      const creator = open({ tableName: table });
      await creator.set('x', sess(Date.now() + HOUR, { ok: true }));
      expect(await store.get('x')).toMatchObject({ ok: true });
    });
  });

  describe('queries', () => {
    it('does one round trip per operation, each a named prepared statement', async () => {
      const store = open({ tableName: uniqueName('rt') });
      await store.length(); // the table is created lazily, once
      const seen: Array<{ name?: string; text: string }> = [];
      const original = pool.query.bind(pool);
      (pool as unknown as { query: unknown }).query = (config: { name?: string; text: string }, ...rest: unknown[]) => {
        seen.push(typeof config === 'string' ? { text: config } : config);
        return (original as (...a: unknown[]) => unknown)(config, ...rest);
      };
      const counts: Record<string, number> = {};
      try {
        const ops: Array<[string, () => Promise<unknown>]> = [
          ['set', () => store.set('a', sess(Date.now() + HOUR, { n: 1 }))],
          ['set (update)', () => store.set('a', sess(Date.now() + HOUR, { n: 2 }))],
          ['get', () => store.get('a')],
          ['touch', () => store.touch('a', sess(Date.now() + 2 * HOUR))],
          ['length', () => store.length()],
          ['ids', () => store.ids()],
          ['all', () => store.all()],
          ['destroy', () => store.destroy('a')],
          ['get (miss)', () => store.get('a')],
          ['touch (miss)', () => store.touch('a', sess(Date.now() + HOUR))],
          ['clear', () => store.clear()],
        ];
        for (const [name, op] of ops) {
          const before = seen.length;
          await op();
          counts[name] = seen.length - before;
        }
      } finally {
        (pool as unknown as { query: unknown }).query = original;
      }
      // clear() deletes in batches until one finds nothing: here one batch takes the tombstone destroy() left.
      expect(counts).toEqual(Object.fromEntries(Object.keys(counts).map((k) => [k, k === 'clear' ? 2 : 1])));
      expect(seen.every((q) => typeof q.name === 'string' && q.name.startsWith('session_stores_'))).toBe(true);
      expect(new Set(seen.map((q) => q.name)).size).toBe(8); // set, get, touch, length, ids, all, destroy, clear
    });

    it('prepares each statement once per connection', async () => {
      const single = makePool(url, { max: 1 });
      try {
        const store = new PostgresStore({
          pool: single,
          schemaName: schema.name,
          tableName: uniqueName('prep'),
          createTableIfMissing: true,
          pruneSessionInterval: false,
        });
        for (let i = 0; i < 5; i++) {
          await store.set(`s${i}`, sess(Date.now() + HOUR));
          await store.get(`s${i}`);
          await store.touch(`s${i}`, sess(Date.now() + HOUR));
        }
        const { rows } = await single.query(`SELECT name, statement FROM pg_prepared_statements ORDER BY name`);
        expect(rows.filter((r) => r.name.startsWith('session_stores_'))).toHaveLength(3);
        await store.close();
      } finally {
        await single.end();
      }
    });

    it('keeps millisecond expiry whatever the session TimeZone (compatible layout)', async () => {
      const table = uniqueName('tz');
      const expires = Date.UTC(2099, 5, 1, 12, 0, 0, 123); // a DST date in New York
      for (const timeZone of ['UTC', 'America/New_York', 'Asia/Kolkata', 'Pacific/Chatham']) {
        const tzPool = makePool(url, { timeZone, max: 1 });
        try {
          const store = new PostgresStore({
            pool: tzPool,
            schemaName: schema.name,
            tableName: table,
            createTableIfMissing: true,
            pruneSessionInterval: false,
          });
          await store.set(timeZone, sess(expires, { timeZone }));
          expect((await store.get(timeZone))?.cookie.expires).toEqual(new Date(expires).toISOString());
          // The stored wall-clock time is the instant in the writer's TimeZone, as connect-pg-simple writes it.
          const { rows } = await tzPool.query(
            `SELECT expire::text AS local, (expire::timestamptz = to_timestamp($2::float8 / 1000)) AS same FROM ${qualified(schema.name, table)} WHERE sid = $1`,
            [timeZone, expires],
          );
          expect(rows[0].same).toBe(true);
          const wall = new Intl.DateTimeFormat('sv-SE', { timeZone, dateStyle: 'short', timeStyle: 'medium' }).format(new Date(expires));
          expect(rows[0].local).toBe(`${wall}.123`);
          await store.close();
        } finally {
          await tzPool.end();
        }
      }
    });

    it('touch never resurrects an expired or destroyed session, and never changes data', async () => {
      const store = open({ tableName: uniqueName('touch') });
      const soon = Date.now() + 50;
      await store.set('a', sess(soon, { keep: 1 }));
      await new Promise((r) => setTimeout(r, 80));
      await store.touch('a', sess(Date.now() + HOUR, { keep: 2 }));
      expect(await store.get('a')).toBeNull();
      const { rows } = await pool.query(
        `SELECT round(extract(epoch from expire::timestamptz) * 1000)::float8 AS ms FROM ${store.table} WHERE sid = 'a'`,
      );
      expect(rows[0].ms).toBe(soon);
      await store.set('b', sess(Date.now() + HOUR, { keep: 1 }));
      await store.destroy('b');
      await store.touch('b', sess(Date.now() + HOUR));
      // What destroy() left is a tombstone (revocation), and touch did not extend it.
      const tomb = await pool.query(
        `SELECT sess::text AS sess, round(extract(epoch from expire::timestamptz) * 1000)::float8 AS ms FROM ${store.table} WHERE sid = 'b'`,
      );
      expect(tomb.rows).toEqual([{ sess: 'null', ms: expect.any(Number) }]);
      expect(tomb.rows[0].ms).toBeLessThanOrEqual(Date.now() + 600_000);
      expect(await store.get('b')).toBeNull();
      const plain = open({ tableName: uniqueName('touch_plain'), revocationWindowMs: false });
      await plain.set('b', sess(Date.now() + HOUR, { keep: 1 }));
      await plain.destroy('b');
      await plain.touch('b', sess(Date.now() + HOUR));
      expect((await pool.query(`SELECT count(*)::int AS n FROM ${plain.table} WHERE sid = 'b'`)).rows[0].n).toBe(0);
      await store.set('c', sess(Date.now() + HOUR, { keep: 3 }));
      await store.touch('c', sess(Date.now() + 2 * HOUR, { keep: 4 }));
      expect(await store.get('c')).toMatchObject({ keep: 3 });
    });

    it('pages through all()/ids() by sid and scopes bulk operations to its table', async () => {
      const a = open({ tableName: uniqueName('bulk_a') });
      const b = open({ tableName: uniqueName('bulk_b') });
      await a.length();
      await b.set('only-b', sess(Date.now() + HOUR));
      const n = 1234;
      await pool.query(
        `INSERT INTO ${a.table} (sid, sess, expire)
         SELECT 's' || lpad(g::text, 5, '0'), json_build_object('cookie', json_build_object('expires', null), 'g', g), now() + interval '1 hour' FROM generate_series(1, $1) g`,
        [n],
      );
      await pool.query(
        `INSERT INTO ${a.table} (sid, sess, expire) SELECT 'old' || g, '{"cookie":{}}', now() - interval '1 hour' FROM generate_series(1, 10) g`,
      );
      const ids = await a.ids();
      expect(ids).toHaveLength(n);
      expect(new Set(ids).size).toBe(n);
      expect(await a.length()).toBe(n);
      const all = await a.all();
      expect(Object.keys(all)).toHaveLength(n);
      expect(all['s00777']).toMatchObject({ g: 777 });
      await a.clear();
      expect(await a.length()).toBe(0);
      expect(await b.ids()).toEqual(['only-b']);
    });
  });

  describe('pruning', () => {
    async function seed(store: PostgresStore, expired: number, live: number): Promise<void> {
      await store.length();
      await pool.query(
        `INSERT INTO ${store.table} (sid, sess, expire)
         SELECT 'e' || g, '{"cookie":{}}'::json, now() - interval '1 minute' FROM generate_series(1, $1) g
         UNION ALL SELECT 'l' || g, '{"cookie":{}}'::json, now() + interval '1 hour' FROM generate_series(1, $2) g`,
        [expired, live],
      );
    }

    it('deletes expired sessions in bounded batches, even on a pool of one connection', async () => {
      const single = makePool(url, { max: 1 });
      try {
        const store = new PostgresStore({
          pool: single,
          schemaName: schema.name,
          tableName: uniqueName('prune'),
          createTableIfMissing: true,
          pruneSessionInterval: false,
          pruneBatchSize: 100,
        });
        await seed(store, 350, 20);
        expect(await store.prune()).toBe(350);
        expect(await store.length()).toBe(20);
        expect((await single.query(`SELECT count(*)::int AS n FROM ${store.table}`)).rows[0].n).toBe(20);
        await store.close();
      } finally {
        await single.end();
      }
    });

    it('skips the pass while another process holds the pruning lock, and releases it after a pass', async () => {
      const store = open({ tableName: uniqueName('lock'), pruneBatchSize: 10 });
      await seed(store, 25, 5);
      const other = await pool.connect();
      try {
        const key = lockKey(`session-stores:prune:${store.table}`);
        expect((await other.query('SELECT pg_try_advisory_lock($1::int8) AS ok', [key])).rows[0].ok).toBe(true);
        expect(await store.prune()).toBe(0);
        expect((await pool.query(`SELECT count(*)::int AS n FROM ${store.table}`)).rows[0].n).toBe(30);
        await other.query('SELECT pg_advisory_unlock($1::int8)', [key]);
        expect(await store.prune()).toBe(25);
        // Released after the pass: someone else can take it.
        expect((await other.query('SELECT pg_try_advisory_lock($1::int8) AS ok', [key])).rows[0].ok).toBe(true);
        await other.query('SELECT pg_advisory_unlock($1::int8)', [key]);
        const held = await pool.query(`SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory'`);
        expect(held.rows[0].n).toBe(0);
      } finally {
        other.release();
      }
    });

    it('runs on the jittered schedule given in seconds (pruneSessionInterval)', async () => {
      const store = open({ tableName: uniqueName('sched'), pruneSessionInterval: 0.05 });
      await seed(store, 30, 3);
      const deadline = Date.now() + 5000;
      while (Date.now() < deadline && (await pool.query(`SELECT count(*)::int AS n FROM ${store.table}`)).rows[0].n > 3) {
        await new Promise((r) => setTimeout(r, 25));
      }
      expect((await pool.query(`SELECT count(*)::int AS n FROM ${store.table}`)).rows[0].n).toBe(3);
    });
  });

  describe('revocation and owners', () => {
    const count = async (store: PostgresStore, where = 'true'): Promise<number> =>
      (await pool.query(`SELECT count(*)::int AS n FROM ${store.table} WHERE ${where}`)).rows[0].n;

    it('destroy() leaves a tombstone row (sess JSON null, expire at the end of the window) in one statement; without revocation, a DELETE', async () => {
      const store = open({ tableName: uniqueName('tomb'), revocationWindowMs: 60_000 });
      await store.set('a', sess(Date.now() + HOUR, { user: 'alice' }));
      const before = Date.now();
      await store.destroy('a');
      const { rows } = await pool.query(
        `SELECT sess::text AS sess, round(extract(epoch from expire::timestamptz) * 1000)::float8 AS ms FROM ${store.table}`,
      );
      expect(rows).toHaveLength(1);
      expect(rows[0].sess).toBe('null');
      expect(rows[0].ms).toBeGreaterThanOrEqual(before + 60_000);
      expect(rows[0].ms).toBeLessThanOrEqual(Date.now() + 60_000);
      // A sid never saved gets one too: its first write may still be on its way.
      await store.destroy('never-saved');
      await store.set('never-saved', sess(Date.now() + HOUR));
      expect(await store.get('never-saved')).toBeNull();
      // A save with a past expiry removes a session; with revocation it leaves a tombstone, never deletes one.
      await store.set('a', sess(Date.now() - 1000));
      await store.set('a', sess(Date.now() + HOUR));
      expect(await store.get('a')).toBeNull();
      expect(await count(store, `sid = 'a' AND sess::text = 'null'`)).toBe(1);
      expect([await store.length(), await store.ids(), await store.all()]).toEqual([0, [], {}]);

      const plain = open({ tableName: uniqueName('tomb_off'), revocationWindowMs: false });
      expect(plain.supports.revocation).toBe(false);
      await plain.set('a', sess(Date.now() + HOUR));
      await plain.destroy('a');
      expect(await count(plain)).toBe(0);
      await plain.set('a', sess(Date.now() + HOUR, { back: true }));
      expect(await plain.get('a')).toMatchObject({ back: true });
    });

    it('a tombstone gives way once it has expired, and pruning deletes it without counting it as a session', async () => {
      const store = open({ tableName: uniqueName('tomb_exp'), revocationWindowMs: 60_000 });
      await store.set('a', sess(Date.now() + HOUR));
      await store.set('b', sess(Date.now() + HOUR));
      await store.destroy('a');
      await store.destroy('b');
      await pool.query(`UPDATE ${store.table} SET expire = (now() - interval '1 second')::timestamptz WHERE sid = 'a'`);
      await store.set('a', sess(Date.now() + HOUR, { v: 2 }));
      expect(await store.get('a')).toMatchObject({ v: 2 });
      await store.set('old', sess(Date.now() + HOUR));
      await pool.query(`UPDATE ${store.table} SET expire = (now() - interval '1 second')::timestamptz WHERE sid IN ('b', 'old')`);
      expect(await store.prune()).toBe(1);
      expect((await pool.query(`SELECT sid FROM ${store.table}`)).rows).toEqual([{ sid: 'a' }]);
      // clear() takes live tombstones too.
      await store.destroy('a');
      await store.clear();
      expect(await count(store)).toBe(0);
    });

    it('owner: adds a nullable owner column and a partial index only when asked, once, and sessionsOf() uses the index', async () => {
      const table = uniqueName('owners');
      const plain = open({ tableName: table });
      await plain.set('anon', sess(Date.now() + HOUR));
      const columns = async (): Promise<string[]> =>
        (
          await pool.query(
            `SELECT column_name FROM information_schema.columns WHERE table_schema = $1 AND table_name = $2 ORDER BY ordinal_position`,
            [schema.name, table],
          )
        ).rows.map((r) => r.column_name);
      expect(await columns()).toEqual(['sid', 'sess', 'expire']);
      const owned = open({ tableName: table, owner: 'user' });
      const again = open({ tableName: table, owner: (s) => (s as { user?: string }).user });
      await Promise.all([owned.ready(), again.ready()]);
      expect(await columns()).toEqual(['sid', 'sess', 'expire', 'owner']);
      const idx = await pool.query(
        `SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = $1 AND tablename = $2 ORDER BY indexname`,
        [schema.name, table],
      );
      const ownerIndexes = idx.rows.filter((r) => /\(owner\)/.test(r.indexdef));
      expect(ownerIndexes).toHaveLength(1);
      expect(ownerIndexes[0].indexdef).toMatch(/WHERE \(owner IS NOT NULL\)/);
      // The store without the option keeps working on the wider table.
      await plain.set('anon2', sess(Date.now() + HOUR));
      expect(await plain.length()).toBe(2);

      for (let i = 0; i < 3; i++) await owned.set(`alice-${i}`, sess(Date.now() + HOUR, { user: 'alice' }));
      await owned.set('bob-0', sess(Date.now() + HOUR, { user: 'bob' }));
      expect((await owned.sessionsOf('alice')).map((s) => s.sid).sort()).toEqual(['alice-0', 'alice-1', 'alice-2']);
      const rows = await pool.query(`SELECT sid, owner FROM ${owned.table} ORDER BY sid`);
      expect(rows.rows).toEqual([
        { sid: 'alice-0', owner: 'alice' },
        { sid: 'alice-1', owner: 'alice' },
        { sid: 'alice-2', owner: 'alice' },
        { sid: 'anon', owner: null },
        { sid: 'anon2', owner: null },
        { sid: 'bob-0', owner: 'bob' },
      ]);
      await owned.destroy('alice-1');
      expect(await count(owned, `sid = 'alice-1' AND owner IS NULL AND sess::text = 'null'`)).toBe(1);
      expect(await owned.destroyOwner('alice', { except: 'alice-0' })).toBe(1);
      expect((await owned.sessionsOf('alice')).map((s) => s.sid)).toEqual(['alice-0']);

      // The plan of the prepared statement, with the planner told the table is big: an index scan on owner.
      const client = await pool.connect();
      try {
        await client.query('BEGIN');
        await client.query('SET LOCAL enable_seqscan = off');
        await client.query(
          `PREPARE owner_plan(text, float8) AS SELECT sid FROM ${owned.table} WHERE "owner" = $1 AND "expire" > to_timestamp($2 / 1000) AND "sess"::text <> 'null'`,
        );
        await client.query(`SET LOCAL plan_cache_mode = force_generic_plan`);
        const plan = await client.query(`EXPLAIN EXECUTE owner_plan('alice', 0)`);
        expect(plan.rows.map((r) => r['QUERY PLAN']).join('\n')).toMatch(
          /Index Scan using "IDX_[^"]+_owner"|Bitmap Index Scan on "IDX_[^"]+_owner"/,
        );
        await client.query('ROLLBACK');
      } finally {
        client.release();
      }
    });

    it('owner: set writes the owner in its one statement, destroy clears it in its one statement', async () => {
      const store = open({ tableName: uniqueName('owner_rt'), owner: 'user' });
      await store.ready();
      let queries = 0;
      const original = pool.query.bind(pool);
      (pool as unknown as { query: unknown }).query = (...args: unknown[]) => {
        queries++;
        return (original as (...a: unknown[]) => unknown)(...args);
      };
      try {
        for (const op of [
          () => store.set('s', sess(Date.now() + HOUR, { user: 'ann' })),
          () => store.set('s', sess(Date.now() + HOUR, { user: 'ben' })),
          () => store.destroy('s'),
          () => store.set('s', sess(Date.now() + HOUR, { user: 'ben' })),
        ]) {
          const before = queries;
          await op();
          expect(queries - before).toBe(1);
        }
      } finally {
        (pool as unknown as { query: unknown }).query = original;
      }
      expect(await store.sessionsOf('ben')).toEqual([]);
      expect(await count(store, `owner IS NOT NULL`)).toBe(0);
    });

    it('owner: without createTableIfMissing, opening fails cleanly while the table is missing and works once it exists', async () => {
      const table = uniqueName('owner_later');
      const store = open({ tableName: table, createTableIfMissing: false, owner: 'user' });
      await expect(store.get('x')).rejects.toMatchObject({ cause: { code: '42P01' } });
      await open({ tableName: table }).ready();
      await store.set('x', sess(Date.now() + HOUR, { user: 'zoe' }));
      expect((await store.sessionsOf('zoe')).map((s) => s.sid)).toEqual(['x']);
    });
  });

  describe('pool ownership and health', () => {
    it('ends a pool it created, and only that one', async () => {
      const store = new PostgresStore({
        conString: url,
        schemaName: schema.name,
        tableName: uniqueName('own'),
        createTableIfMissing: true,
        pruneSessionInterval: false,
      });
      await store.set('a', sess(Date.now() + HOUR));
      expect(store.pool.totalCount).toBeGreaterThan(0);
      await store.close();
      expect(store.pool.ended).toBe(true);
      const withObject = new PostgresStore({
        conObject: { connectionString: url, max: 2 },
        schemaName: schema.name,
        tableName: uniqueName('own'),
        createTableIfMissing: true,
      });
      await withObject.length();
      await withObject.close();
      expect(withObject.pool.ended).toBe(true);
    });

    it('survives idle connections being killed: no crash, no lasting disconnect', async () => {
      const app = uniqueName('kill');
      const store = new PostgresStore({
        conObject: { connectionString: url, application_name: app },
        schemaName: schema.name,
        tableName: uniqueName('kill'),
        createTableIfMissing: true,
        pruneSessionInterval: false,
        reconnectCheckIntervalMs: 20,
      });
      const events: string[] = [];
      store.on('disconnect', () => events.push('disconnect'));
      store.on('connect', () => events.push('connect'));
      const errors: unknown[] = [];
      store.on('error', (err) => errors.push(err));
      try {
        await Promise.all([store.set('a', sess(Date.now() + HOUR)), store.get('a'), store.length()]);
        const { rowCount } = await pool.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1`, [app]);
        expect(rowCount).toBeGreaterThan(0);
        await new Promise((r) => setTimeout(r, 200));
        expect(await store.get('a')).not.toBeNull();
        expect(store.connected).toBe(true);
        expect(errors.length).toBeGreaterThan(0); // the pool's 'error' reached the store's listeners, not the process
      } finally {
        await store.close();
      }
    });

    it("emits 'disconnect' when the server is unreachable, fails cleanly, and keeps checking", async () => {
      const store = new PostgresStore({
        conString: 'postgres://postgres@127.0.0.1:1/none',
        pruneSessionInterval: false,
        reconnectCheckIntervalMs: 20,
      });
      const events: string[] = [];
      store.on('disconnect', () => events.push('disconnect'));
      try {
        await expect(store.get('a')).rejects.toMatchObject({ code: 'SESSION_STORE_BACKEND' });
        expect(events).toEqual(['disconnect']);
        expect(store.connected).toBe(false);
        await new Promise((r) => setTimeout(r, 100));
        expect(events).toEqual(['disconnect']); // emitted on change only, while the checks keep failing
      } finally {
        await store.close();
      }
    });
  });

  // connect-pg-simple's own API, as its documentation and test suite use it (issue 14).
  describe('connect-pg-simple API', () => {
    it('pruneSessions(callback) deletes expired sessions and calls back with null', async () => {
      const store = open({ tableName: uniqueName('t') });
      await store.set('live', sess(Date.now() + HOUR));
      await store.set('old', sess(Date.now() + HOUR));
      await store.touch('old', sess(Date.now() - 1)); // expired as stored, however long the writes took
      const err = await new Promise((resolve) => store.pruneSessions(resolve));
      expect(err).toBeNull();
      expect(await store.ids()).toEqual(['live']);
      const raw = await pool.query(`SELECT count(*)::int AS n FROM ${store.table}`);
      expect(raw.rows[0].n).toBe(1);
    });

    it('reads tableName \'schema"."table\' as a schema and a table when schemaName is not given', async () => {
      const table = uniqueName('t');
      const store = new PostgresStore({
        pool,
        tableName: `${schema.name}"."${table}`,
        createTableIfMissing: true,
        pruneSessionInterval: false,
      });
      opened.push(store);
      expect(store.table).toBe(`"${schema.name}"."${table}"`);
      await store.set('s', sess(Date.now() + HOUR));
      expect((await pool.query(`SELECT sid FROM "${schema.name}"."${table}"`)).rows).toEqual([{ sid: 's' }]);
      // A plain dot is part of one name, as in connect-pg-simple.
      expect(open({ tableName: 'a.b' }).table).toBe(`"${schema.name}"."a.b"`);
    });

    it('pruneSessionRandomizedInterval: false prunes at exactly the interval; a function decides the pause', async () => {
      const pauses: number[] = [];
      const custom = open({
        tableName: uniqueName('t'),
        pruneSessionInterval: 0.02,
        pruneSessionRandomizedInterval: (ms) => (pauses.push(ms), ms),
      });
      await custom.ready();
      const deadline = Date.now() + 10_000;
      while (pauses.length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
      expect(pauses.slice(0, 2)).toEqual([20, 20]);
      expect(() => open({ pruneSessionRandomizedInterval: 'yes' as never })).toThrow(
        expect.objectContaining({ code: 'SESSION_STORE_INVALID_OPTION' }),
      );
      open({ tableName: uniqueName('t'), pruneSessionRandomizedInterval: false });
    });

    it('takes the pool as `pool` (its name) or `client`, and exposes it under both', () => {
      const a = open({ tableName: uniqueName('t') });
      expect(a.client).toBe(pool);
      expect(a.pool).toBe(pool);
      expect(() => open({ client: pool, pool: makePool(url) } as never)).toThrow(
        expect.objectContaining({ code: 'SESSION_STORE_INVALID_OPTION', message: expect.stringContaining('pool') }),
      );
    });
  });
});

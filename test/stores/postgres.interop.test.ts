// Interop with connect-pg-simple 10 on the same table and server settings: a migration can switch stores (or run
// both side by side) without logging anybody out, whatever the session TimeZone.
import { createRequire } from 'node:module';
import session from 'express-session';
import type { SessionData, Store } from 'express-session';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PostgresStore } from '../../stores/postgres/index.js';
import { serverOrSkip, uniqueName } from '../servers/index.js';
import { HOUR, makePool, scratchSchema, sess } from './helpers.js';

const require = createRequire(import.meta.url);
const connectPgSimple = require('connect-pg-simple') as (s: typeof session) => new (options: Record<string, unknown>) => Store;
const PgSession = connectPgSimple(session);

const server = await serverOrSkip('postgres');

// eslint-disable-next-line @typescript-eslint/no-explicit-any
const call = <T = unknown>(fn: (cb: (err?: any, value?: any) => void) => void): Promise<T | undefined> =>
  new Promise((resolve, reject) => fn((err, value) => (err ? reject(err) : resolve(value as T))));

const withoutCookie = (s: SessionData | null | undefined): Record<string, unknown> => {
  const { cookie: _cookie, ...rest } = (s ?? {}) as Record<string, unknown>;
  return rest;
};

describe.skipIf(!server)(`PostgresStore ⇄ connect-pg-simple [${server?.description}]`, () => {
  let admin: pg.Pool;
  let schema: { name: string; drop: () => Promise<void> };
  beforeAll(async () => {
    admin = makePool(server!.url);
    schema = await scratchSchema(admin, 'interop');
  });
  afterAll(async () => {
    await schema?.drop();
    await admin?.end();
  });

  for (const timeZone of ['UTC', 'America/New_York', 'Asia/Kolkata']) {
    describe(`session TimeZone ${timeZone}`, () => {
      let pool: pg.Pool;
      let ours: PostgresStore;
      let theirs: Store;
      let table: string;
      beforeAll(async () => {
        pool = makePool(server!.url, { timeZone });
        table = uniqueName('sess');
        ours = new PostgresStore({
          pool,
          schemaName: schema.name,
          tableName: table,
          createTableIfMissing: true,
          pruneSessionInterval: false,
        });
        await ours.ready();
        theirs = new PgSession({ pool, schemaName: schema.name, tableName: table, pruneSessionInterval: false });
      });
      afterAll(async () => {
        await ours?.close();
        await (theirs as unknown as { close(): Promise<void> })?.close();
        await pool?.end();
      });

      it('a session written by connect-pg-simple is read by PostgresStore (expiry rounded up to the second, as it writes)', async () => {
        const expires = Date.now() + HOUR + 321;
        await call((cb) => theirs.set('from-cps', sess(expires, { user: 'alice', n: 1 }), cb));
        const got = await ours.get('from-cps');
        expect(withoutCookie(got)).toEqual({ user: 'alice', n: 1 });
        expect(new Date(got!.cookie.expires as unknown as string).getTime()).toBe(Math.ceil(expires / 1000) * 1000);
        expect(await ours.ids()).toContain('from-cps');
      });

      it('a session written by PostgresStore is read by connect-pg-simple', async () => {
        const expires = Date.now() + HOUR + 654;
        await ours.set('from-ours', sess(expires, { user: 'bob' }));
        const got = await call<SessionData>((cb) => theirs.get('from-ours', cb));
        expect(withoutCookie(got)).toEqual({ user: 'bob' });
        expect(new Date(got!.cookie.expires as unknown as string).getTime()).toBe(expires);
      });

      it('both agree on what has expired: an hour-old session is gone for both, an hour-ahead one alive for both', async () => {
        // Written raw, an hour out: a TimeZone mix-up between the two stores would shift one of them by hours.
        await ours.set('alive', sess(Date.now() + HOUR));
        await pool.query(`UPDATE "${schema.name}"."${table}" SET expire = (now() - interval '1 hour')::timestamptz WHERE sid = 'alive'`);
        expect(await ours.get('alive')).toBeNull();
        expect(await call((cb) => theirs.get('alive', cb))).toBeFalsy();
        await call((cb) => theirs.set('alive2', sess(Date.now() + HOUR), cb));
        expect(await ours.get('alive2')).not.toBeNull();
        await ours.set('alive3', sess(Date.now() + 3_000));
        expect(await call((cb) => theirs.get('alive3', cb))).toBeTruthy();
      });

      it('a short expiry written by PostgresStore ends for connect-pg-simple too', async () => {
        // connect-pg-simple treats a session as expired once `expire` < now rounded up to the second: give it one.
        const expires = Math.ceil(Date.now() / 1000) * 1000 + 1250;
        await ours.set('short', sess(expires, { v: 1 }));
        expect(await call((cb) => theirs.get('short', cb))).toBeTruthy();
        await new Promise((r) => setTimeout(r, Math.ceil(expires / 1000) * 1000 - Date.now() + 50));
        expect(await call((cb) => theirs.get('short', cb))).toBeFalsy();
        expect(await ours.get('short')).toBeNull();
      });

      it('touch and destroy work across stores', async () => {
        await call((cb) => theirs.set('x', sess(Date.now() + HOUR, { v: 'cps' }), cb));
        const later = Date.now() + 2 * HOUR + 7;
        await ours.touch('x', sess(later, { v: 'ignored' }));
        const afterOurs = await call<SessionData>((cb) => theirs.get('x', cb));
        expect(withoutCookie(afterOurs)).toEqual({ v: 'cps' });
        const { rows } = await pool.query(
          `SELECT round(extract(epoch from expire::timestamptz) * 1000)::float8 AS ms FROM "${schema.name}"."${table}" WHERE sid = 'x'`,
        );
        expect(rows[0].ms).toBe(later);

        await ours.set('y', sess(Date.now() + HOUR, { v: 'ours' }));
        const theirLater = Date.now() + 3 * HOUR;
        await call((cb) => theirs.touch!('y', sess(theirLater), cb));
        expect(new Date((await ours.get('y'))!.cookie.expires as unknown as string).getTime()).toBe(Math.ceil(theirLater / 1000) * 1000);

        await call((cb) => theirs.destroy('y', cb));
        expect(await ours.get('y')).toBeNull();
        await ours.destroy('x');
        expect(await call((cb) => theirs.get('x', cb))).toBeFalsy();
      });
    });
  }

  it('with revocation and owners on, connect-pg-simple neither breaks nor sees a tombstone as a session', async () => {
    const pool = makePool(server!.url);
    // A schema of its own: connect-pg-simple names its primary key "session_pkey" whatever the table.
    const own = await scratchSchema(admin, 'revinterop');
    try {
      const table = uniqueName('rev');
      const t = `"${own.name}"."${table}"`;
      // The incumbent's own table, then our owner column and index on top of it.
      const theirs = new PgSession({
        pool,
        schemaName: own.name,
        tableName: table,
        createTableIfMissing: true,
        pruneSessionInterval: false,
      });
      await call((cb) => theirs.set('cps-before', sess(Date.now() + HOUR, { user: 'carl' }), cb));
      const ours = new PostgresStore({ pool, schemaName: own.name, tableName: table, owner: 'user', pruneSessionInterval: false });
      expect(ours.supports).toMatchObject({ revocation: true, owners: true });
      await ours.ready();
      const { rows: cols } = await pool.query(
        `SELECT column_name, is_nullable FROM information_schema.columns WHERE table_schema = $1 AND table_name = $2 ORDER BY ordinal_position`,
        [own.name, table],
      );
      expect(cols.map((c) => c.column_name)).toEqual(['sid', 'sess', 'expire', 'owner']);

      // connect-pg-simple names its columns: it inserts and updates rows on the wider table.
      await call((cb) => theirs.set('cps-after', sess(Date.now() + HOUR, { user: 'carl' }), cb));
      await ours.set('ours', sess(Date.now() + HOUR, { user: 'alice' }));
      await call((cb) => theirs.set('ours', sess(Date.now() + HOUR, { user: 'alice', by: 'cps' }), cb));
      expect(await ours.get('ours')).toMatchObject({ by: 'cps' });
      expect(await call((cb) => theirs.get('cps-after', cb))).toMatchObject({ user: 'carl' });
      expect((await ours.sessionsOf('alice')).map((s) => s.sid)).toEqual(['ours']);

      // A tombstone: JSON null in `sess json NOT NULL`, which connect-pg-simple reads as no session.
      await ours.destroy('ours');
      expect((await pool.query(`SELECT sess::text AS sess, owner FROM ${t} WHERE sid = 'ours'`)).rows).toEqual([
        { sess: 'null', owner: null },
      ]);
      expect(await call((cb) => theirs.get('ours', cb))).toBeFalsy();
      // Its touch (which checks nothing) may lengthen the tombstone but never makes a session of it.
      await call((cb) => theirs.touch!('ours', sess(Date.now() + HOUR), cb));
      expect(await call((cb) => theirs.get('ours', cb))).toBeFalsy();
      expect(await ours.get('ours')).toBeNull();
      await ours.set('ours', sess(Date.now() + HOUR, { user: 'alice', late: true }));
      expect(await ours.get('ours')).toBeNull();
      expect((await ours.ids()).sort()).toEqual(['cps-after', 'cps-before']);
      expect(await ours.length()).toBe(2);
      expect(await ours.sessionsOf('alice')).toEqual([]);

      // Its pruning deletes expired tombstones like expired sessions.
      await pool.query(`UPDATE ${t} SET expire = now() - interval '1 minute' WHERE sid = 'ours'`);
      await new Promise<void>((resolve, reject) =>
        (theirs as unknown as { pruneSessions(cb: (err: Error | null) => void): void }).pruneSessions((err) =>
          err ? reject(err) : resolve(),
        ),
      );
      expect((await pool.query(`SELECT sid FROM ${t} ORDER BY sid`)).rows.map((r) => r.sid)).toEqual(['cps-after', 'cps-before']);
      await ours.close();
      await (theirs as unknown as { close(): Promise<void> }).close();
    } finally {
      await own.drop();
      await pool.end();
    }
  });

  it("PostgresStore uses a table created by connect-pg-simple's createTableIfMissing, and the reverse", async () => {
    const pool = makePool(server!.url);
    try {
      const cpsTable = uniqueName('cps_made');
      const theirs = new PgSession({
        pool,
        schemaName: schema.name,
        tableName: cpsTable,
        createTableIfMissing: true,
        pruneSessionInterval: false,
      });
      await call((cb) => theirs.set('a', sess(Date.now() + HOUR, { made: 'cps' }), cb));
      const ours = new PostgresStore({
        pool,
        schemaName: schema.name,
        tableName: cpsTable,
        createTableIfMissing: true,
        pruneSessionInterval: false,
      });
      expect(await ours.get('a')).toMatchObject({ made: 'cps' });
      await ours.set('b', sess(Date.now() + HOUR, { made: 'ours' }));
      expect(await ours.length()).toBe(2);
      await ours.close();

      const ourTable = uniqueName('ours_made');
      const ours2 = new PostgresStore({
        pool,
        schemaName: schema.name,
        tableName: ourTable,
        createTableIfMissing: true,
        pruneSessionInterval: false,
      });
      await ours2.set('c', sess(Date.now() + HOUR, { made: 'ours' }));
      const theirs2 = new PgSession({
        pool,
        schemaName: schema.name,
        tableName: ourTable,
        createTableIfMissing: true,
        pruneSessionInterval: false,
      });
      expect(await call((cb) => theirs2.get('c', cb))).toMatchObject({ made: 'ours' });
      await ours2.close();
    } finally {
      await pool.end();
    }
  });
});

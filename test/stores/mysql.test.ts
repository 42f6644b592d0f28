import { createHash } from 'node:crypto';
import mysqlCore from 'mysql2';
import mysql from 'mysql2/promise';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { MySQLStore, type MySQLStoreOptions } from '../../stores/mysql/index.js';
import MySQLStoreDefault from '../../stores/mysql/index.js';
import { lockName } from '../../stores/mysql/sql.js';
import { freePort } from '../servers/procs.js';
import { serverOrSkip, uniqueName } from '../servers/index.js';
import { AT_REST_MODES, HOUR, atRestOptions, conformanceIn, sess } from './helpers.js';
import { mysqlRaw } from './raw.js';
import { makePool, qualifiedName, scratchDatabase } from './mysql-helpers.js';

const server = await serverOrSkip('mysql');

/** Polls `condition` every 10 ms; fails after `ms`. */
async function until(condition: () => boolean | Promise<boolean>, what: string, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`${what} did not happen within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe.skipIf(!server)(`MySQLStore [${server?.description}]`, () => {
  let db: { name: string; url: string; drop: () => Promise<void> };
  let pool: mysql.Pool;
  const opened: MySQLStore[] = [];

  beforeAll(async () => {
    db = await scratchDatabase(server!.url, 'mystore');
    pool = makePool(db.url, { connectionLimit: 8 });
  });
  afterAll(async () => {
    for (const s of opened.splice(0)) if (!s.closed) await s.close();
    await pool?.end();
    await db?.drop();
  });
  afterEach(async () => {
    for (const s of opened.splice(0)) if (!s.closed) await s.close();
  });

  const open = (options: MySQLStoreOptions = {}): MySQLStore => {
    const store = new MySQLStore({ client: pool, clearExpired: false, ...options });
    opened.push(store);
    return store;
  };
  const columns = async (table: string, database = db.name) => {
    const [rows] = await pool.query<mysql.RowDataPacket[]>(
      `SELECT COLUMN_NAME AS name, COLUMN_TYPE AS type, IS_NULLABLE AS nullable, COLLATION_NAME AS collation
       FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION`,
      [database, table],
    );
    return rows.map((r) => [r['name'], String(r['type']).replace('int(10) unsigned', 'int unsigned'), r['nullable']]);
  };
  // Same namespace, same table; tables are cheap, so every other store gets its own.
  const tableFor = (namespace?: string) =>
    namespace === undefined ? uniqueName('t') : `ns_${createHash('sha1').update(namespace).digest('hex').slice(0, 16)}`;

  // Plain, then with sessions encrypted, under hashed ids, and both (issue 17).
  for (const mode of [undefined, ...AT_REST_MODES])
    conformanceIn(mode, {
      test: it,
      describe,
      name: mode ? `conformance (${mode.label})` : 'conformance',
      raw: mysqlRaw,
      factory: async (hints) => {
        const store = new MySQLStore({
          client: pool,
          schema: { tableName: tableFor(hints?.namespace === undefined ? undefined : `${mode?.label}:${hints.namespace}`) },
          clearExpired: false,
          ttl: hints?.ttl,
          touchAfter: hints?.touchAfter,
          disableTouch: hints?.disableTouch,
          owner: hints?.owner,
          ...atRestOptions(hints, mode),
        });
        // The table is created by the open; tests with 20 ms expiries must not pay for it.
        await store.ready();
        return store;
      },
      teardown: async (store) => {
        const s = store as MySQLStore;
        if (!s.closed) await s.close();
      },
    });

  describe('layout', () => {
    it('is the named and the default export, and takes a promise pool, a callback pool, or (options, connection)', async () => {
      expect(MySQLStoreDefault).toBe(MySQLStore);
      const bare = new MySQLStore(pool);
      expect(bare.client).toBe(pool);
      expect(bare.connection).toBe(pool);
      expect(bare.table).toBe('`sessions`');
      await bare.close();
      const core = mysqlCore.createPool({ uri: db.url, connectionLimit: 2 });
      try {
        const table = uniqueName('core');
        const viaCore = new MySQLStore({ schema: { tableName: table } }, core);
        await viaCore.set('a', sess(Date.now() + HOUR, { via: 'core' }));
        expect(await viaCore.get('a')).toMatchObject({ via: 'core' });
        await viaCore.close();
        const viaOption = new MySQLStore({ client: core, schema: { tableName: table } });
        expect(await viaOption.get('a')).toMatchObject({ via: 'core' });
        await viaOption.close();
        // Pools passed in are not ended.
        expect((await core.promise().query<mysql.RowDataPacket[]>('SELECT 1 AS one'))[0][0]!['one']).toBe(1);
      } finally {
        await core.promise().end();
      }
      expect((await pool.query<mysql.RowDataPacket[]>('SELECT 1 AS one'))[0][0]!['one']).toBe(1);
    });

    it("creates express-mysql-session's table plus a nullable expires_ms column and an index on expires", async () => {
      const table = uniqueName('layout');
      const store = open({ schema: { tableName: table } });
      await store.set('a', sess(Date.now() + HOUR));
      expect(await columns(table)).toEqual([
        ['session_id', 'varchar(128)', 'NO'],
        ['expires', 'int unsigned', 'NO'],
        ['data', 'mediumtext', 'YES'],
        ['expires_ms', 'bigint(20)', 'YES'].map((v) => (v === 'bigint(20)' && server!.description.includes('MySQL') ? 'bigint' : v)),
      ]);
      const [keys] = await pool.query<mysql.RowDataPacket[]>(
        `SELECT INDEX_NAME AS name, COLUMN_NAME AS col FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY 1`,
        [db.name, table],
      );
      expect(keys.map((k) => [k['name'], k['col']])).toEqual([
        ['PRIMARY', 'session_id'],
        ['session_stores_expires', 'expires'],
      ]);
      expect(store.tableInfo).toMatchObject({ database: db.name, features: { ms: true, owner: false }, sidChars: 128, padsSpaces: false });
    });

    it('expiresIndex: false creates the table without the index on expires; touch, expiry and pruning work as before', async () => {
      const table = uniqueName('noidx');
      const store = open({ schema: { tableName: table }, expiresIndex: false, clearExpired: false });
      await store.set('a', sess(Date.now() + HOUR, { n: 1 }));
      const [keys] = await pool.query<mysql.RowDataPacket[]>(
        `SELECT INDEX_NAME AS name FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY 1`,
        [db.name, table],
      );
      expect(keys.map((k) => k['name'])).toEqual(['PRIMARY']);
      const later = Date.now() + 2 * HOUR;
      await store.touch('a', sess(later, { n: 1 }));
      expect(new Date((await store.get('a'))!.cookie.expires!).getTime()).toBe(later);
      // An expired row (written as another writer would) is not a session, and pruning finds it by scanning.
      const past = Date.now() - HOUR;
      await pool.query(`INSERT INTO \`${table}\` (session_id, expires, data, expires_ms) VALUES (?, ?, '{}', ?)`, [
        'old',
        Math.round(past / 1000),
        past,
      ]);
      expect(await store.get('old')).toBeNull();
      expect(await store.prune()).toBe(1);
      expect(await store.ids()).toEqual(['a']);
      // Options are checked at construction.
      expect(() => open({ schema: { tableName: table }, expiresIndex: 'no' as never })).toThrow(/expiresIndex/);
    });

    it('rejects invalid options at construction', () => {
      const bad: Array<[unknown, RegExp]> = [
        [{ client: pool, schema: { tableName: 'a\u0000b' } }, /NUL/],
        [{ client: pool, schema: { tableName: '' } }, /non-empty/],
        [{ client: pool, schema: { tableName: 'x'.repeat(65) } }, /64 characters/],
        [{ client: pool, schema: { tableName: 'a.b.c' } }, /at most one dot/],
        [{ client: pool, schema: { tableName: 'trailing ' } }, /space/],
        [{ client: pool, schema: { tableName: 'emoji😀' } }, /Basic Multilingual Plane/],
        [{ client: pool, schema: { columnNames: { sid: 'x' } } }, /unknown column "sid"/],
        [{ client: pool, schema: { columnNames: { data: 'session_id' } } }, /five different/],
        [{ client: pool, schema: { table: 'x' } }, /unknown keys: table/],
        [{ client: {} }, /mysql2 pool/],
        [{ client: pool, expiration: 0 }, /expiration/],
        [{ client: pool, checkExpirationInterval: -1 }, /checkExpirationInterval/],
        [{ client: pool, createDatabaseTable: 'yes' }, /createDatabaseTable/],
        [{ client: pool, clearExpiredd: true }, /did you mean "clearExpired"/],
      ];
      for (const [i, [options, message]] of bad.entries()) {
        expect(() => new MySQLStore(options as MySQLStoreOptions), `case ${i}: ${String(message)}`).toThrow(
          expect.objectContaining({ code: 'SESSION_STORE_INVALID_OPTION', message: expect.stringMatching(message) }),
        );
      }
      // A single connection cannot be a pool.
      const conn = mysqlCore.createConnection({ uri: db.url });
      conn.on('error', () => {});
      try {
        expect(() => new MySQLStore({ client: conn as never })).toThrow(/a single connection/);
      } finally {
        conn.destroy();
      }
    });
  });

  describe('hostile identifiers', () => {
    const hostile = [
      'a`; DROP TABLE canary; --',
      `it's`,
      '`',
      '``',
      'ünï cødé 日本',
      ' spaced',
      "Robert'); DROP DATABASE x; --",
      '?',
      'x\\y',
      '"q"',
    ];

    beforeAll(async () => {
      await pool.query('CREATE TABLE IF NOT EXISTS canary (id int)');
    });

    for (const name of hostile) {
      it(`tableName ${JSON.stringify(name)} (alone and as database.table) and hostile column names name exactly that table`, async () => {
        const other = `${db.name}_${createHash('sha1').update(name).digest('hex').slice(0, 8)}`;
        const database = `${other}${name}`.slice(0, 64).trimEnd();
        await pool.query(`CREATE DATABASE IF NOT EXISTS ${qualifiedName(database, 'x').split('.')[0]}`);
        try {
          const plain = open({ schema: { tableName: name } });
          const columnNames = { session_id: `${name}id`, expires: `${name}exp`, data: `${name}data`, expires_ms: `${name}ms` };
          // With a dot, as express-mysql-session reads it: database.table (only names without dots can be written so).
          const qualifiedStore = name.includes('.') ? undefined : open({ schema: { tableName: `${database}.${name}`, columnNames } });
          for (const store of [plain, qualifiedStore]) {
            if (!store) continue;
            await store.set('sid', sess(Date.now() + HOUR, { name }));
            expect(await store.get('sid')).toMatchObject({ name });
            expect(await store.length()).toBe(1);
            expect(await store.ids()).toEqual(['sid']);
            await store.touch('sid', sess(Date.now() + 2 * HOUR));
            await store.destroy('sid');
            expect(await store.get('sid')).toBeNull();
            expect(await store.prune()).toBe(0);
            await store.clear();
            expect(await store.length()).toBe(0);
          }
          const [found] = await pool.query<mysql.RowDataPacket[]>(
            `SELECT TABLE_SCHEMA AS db FROM information_schema.TABLES WHERE TABLE_NAME = ? ORDER BY 1`,
            [name],
          );
          expect(found.map((r) => r['db']).sort()).toEqual([db.name, ...(qualifiedStore ? [database] : [])].sort());
          if (qualifiedStore) expect((await columns(name, database)).map((c) => c[0])).toEqual(Object.values(columnNames));
          const [canary] = await pool.query<mysql.RowDataPacket[]>(`SELECT COUNT(*) AS n FROM canary`);
          expect(canary[0]!['n']).toBe(0);
        } finally {
          await pool.query(`DROP DATABASE IF EXISTS \`${database.replaceAll('`', '``')}\``);
        }
      });
    }
  });

  describe('table creation', () => {
    it('is idempotent and safe when many instances on separate connections start at once', async () => {
      const table = uniqueName('race');
      const pools = Array.from({ length: 8 }, () => makePool(db.url, { connectionLimit: 1 }));
      try {
        const stores = pools.map((p) => new MySQLStore({ client: p, schema: { tableName: table }, clearExpired: false }));
        const results = await Promise.allSettled(stores.map((store, i) => store.set(`s${i}`, sess(Date.now() + HOUR, { i }))));
        expect(results.filter((r) => r.status === 'rejected')).toEqual([]);
        expect(await stores[0]!.length()).toBe(stores.length);
        const again = new MySQLStore({ client: pools[0]!, schema: { tableName: table }, clearExpired: false });
        expect(await again.length()).toBe(stores.length);
        await Promise.all([...stores, again].map((store) => store.close()));
        expect((await columns(table)).map((c) => c[0])).toEqual(['session_id', 'expires', 'data', 'expires_ms']);
      } finally {
        await Promise.all(pools.map((p) => p.end()));
      }
    });

    it("adds expires_ms to express-mysql-session's table once; without createDatabaseTable, keeps whole seconds", async () => {
      const table = uniqueName('legacy');
      await pool.query(
        `CREATE TABLE \`${table}\` (session_id varchar(128) COLLATE utf8mb4_bin NOT NULL, expires int(11) unsigned NOT NULL,
         data mediumtext COLLATE utf8mb4_bin, PRIMARY KEY (session_id)) ENGINE=InnoDB`,
      );
      const seconds = open({ schema: { tableName: table }, createDatabaseTable: false });
      const at = Date.now() + HOUR + 123;
      await seconds.set('s', sess(at));
      expect(seconds.supports.msPrecision).toBe(false);
      expect(seconds.tableInfo).toMatchObject({ features: { ms: false }, padsSpaces: true });
      const before = await seconds.get('s');
      // The row has whole seconds, and the store reports the expiry it stored.
      expect(new Date(before!.cookie.expires!).getTime()).toBe(Math.round(at / 1000) * 1000);
      const [[row]] = await pool.query<mysql.RowDataPacket[]>(`SELECT expires FROM \`${table}\``);
      expect(row!['expires']).toBe(Math.round(at / 1000));

      const ms = open({ schema: { tableName: table } });
      await ms.set('s', sess(at));
      expect(ms.supports.msPrecision).toBe(true);
      expect((await columns(table)).map((c) => c[0])).toEqual(['session_id', 'expires', 'data', 'expires_ms']);
      const [[after]] = await pool.query<mysql.RowDataPacket[]>(`SELECT expires, expires_ms FROM \`${table}\``);
      expect([after!['expires'], Number(after!['expires_ms'])]).toEqual([Math.round(at / 1000), at]);
      // A second store finds the column and adds nothing.
      const again = open({ schema: { tableName: table } });
      await again.ready();
      expect((await columns(table)).length).toBe(4);
    });

    it('without createDatabaseTable, fails cleanly on a missing table and works once it exists', async () => {
      const table = uniqueName('later');
      const store = open({ schema: { tableName: table }, createDatabaseTable: false });
      await expect(store.get('x')).rejects.toMatchObject({
        code: 'SESSION_STORE_BACKEND',
        message: expect.stringMatching(/does not exist/),
      });
      expect(store.connected).toBe(true); // a missing table is not a connection problem
      const creator = open({ schema: { tableName: table } });
      await creator.set('x', sess(Date.now() + HOUR, { ok: true }));
      expect(await store.get('x')).toMatchObject({ ok: true });
    });
  });

  describe('queries', () => {
    it('does one round trip per operation, each a prepared statement (execute)', async () => {
      const store = open({ schema: { tableName: uniqueName('rt') } });
      await store.ready();
      const seen: Array<[kind: string, sql: string]> = [];
      // The callback pool under the promise pool: every statement reaches it, whichever API the store uses.
      const target = (pool as unknown as { pool: Record<'execute' | 'query', (...a: unknown[]) => unknown> }).pool;
      const original = { execute: target.execute, query: target.query };
      target.execute = function (this: unknown, sql: unknown, ...rest: unknown[]) {
        seen.push(['execute', String(sql)]);
        return original.execute.call(this, sql, ...rest);
      };
      target.query = function (this: unknown, sql: unknown, ...rest: unknown[]) {
        seen.push(['query', String(sql)]);
        return original.query.call(this, sql, ...rest);
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
        target.execute = original.execute;
        target.query = original.query;
      }
      // clear() deletes in batches until one finds nothing: here one batch takes the tombstone destroy() left.
      expect(counts).toEqual(Object.fromEntries(Object.keys(counts).map((k) => [k, k === 'clear' ? 2 : 1])));
      expect(seen.every(([kind]) => kind === 'execute')).toBe(true);
    });

    it('prepares each statement once per connection', async () => {
      const single = makePool(db.url, { connectionLimit: 1 });
      try {
        const store = new MySQLStore({ client: single, schema: { tableName: uniqueName('prep') }, clearExpired: false });
        await store.ready();
        const status = async () => {
          const [rows] = await single.query<mysql.RowDataPacket[]>(`SHOW SESSION STATUS LIKE 'Com_stmt_prepare'`);
          return Number(rows[0]!['Value']);
        };
        const before = await status();
        for (let i = 0; i < 5; i++) {
          await store.set(`s${i}`, sess(Date.now() + HOUR));
          await store.get(`s${i}`);
          await store.touch(`s${i}`, sess(Date.now() + HOUR));
        }
        expect((await status()) - before).toBe(3);
        await store.close();
      } finally {
        await single.end();
      }
    });

    it("keeps millisecond expiry, and the seconds column rounds as express-mysql-session's does", async () => {
      const table = uniqueName('ms');
      const store = open({ schema: { tableName: table } });
      const at = Date.now() + 60_000 + 499;
      await store.set('m', sess(at));
      const [[row]] = await pool.query<mysql.RowDataPacket[]>(`SELECT expires, expires_ms FROM \`${table}\``);
      expect([row!['expires'], Number(row!['expires_ms'])]).toEqual([Math.round(at / 1000), at]);
      const short = Date.now() + 300;
      await store.set('short', sess(short));
      expect(await store.get('short')).not.toBeNull();
      await until(() => Date.now() > short, 'the expiry');
      expect(await store.get('short')).toBeNull();
      expect(await store.ids()).toEqual(['m']);
    });

    it('touch never resurrects an expired or destroyed session, and never changes data', async () => {
      const table = uniqueName('touch');
      const store = open({ schema: { tableName: table }, revocationWindowMs: false });
      const soon = Date.now() + 150;
      await store.set('e', sess(soon, { v: 1 }));
      await until(() => Date.now() > soon, 'the expiry');
      await store.touch('e', sess(Date.now() + HOUR, { v: 2 }));
      expect(await store.get('e')).toBeNull();
      await store.set('d', sess(Date.now() + HOUR, { v: 1 }));
      await store.destroy('d');
      await store.touch('d', sess(Date.now() + HOUR, { v: 2 }));
      expect(await store.get('d')).toBeNull();
      const [rows] = await pool.query<mysql.RowDataPacket[]>(`SELECT session_id FROM \`${table}\` WHERE session_id = 'd'`);
      expect(rows).toEqual([]);
      await store.set('k', sess(Date.now() + HOUR, { v: 1 }));
      await store.touch('k', sess(Date.now() + 2 * HOUR, { v: 2 }));
      expect(await store.get('k')).toMatchObject({ v: 1 });
    });

    it('pages through all()/ids() by sid and scopes bulk operations to its table', async () => {
      const a = open({ schema: { tableName: uniqueName('pa') } });
      const b = open({ schema: { tableName: uniqueName('pb') } });
      const n = 1203; // three pages of 500
      const values: unknown[] = [];
      await a.ready();
      const expires = Date.now() + HOUR;
      for (let i = 0; i < n; i++)
        values.push([`s${String(i).padStart(5, '0')}`, Math.round(expires / 1000), JSON.stringify(sess(expires, { i })), expires]);
      await pool.query(`INSERT INTO ${a.table} (session_id, expires, data, expires_ms) VALUES ?`, [values]);
      await b.set('other', sess(Date.now() + HOUR));
      const ids = await a.ids();
      expect(ids).toHaveLength(n);
      expect(new Set(ids).size).toBe(n);
      expect(Object.keys(await a.all())).toHaveLength(n);
      expect(await a.length()).toBe(n);
      await a.clear();
      expect(await a.length()).toBe(0);
      expect(await b.ids()).toEqual(['other']);
    });
  });

  describe('sids the table cannot hold exactly', () => {
    it('are rejected: longer than the column, or ending with a space on a PAD SPACE table', async () => {
      const table = uniqueName('pad');
      await pool.query(
        `CREATE TABLE \`${table}\` (session_id varchar(40) COLLATE utf8mb4_bin NOT NULL, expires int unsigned NOT NULL,
         data mediumtext COLLATE utf8mb4_bin, PRIMARY KEY (session_id)) ENGINE=InnoDB`,
      );
      const store = open({ schema: { tableName: table } });
      await store.set('ab', sess(Date.now() + HOUR, { who: 'ab' }));
      await expect(store.set('ab ', sess(Date.now() + HOUR, { who: 'ab ' }))).rejects.toMatchObject({ code: 'SESSION_STORE_INVALID_SID' });
      await expect(store.get('ab ')).rejects.toMatchObject({ code: 'SESSION_STORE_INVALID_SID' });
      await expect(store.set('x'.repeat(41), sess(Date.now() + HOUR))).rejects.toMatchObject({ code: 'SESSION_STORE_INVALID_SID' });
      await store.set('😀'.repeat(40), sess(Date.now() + HOUR, { emoji: true })); // 40 characters, 80 UTF-16 units
      expect(await store.get('😀'.repeat(40))).toMatchObject({ emoji: true });
      expect(await store.get('ab')).toMatchObject({ who: 'ab' });
      // Our own table does not pad: both are sessions of their own.
      const ours = open({ schema: { tableName: uniqueName('nopad') } });
      await ours.set('ab', sess(Date.now() + HOUR, { who: 'ab' }));
      await ours.set('ab ', sess(Date.now() + HOUR, { who: 'ab ' }));
      expect(await ours.get('ab')).toMatchObject({ who: 'ab' });
      expect(await ours.get('ab ')).toMatchObject({ who: 'ab ' });
      await expect(ours.set('x'.repeat(129), sess(Date.now() + HOUR))).rejects.toMatchObject({ code: 'SESSION_STORE_INVALID_SID' });
    });
  });

  describe('pruning', () => {
    const expired = async (store: MySQLStore, n: number) => {
      const past = Date.now() - HOUR;
      const values = Array.from({ length: n }, (_, i) => [`old${i}`, Math.round(past / 1000), '{}', past]);
      await store.client.query(`INSERT INTO ${store.table} (session_id, expires, data, expires_ms) VALUES ?`, [values]);
    };

    it('deletes expired sessions in bounded batches, even on a pool of one connection', async () => {
      const single = makePool(db.url, { connectionLimit: 1 });
      try {
        const store = new MySQLStore({
          client: single,
          schema: { tableName: uniqueName('prune') },
          clearExpired: false,
          pruneBatchSize: 7,
        });
        await store.ready();
        await expired(store, 30);
        await store.set('live', sess(Date.now() + HOUR));
        const batches: string[] = [];
        const original = single.execute.bind(single);
        const conns = single as unknown as { getConnection: () => Promise<mysql.PoolConnection> };
        const getConnection = conns.getConnection.bind(single);
        conns.getConnection = async () => {
          const conn = await getConnection();
          const exec = conn.execute.bind(conn);
          (conn as unknown as { execute: unknown }).execute = (sql: string, ...rest: unknown[]) => {
            if (sql.startsWith('DELETE')) batches.push(sql);
            return (exec as (...a: unknown[]) => unknown)(sql, ...rest);
          };
          return conn;
        };
        try {
          expect(await store.prune()).toBe(30);
        } finally {
          conns.getConnection = getConnection;
          void original;
        }
        expect(batches).toHaveLength(6); // sessions: 7 + 7 + 7 + 7 + 2, then one batch of tombstones
        expect(batches[0]).toMatch(/LIMIT 7$/);
        expect(await store.ids()).toEqual(['live']);
        await store.close();
      } finally {
        await single.end();
      }
    });

    it('skips the pass while another process holds the pruning lock, and releases it after a pass', async () => {
      const table = uniqueName('lock');
      const store = open({ schema: { tableName: table } });
      await store.ready();
      await expired(store, 3);
      const other = await pool.getConnection();
      try {
        const name = lockName('prune', db.name, table);
        const [[got]] = await other.query<mysql.RowDataPacket[]>('SELECT GET_LOCK(?, 0) AS got', [name]);
        expect(got!['got']).toBe(1);
        expect(await store.prune()).toBe(0);
        await other.query('DO RELEASE_LOCK(?)', [name]);
        expect(await store.prune()).toBe(3);
        const [[free]] = await other.query<mysql.RowDataPacket[]>('SELECT IS_FREE_LOCK(?) AS free', [name]);
        expect(free!['free']).toBe(1);
      } finally {
        other.release();
      }
    });

    it('runs on the interval given in ms (checkExpirationInterval); clearExpired: false turns it off', async () => {
      const store = open({ schema: { tableName: uniqueName('timer') }, clearExpired: true, checkExpirationInterval: 50 });
      await store.ready();
      await expired(store, 2);
      await until(
        async () => (await pool.query<mysql.RowDataPacket[]>(`SELECT COUNT(*) AS n FROM ${store.table}`))[0][0]!['n'] === 0,
        'pruning',
      );
      expect(store.supports.prune).toBe(true);
    });
  });

  describe('revocation and owners', () => {
    it('destroy() leaves a tombstone row (data the JSON null, expiry at the end of the window) in one statement; without revocation, a DELETE', async () => {
      const table = uniqueName('tomb');
      const store = open({ schema: { tableName: table }, revocationWindowMs: 60_000 });
      await store.set('r', sess(Date.now() + HOUR, { v: 1 }));
      const t0 = Date.now();
      await store.destroy('r');
      const [[row]] = await pool.query<mysql.RowDataPacket[]>(`SELECT data, expires, expires_ms FROM \`${table}\``);
      expect(row!['data']).toBe('null');
      expect(Number(row!['expires_ms'])).toBeGreaterThanOrEqual(t0 + 60_000);
      expect(row!['expires']).toBe(Math.round(Number(row!['expires_ms']) / 1000));
      await store.set('r', sess(Date.now() + HOUR, { v: 2 }));
      expect(await store.get('r')).toBeNull();
      await store.touch('r', sess(Date.now() + HOUR));
      expect(await store.get('r')).toBeNull();
      expect(await store.length()).toBe(0);
      expect(await store.ids()).toEqual([]);

      const plain = open({ schema: { tableName: uniqueName('plain') }, revocationWindowMs: false });
      await plain.set('r', sess(Date.now() + HOUR));
      await plain.destroy('r');
      const [rows] = await pool.query<mysql.RowDataPacket[]>(`SELECT * FROM ${plain.table}`);
      expect(rows).toEqual([]);
    });

    it('a tombstone gives way once it has expired, and pruning deletes it', async () => {
      const table = uniqueName('tomb2');
      const store = open({ schema: { tableName: table }, revocationWindowMs: 100 });
      await store.set('r', sess(Date.now() + HOUR));
      await store.destroy('r');
      const [[row]] = await pool.query<mysql.RowDataPacket[]>(`SELECT expires_ms FROM \`${table}\``);
      await until(() => Date.now() > Number(row!['expires_ms']), 'the end of the window');
      await store.set('r', sess(Date.now() + HOUR, { back: true }));
      expect(await store.get('r')).toMatchObject({ back: true });
      await store.destroy('r');
      const [[again]] = await pool.query<mysql.RowDataPacket[]>(`SELECT expires_ms FROM \`${table}\``);
      await until(() => Date.now() > Number(again!['expires_ms']), 'the end of the window');
      await store.prune();
      const [rows] = await pool.query<mysql.RowDataPacket[]>(`SELECT * FROM \`${table}\``);
      expect(rows).toEqual([]);
    });

    it('owner: adds a nullable owner column and its index only when asked, once, and sessionsOf() reads it', async () => {
      const table = uniqueName('owner');
      const plain = open({ schema: { tableName: table } });
      await plain.set('anon', sess(Date.now() + HOUR));
      expect((await columns(table)).map((c) => c[0])).toEqual(['session_id', 'expires', 'data', 'expires_ms']);
      const store = open({ schema: { tableName: table }, owner: 'user' });
      await store.set('a1', sess(Date.now() + HOUR, { user: 'alice' }));
      await store.set('a2', sess(Date.now() + HOUR, { user: 'alice' }));
      await store.set('b1', sess(Date.now() + HOUR, { user: 'bob' }));
      const long = 'l'.repeat(300);
      await store.set('l1', sess(Date.now() + HOUR, { user: long }));
      expect((await columns(table)).map((c) => c[0])).toEqual(['session_id', 'expires', 'data', 'expires_ms', 'owner']);
      expect((await store.sessionsOf('alice')).map((s) => s.sid).sort()).toEqual(['a1', 'a2']);
      expect((await store.sessionsOf(long)).map((s) => s.sid)).toEqual(['l1']);
      expect(await store.destroyOwner('alice', { except: 'a2' })).toBe(1);
      expect((await store.sessionsOf('alice')).map((s) => s.sid)).toEqual(['a2']);
      const [[tomb]] = await pool.query<mysql.RowDataPacket[]>(`SELECT owner, data FROM \`${table}\` WHERE session_id = 'a1'`);
      expect(tomb).toMatchObject({ owner: null, data: 'null' });
      const [explain] = await pool.query<mysql.RowDataPacket[]>(`EXPLAIN SELECT session_id FROM \`${table}\` WHERE owner = 'bob'`);
      expect(explain[0]!['key']).toBe('session_stores_owner');
      // A second store with the option adds nothing.
      const again = open({ schema: { tableName: table }, owner: 'user' });
      await again.ready();
      expect((await columns(table)).length).toBe(5);
    });

    it('owner: without createDatabaseTable, opening fails cleanly while the column is missing', async () => {
      const table = uniqueName('owner2');
      await open({ schema: { tableName: table } }).ready();
      const store = open({ schema: { tableName: table }, owner: 'user', createDatabaseTable: false });
      await expect(store.ready()).rejects.toMatchObject({
        code: 'SESSION_STORE_BACKEND',
        message: expect.stringMatching(/no owner column/),
      });
    });
  });

  describe('pool ownership and health', () => {
    it('ends a pool it created (URL or options) and only that one; endConnectionOnClose decides', async () => {
      const table = uniqueName('own');
      const u = new URL(db.url);
      const fromUrl = new MySQLStore(db.url.replace(/\/$/, ''));
      const fromOptions = new MySQLStore({
        host: u.hostname,
        port: Number(u.port),
        user: 'root',
        password: '',
        database: db.name,
        schema: { tableName: table },
        clearExpired: false,
      });
      await fromUrl.ready();
      await fromOptions.set('a', sess(Date.now() + HOUR));
      await fromUrl.close();
      await fromOptions.close();
      await expect(fromOptions.client.query('SELECT 1')).rejects.toThrow(/closed/i);
      const kept = makePool(db.url);
      const ends = new MySQLStore({ client: kept, schema: { tableName: table }, endConnectionOnClose: true, clearExpired: false });
      expect(await ends.get('a')).not.toBeNull();
      await ends.close();
      await expect(kept.query('SELECT 1')).rejects.toThrow(/closed/i);
    });

    it('survives idle connections being killed: no crash, no lasting disconnect', async () => {
      const own = makePool(db.url, { connectionLimit: 3 });
      const store = new MySQLStore({
        client: own,
        schema: { tableName: uniqueName('kill') },
        clearExpired: false,
        reconnectCheckIntervalMs: 50,
      });
      const events: string[] = [];
      store.on('disconnect', () => events.push('disconnect'));
      store.on('connect', () => events.push('connect'));
      try {
        await Promise.all([0, 1, 2].map((i) => store.set(`s${i}`, sess(Date.now() + HOUR))));
        const [ids] = await pool.query<mysql.RowDataPacket[]>(
          `SELECT ID AS id FROM information_schema.PROCESSLIST WHERE DB = ? AND ID <> CONNECTION_ID()`,
          [db.name],
        );
        const [mine] = await own.query<mysql.RowDataPacket[]>('SELECT CONNECTION_ID() AS id');
        for (const { id } of ids) if (id !== mine[0]!['id']) await pool.query(`KILL ${Number(id)}`).catch(() => {});
        await pool.query(`KILL ${Number(mine[0]!['id'])}`).catch(() => {});
        for (let i = 0; i < 3; i++) expect(await store.get(`s${i}`)).not.toBeNull();
        expect(store.connected).toBe(true);
        expect(events.filter((e) => e === 'disconnect').length).toBe(events.filter((e) => e === 'connect').length);
      } finally {
        await store.close();
        await own.end();
      }
    });

    it("emits 'disconnect' when the server is unreachable, fails cleanly, and keeps checking", async () => {
      const port = await freePort();
      const store = new MySQLStore({
        uri: `mysql://root@127.0.0.1:${port}/x`,
        poolOptions: { connectTimeout: 1000 },
        clearExpired: false,
        reconnectCheckIntervalMs: 50,
      });
      const events: string[] = [];
      store.on('disconnect', () => events.push('disconnect'));
      store.on('error', () => {});
      await expect(store.get('x')).rejects.toMatchObject({ code: 'SESSION_STORE_BACKEND' });
      await until(() => events.includes('disconnect'), "'disconnect'");
      expect(store.connected).toBe(false);
      await store.close();
    });
  });

  describe('express-mysql-session API', () => {
    it('onReady() resolves once the table exists; clearExpiredSessions(callback) prunes', async () => {
      const store = open({ schema: { tableName: uniqueName('api') } });
      await store.onReady();
      const past = Date.now() - HOUR;
      await pool.query(`INSERT INTO ${store.table} (session_id, expires, data) VALUES ('old', ?, '{}')`, [Math.round(past / 1000)]);
      await new Promise<void>((resolve, reject) => store.clearExpiredSessions((err) => (err ? reject(err) : resolve())));
      const [rows] = await pool.query<mysql.RowDataPacket[]>(`SELECT * FROM ${store.table}`);
      expect(rows).toEqual([]);
    });

    it('expiration (ms) is the default TTL; checkExpirationInterval is pruneIntervalMs', async () => {
      const store = open({ schema: { tableName: uniqueName('exp') }, expiration: 90_000 });
      expect(store.ttl).toBe(90);
      const t0 = Date.now();
      await store.set('b', { cookie: { originalMaxAge: null, expires: null, httpOnly: true, path: '/' } } as never);
      const [[row]] = await pool.query<mysql.RowDataPacket[]>(`SELECT expires_ms FROM ${store.table}`);
      expect(Number(row!['expires_ms']) - t0).toBeGreaterThanOrEqual(90_000);
      expect(Number(row!['expires_ms']) - Date.now()).toBeLessThanOrEqual(90_000);
    });
  });
});

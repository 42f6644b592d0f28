import mysqlCore from 'mysql2';
import mysql from 'mysql2/promise';
import type { Pool, PoolOptions, ResultSetHeader, RowDataPacket } from 'mysql2/promise';
import type { Pool as CorePool } from 'mysql2';
import { ErrorCode, SessionStoreError } from '../../shared/errors.js';
import { bool, intervalMs, num, obj, renamed, str } from '../../shared/options.js';
import type { Alias, Check } from '../../shared/options.js';
import { type SessionMap, SessionStore, storeOptions } from '../../shared/store.js';
import { subscribe, watchClient } from '../../shared/watch.js';
import type { BaseStoreOptions, StoredRecord, WriteContext } from '../../shared/types.js';
import { diagnose, isConnectionError } from './connection-errors.js';
import {
  DEFAULT_COLUMNS,
  type Layout,
  PAGE_SIZE,
  type Statements,
  TOMBSTONE,
  expiryOf,
  layout,
  lockName,
  ownerKey,
  secondsOf,
  statements,
} from './sql.js';
import { type TableInfo, prepareTable } from './table.js';

/** express-mysql-session's default `checkExpirationInterval`: 15 minutes. */
const DEFAULT_PRUNE_MS = 900_000;
/** The longest sid express-mysql-session's `session_id varchar(128)` holds, until the store has read the column. */
const DEFAULT_SID_CHARS = 128;
/** express-mysql-session's connection options, passed to the pool the store creates. */
const CONNECTION_OPTIONS = [
  'host',
  'port',
  'user',
  'password',
  'database',
  'waitForConnections',
  'connectionLimit',
  'maxIdle',
  'idleTimeout',
  'queueLimit',
] as const;

/** express-mysql-session's `schema` option: the table and its column names. */
export interface MySQLSchemaOptions {
  /** Table name, `'sessions'` by default; `'db.sessions'` names a database too (as express-mysql-session). */
  tableName?: string;
  /**
   * Column names. `session_id`, `expires` and `data` are express-mysql-session's; `expires_ms` (millisecond
   * expiry) and `owner` (the `owner` option) are the nullable columns only this store adds and reads.
   */
  columnNames?: {
    session_id?: string;
    expires?: string;
    data?: string;
    expires_ms?: string;
    owner?: string;
  };
}

/** Options of {@link MySQLStore}: express-mysql-session's names and units, plus the shared options. */
export interface MySQLStoreOptions extends BaseStoreOptions<string> {
  /**
   * A mysql2 pool to use: a `mysql2/promise` pool, or a callback pool (`mysql2.createPool()`, used through its
   * `.promise()`). express-mysql-session takes it as the constructor's second argument, also accepted. The store
   * ends it on `close()` only with `endConnectionOnClose: true`.
   */
  client?: Pool | CorePool;
  /** A connection URL (`mysql://user:pass@host:3306/db`) for a pool the store creates and ends on `close()`. */
  uri?: string;
  /** Full mysql2 pool options for a pool the store creates (the connection options below are merged into them). */
  poolOptions?: PoolOptions;
  /** Server host for a pool the store creates (express-mysql-session's connection options). */
  host?: string;
  /** Server port. */
  port?: number;
  /** User name. */
  user?: string;
  /** Password. */
  password?: string;
  /** Database of the table (unless `schema.tableName` names one). */
  database?: string;
  /** mysql2: wait for a free connection rather than fail (default true). */
  waitForConnections?: boolean;
  /** mysql2: connections in the pool (default 10). */
  connectionLimit?: number;
  /** mysql2: idle connections kept. */
  maxIdle?: number;
  /** mysql2: ms before an idle connection is closed. */
  idleTimeout?: number;
  /** mysql2: queued requests for a connection before failing (0: no limit). */
  queueLimit?: number;
  /** The table and its column names (express-mysql-session's option). */
  schema?: MySQLSchemaOptions;
  /**
   * Create the table when it is missing, and add the nullable `expires_ms` column (and `owner`, with the `owner`
   * option) to an existing one. Idempotent and safe when many processes start at once (`GET_LOCK`). Default true,
   * as express-mysql-session.
   */
  createDatabaseTable?: boolean;
  /**
   * Create the index on `expires` with the table (when the store creates it; an existing index is never dropped or
   * added). Default `true`: pruning then finds expired rows through the index. But every `touch()` and `set()` then
   * moves an index entry as well as the row, about 14% of a touch's cost on the server (MariaDB 10.11, measured with
   * 20,000 rows of 5 KB); express-mysql-session's table has no such index. With `false`, touches cost the server
   * what that store's do, and each pruning batch scans the table instead: fine for tens of thousands of sessions,
   * costly for millions. To drop an index an older store created: ``DROP INDEX session_stores_expires ON sessions``.
   */
  expiresIndex?: boolean;
  /** Delete expired sessions periodically (express-mysql-session's option). Default true; false disables pruning. */
  clearExpired?: boolean;
  /**
   * express-mysql-session's name for `pruneIntervalMs`, in **milliseconds**. Default 900000 (15 minutes). Only one
   * process prunes a table at a time, across all servers (`GET_LOCK`).
   */
  checkExpirationInterval?: number;
  /**
   * express-mysql-session's name for the default TTL, in **milliseconds** (`ttl` is in seconds). Default 86400000
   * (one day). Only for sessions whose cookie has no `expires`.
   */
  expiration?: number;
  /** End the pool on `close()`. Default: true when the store created the pool, false for one you passed in. */
  endConnectionOnClose?: boolean;
}

const POOL_CHECK: Check = (value, name) => {
  if (!isPromisePool(value) && !isCorePool(value)) {
    throw new SessionStoreError(
      ErrorCode.INVALID_OPTION,
      `${name} must be a mysql2 pool (mysql2/promise createPool() or mysql2 createPool()); a single connection cannot serve concurrent requests`,
    );
  }
  return value;
};

const SCHEMA_CHECK: Check = (value, name) => {
  obj(value, name);
  const { tableName, columnNames, ...rest } = value as MySQLSchemaOptions;
  const extra = Object.keys(rest);
  if (extra.length > 0) throw new SessionStoreError(ErrorCode.INVALID_OPTION, `${name} has unknown keys: ${extra.join(', ')}`);
  if (tableName !== undefined) str()(tableName, `${name}.tableName`);
  if (columnNames !== undefined) {
    obj(columnNames, `${name}.columnNames`);
    for (const [key, column] of Object.entries(columnNames)) {
      if (!Object.hasOwn(DEFAULT_COLUMNS, key)) {
        throw new SessionStoreError(
          ErrorCode.INVALID_OPTION,
          `${name}.columnNames has an unknown column "${key}"; the configurable columns are ${Object.keys(DEFAULT_COLUMNS).join(', ')}`,
        );
      }
      if (column !== undefined) str()(column, `${name}.columnNames.${key}`);
    }
  }
  return value;
};

/** `expiration` (ms) → `ttl` (seconds). */
const EXPIRATION: Alias = { to: 'ttl', convert: (value, name) => (num(1)(value, name) as number) / 1000 };

const OPTIONS = {
  options: {
    client: POOL_CHECK,
    uri: str(),
    poolOptions: obj,
    host: str(),
    port: num(0, { max: 65_535, integer: true }),
    user: str({ allowEmpty: true }),
    password: str({ allowEmpty: true }),
    database: str(),
    waitForConnections: bool,
    connectionLimit: num(0, { integer: true }),
    maxIdle: num(0, { integer: true }),
    idleTimeout: num(0),
    queueLimit: num(0, { integer: true }),
    schema: SCHEMA_CHECK,
    createDatabaseTable: bool,
    expiresIndex: bool,
    clearExpired: bool,
    endConnectionOnClose: bool,
  },
  aliases: {
    checkExpirationInterval: { to: 'pruneIntervalMs', convert: (value: unknown, name: string) => intervalMs(value, name) },
    expiration: EXPIRATION,
    connection: renamed('client'),
  },
  ignored: {
    charset: 'express-mysql-session accepts it and never uses it; the store creates utf8mb4 columns',
  },
};

interface Row extends RowDataPacket {
  sid?: string;
  data: string | null;
  expires: number;
  expires_ms: number | string | null;
}

/**
 * A MySQL / MariaDB session store on a `mysql2` pool, a drop-in replacement for express-mysql-session: the same
 * `sessions` table (`session_id varchar(128)` primary key, `expires int unsigned` epoch seconds, `data mediumtext`),
 * the same option names, and both stores can run side by side during a migration. On top of it: millisecond expiry
 * (a nullable `expires_ms` column the incumbent ignores), one round trip per operation with prepared statements,
 * keyset-paginated `all`/`ids` and batched `clear`, a touch that never resurrects, table creation that is safe under
 * concurrency and pruning in bounded batches by one process at a time (both `GET_LOCK`), `'connect'`/`'disconnect'`
 * events, revocation tombstones and the owner index.
 *
 * @example
 * ```ts
 * import mysql from 'mysql2/promise';
 * import { MySQLStore } from 'session-stores/mysql';
 * const store = new MySQLStore({ client: mysql.createPool('mysql://root@127.0.0.1:3306/app') });
 * ```
 */
export class MySQLStore extends SessionStore<string, SessionMap> {
  /** The pool the store queries (a `mysql2/promise` pool). */
  readonly client: Pool;
  /** The quoted, possibly database-qualified table name, as it appears in the store's SQL. */
  readonly table: string;

  readonly #layout: Layout;
  /** The callback pool under {@link client}, which the statements of the hot path go through. */
  readonly #core: CorePool;
  readonly #endOnClose: boolean;
  readonly #createTable: boolean;
  readonly #expiresIndex: boolean;
  readonly #owners: boolean;
  readonly #prunes: Map<number, [sessions: string, tombstones: string]> = new Map();
  #sql: Statements;
  #info: TableInfo | undefined;
  #sidChars = DEFAULT_SID_CHARS;
  #padsSpaces = true;
  #pruneLock = '';
  #unwatch: () => void;

  /**
   * @param options options, a mysql2 pool, or a connection URL
   * @param connection express-mysql-session's second argument: the pool to use (same as `options.client`)
   */
  constructor(options: MySQLStoreOptions | Pool | CorePool | string = {}, connection?: Pool | CorePool) {
    const given =
      typeof options === 'string' ? { uri: options } : isPromisePool(options) || isCorePool(options) ? { client: options } : options;
    const input = connection === undefined ? given : { ...given, client: connection };
    const opts = storeOptions<MySQLStoreOptions>(input, OPTIONS);
    const name = layout(opts.schema?.tableName ?? 'sessions', opts.schema?.columnNames);
    const prune = opts.clearExpired === false ? false : opts.pruneIntervalMs;
    super(
      { ...opts, pruneIntervalMs: prune },
      {
        name: 'mysql',
        pruneIntervalMs: DEFAULT_PRUNE_MS,
        namespace: name.table,
        capabilities: { revocation: true },
      },
    );
    this.#layout = name;
    this.table = name.table;
    this.#owners = opts.owner !== undefined;
    this.#createTable = opts.createDatabaseTable !== false;
    this.#expiresIndex = opts.expiresIndex !== false;
    const given2 = opts.client;
    this.#endOnClose = opts.endConnectionOnClose ?? given2 === undefined;
    this.client = given2 === undefined ? mysql.createPool(poolConfig(opts)) : isCorePool(given2) ? given2.promise() : given2;
    // Until the store has read the table, it assumes express-mysql-session's layout (no extra columns).
    this.#sql = statements(name, { ms: false, owner: false });
    // One listener per pool: a connection dying in the pool (a server restart) makes the store check the server.
    const core = (this.client as unknown as { pool: CorePool }).pool;
    this.#core = core;
    this.#unwatch = watchClient<unknown>(
      core,
      (emit) =>
        subscribe(core, [
          [
            'connection',
            (conn: mysqlCore.PoolConnection) => {
              conn.on('error', emit);
            },
          ],
        ]),
      (err) => {
        if (isConnectionError(err)) this.checkConnection();
      },
      'pool connection errors',
    );
  }

  /** @deprecated express-mysql-session's name of {@link client}. */
  get connection(): Pool {
    return this.client;
  }

  /** What the store found when it opened: the database, the server version, the table's columns. */
  get tableInfo(): Readonly<TableInfo> | undefined {
    return this.#info;
  }

  /** express-mysql-session's name for {@link ready}: resolves once the table is ready. */
  onReady(): Promise<void> {
    return this.ready();
  }

  /**
   * express-mysql-session's name for {@link prune}: deletes expired sessions now.
   * @param callback called with `null` or the error
   */
  clearExpiredSessions(callback?: (err: Error | null) => void): Promise<void> {
    const done = this.prune().then(() => undefined);
    if (callback)
      done.then(
        () => callback(null),
        (err: Error) => callback(err),
      );
    return done;
  }

  protected override async _open(): Promise<void> {
    let info: TableInfo;
    try {
      info = await prepareTable(this.client, this.#layout, {
        create: this.#createTable,
        expiresIndex: this.#expiresIndex,
        owner: this.#owners,
        lockTimeoutSeconds: 30,
      });
    } catch (err) {
      // The base diagnoses failed operations, not a failed open: an unreachable server must say 'disconnect' too.
      if (diagnose(err) !== undefined) this.checkConnection();
      throw err;
    }
    this.#info = info;
    if (info.msColumnError !== undefined) this.emitError(info.msColumnError);
    this.#sql = statements(this.#layout, info.features);
    this.#sidChars = info.sidChars ?? Number.MAX_SAFE_INTEGER;
    this.#padsSpaces = info.padsSpaces;
    this.#pruneLock = lockName('prune', info.database, this.#layout.rawTable);
    this.#prunes.clear();
    if (!info.features.ms) this.declareCapabilities({ msPrecision: false });
  }

  protected override async _get(sid: string): Promise<StoredRecord | null> {
    this.#checkSid(sid);
    const [rows] = await this.#run<Row[]>(this.#sql.get, [sid]);
    const row = rows[0];
    // A tombstone (revocation) is no session, and neither is a row without data.
    if (!row || row.data === null || row.data === TOMBSTONE) return null;
    return { data: row.data, expiresAt: expiryOf(Number(row.expires), msOf(row.expires_ms)) };
  }

  protected override async _set(sid: string, data: string, expiresAt: number, now: number, context: WriteContext): Promise<void> {
    this.#checkSid(sid);
    const features = this.#features();
    const values: Array<string | number | null> = [sid, secondsOf(expiresAt), data];
    if (features.ms) values.push(expiresAt);
    if (features.owner) values.push(context.owner === null ? null : ownerKey(context.owner));
    if (context.guarded) values.push(now);
    await this.#run(context.guarded ? this.#sql.setGuarded : this.#sql.set, values);
  }

  protected override async _touch(sid: string, expiresAt: number, now: number): Promise<boolean> {
    this.#checkSid(sid);
    const values: Array<string | number | null> = [secondsOf(expiresAt)];
    if (this.#features().ms) values.push(expiresAt);
    values.push(sid, now);
    const [result] = await this.#run<ResultSetHeader>(this.#sql.touch, values);
    return matchedRows(result) > 0;
  }

  protected override async _destroy(sid: string, _now: number, tombstoneUntil: number | null): Promise<void> {
    this.#checkSid(sid);
    if (tombstoneUntil === null) {
      await this.#run(this.#sql.destroy, [sid]);
      return;
    }
    const values: Array<string | number | null> = [sid, secondsOf(tombstoneUntil)];
    if (this.#features().ms) values.push(tombstoneUntil);
    await this.#run(this.#sql.tombstone, values);
  }

  protected override async *_entries(now: number): AsyncIterable<[string, StoredRecord]> {
    for await (const row of this.#pages(this.#sql.entriesFirst, this.#sql.entriesNext, now)) {
      if (row.data === null) continue;
      yield [String(row.sid), { data: row.data, expiresAt: expiryOf(Number(row.expires), msOf(row.expires_ms)) }];
    }
  }

  protected override async *_ids(now: number): AsyncIterable<string> {
    for await (const row of this.#pages(this.#sql.idsFirst, this.#sql.idsNext, now)) yield String(row.sid);
  }

  protected override async _length(now: number): Promise<number> {
    const [rows] = await this.#run<RowDataPacket[]>(this.#sql.length, [now]);
    return Number(rows[0]!['n']);
  }

  /** One query on the owner column's index: as many rows as that owner has sessions. */
  protected override async *_sessionsOf(owner: string, now: number): AsyncIterable<[string, StoredRecord]> {
    const [rows] = await this.#run<Row[]>(this.#sql.sessionsOf, [ownerKey(owner), now]);
    for (const row of rows) {
      if (row.data === null) continue;
      yield [String(row.sid), { data: row.data, expiresAt: expiryOf(Number(row.expires), msOf(row.expires_ms)) }];
    }
  }

  protected override async *_clear(): AsyncIterable<number> {
    for (;;) {
      const [result] = await this.#run<ResultSetHeader>(this.#sql.clear);
      yield result.affectedRows;
      if (result.affectedRows === 0) return;
    }
  }

  /**
   * One pass holds `GET_LOCK` on a dedicated connection, so one process prunes a table at a time across every
   * server; another process holding it means this pass is skipped, not queued.
   */
  protected override async *_prune(now: number, batchSize: number): AsyncIterable<number> {
    const conn = await this.client.getConnection();
    let broken = false;
    try {
      const [[got]] = await conn.query<RowDataPacket[]>('SELECT GET_LOCK(?, 0) AS got', [this.#pruneLock]);
      if (Number(got!['got']) !== 1) return;
      try {
        const [sessions, tombstones] = this.#pruneSql(batchSize);
        const values = [Math.floor((now + 500) / 1000), now];
        // On the connection that holds the lock: a pool of one connection must not wait for itself.
        for (;;) {
          const [result] = await conn.execute<ResultSetHeader>(sessions, values);
          yield result.affectedRows;
          if (result.affectedRows < batchSize) break;
        }
        // Expired tombstones go too, but only sessions are counted.
        for (;;) {
          const [result] = await conn.execute<ResultSetHeader>(tombstones, values);
          yield 0;
          if (result.affectedRows < batchSize) break;
        }
      } finally {
        // If unlocking fails, the connection is destroyed below, which ends its session and so releases the lock.
        await conn.query('DO RELEASE_LOCK(?)', [this.#pruneLock]).catch(() => {
          broken = true;
        });
      }
    } catch (err) {
      if (isConnectionError(err)) broken = true;
      throw err;
    } finally {
      if (broken) conn.destroy();
      else conn.release();
    }
  }

  protected override async _ping(): Promise<void> {
    // A fresh connection, not the pool: a pool whose connections the application holds is busy, not down.
    const core = (this.client as unknown as { pool: { config: { connectionConfig: object } } }).pool;
    const source = core.config.connectionConfig;
    const config = Object.create(Object.getPrototypeOf(source), Object.getOwnPropertyDescriptors(source)) as Record<string, unknown>;
    config['pool'] = undefined;
    config['connectTimeout'] = 5000;
    const conn = new mysqlCore.Connection({ config } as never);
    conn.on('error', () => {});
    try {
      await new Promise<void>((resolve, reject) => conn.query('SELECT 1', (err) => (err ? reject(err) : resolve())));
    } finally {
      conn.destroy();
    }
  }

  protected override _diagnose(err: unknown): 'unreachable' | 'unsure' | undefined {
    return diagnose(err);
  }

  protected override async _close(): Promise<void> {
    this.#unwatch();
    if (this.#endOnClose) await this.client.end();
  }

  /**
   * One prepared statement on the pool. A statement that finds its pooled connection already dead (the server
   * closed it while idle: `wait_timeout`, a restart, a proxy) is sent once more, on another connection: every
   * statement of the store is idempotent, and a server that is really gone fails the second attempt too.
   */
  async #run<T extends ResultSetHeader | RowDataPacket[]>(sql: string, values: Array<string | number | null> = []): Promise<[T, unknown]> {
    try {
      return await this.#execute<T>(sql, values);
    } catch (err) {
      if (!isStaleConnection(err)) throw err;
      return this.#execute<T>(sql, values);
    }
  }

  /**
   * `execute` on the promise pool's own callback pool: the same statement, without the stack trace mysql2/promise
   * captures on every call (its `trace` option, on by default; a few microseconds per statement, and the base
   * wraps every failure in an error of its own anyway).
   */
  #execute<T>(sql: string, values: Array<string | number | null>): Promise<[T, unknown]> {
    return new Promise((resolve, reject) => {
      this.#core.execute(sql, values, (err: Error | null, result: unknown, fields: unknown) => {
        if (err) reject(err);
        else resolve([result as T, fields]);
      });
    });
  }

  /** The table's extra columns, once the store has read them (before: none). */
  #features(): { ms: boolean; owner: boolean } {
    return this.#info?.features ?? { ms: false, owner: false };
  }

  #pruneSql(batchSize: number): [sessions: string, tombstones: string] {
    let sql = this.#prunes.get(batchSize);
    if (sql === undefined) {
      sql = [this.#sql.prune(batchSize), this.#sql.pruneTombstones(batchSize)];
      this.#prunes.set(batchSize, sql);
    }
    return sql;
  }

  /**
   * Sids the table cannot hold exactly are rejected before any query: longer than the `session_id` column, or,
   * when its collation pads (express-mysql-session's `utf8mb4_bin` does), ending with a space (`'ab '` would be
   * the same row as `'ab'`).
   */
  #checkSid(sid: string): void {
    if (sid.length > this.#sidChars && [...sid].length > this.#sidChars) {
      throw new SessionStoreError(ErrorCode.INVALID_SID, `sid is longer than the ${this.#sidChars} characters of the session id column`);
    }
    if (this.#padsSpaces && sid.endsWith(' ')) {
      throw new SessionStoreError(
        ErrorCode.INVALID_SID,
        'sid ends with a space, which this table ignores when comparing (its session id column has a PAD SPACE collation)',
      );
    }
  }

  /** Keyset pagination by sid: stable under concurrent writes and never holds a cursor open between batches. */
  async *#pages(first: string, next: string, now: number): AsyncIterable<Row> {
    let last: string | undefined;
    for (;;) {
      const [rows] = await this.#run<Row[]>(last === undefined ? first : next, last === undefined ? [now] : [now, last]);
      yield* rows;
      if (rows.length < PAGE_SIZE) return;
      last = String(rows[rows.length - 1]!.sid);
    }
  }
}

/** A pooled connection that was closed by the server before this statement was sent on it. */
function isStaleConnection(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  const message = String((err as { message?: unknown } | null)?.message ?? '');
  return (
    code === 'PROTOCOL_CONNECTION_LOST' ||
    code === 'ECONNRESET' ||
    code === 'EPIPE' ||
    message.includes("Can't add new command when connection is in closed state")
  );
}

/** `expires_ms` as mysql2 returns a bigint (a number, or a string beyond 2^53 with `bigNumberStrings`). */
function msOf(value: number | string | null): number | null {
  return value === null ? null : Number(value);
}

/**
 * Rows an UPDATE matched, not only those it changed: a touch that sets the same expiry still touched the session.
 * mysql2 reports "Rows matched: n" in `info` (unless the pool has the FOUND_ROWS flag, in which case
 * `affectedRows` already counts them).
 */
function matchedRows(result: ResultSetHeader): number {
  const matched = /Rows matched: (\d+)/.exec(result.info ?? '');
  return matched ? Number(matched[1]) : result.affectedRows;
}

function poolConfig(opts: MySQLStoreOptions): PoolOptions {
  const config: PoolOptions = { ...(opts.uri === undefined ? {} : { uri: opts.uri }), ...(opts.poolOptions ?? {}) };
  for (const key of CONNECTION_OPTIONS) {
    if (opts[key] !== undefined) (config as Record<string, unknown>)[key] = opts[key];
  }
  // Without a connect timeout of our own, a request waits as long as an unreachable server does not answer.
  config.connectTimeout ??= 10_000;
  return config;
}

function isPromisePool(value: unknown): value is Pool {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as { getConnection?: unknown; execute?: unknown; pool?: { config?: { connectionConfig?: unknown } } };
  return typeof v.getConnection === 'function' && typeof v.execute === 'function' && typeof v.pool?.config?.connectionConfig === 'object';
}

function isCorePool(value: unknown): value is CorePool {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as { getConnection?: unknown; promise?: unknown; config?: { connectionConfig?: unknown } };
  return typeof v.getConnection === 'function' && typeof v.promise === 'function' && typeof v.config?.connectionConfig === 'object';
}

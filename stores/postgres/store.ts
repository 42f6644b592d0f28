import pg from 'pg';
import type { Pool, PoolClient, PoolConfig, QueryConfig, QueryResult, QueryResultRow } from 'pg';
import { ErrorCode, SessionStoreError, backendError } from '../../shared/errors.js';
import { SessionStore } from '../../shared/store.js';
import type { BaseStoreOptions, StoredRecord } from '../../shared/types.js';
import { assertNumberOption } from '../../shared/validate.js';
import { isConnectionError } from './connection-errors.js';
import {
  type Statement,
  type Statements,
  type TableName,
  type TableSchema,
  createTableSql,
  lockKey,
  statements,
  tableName,
} from './sql.js';

const DEFAULT_PRUNE_SECONDS = 15 * 60;
const PAGE_SIZE = 500;

/** Options of {@link PostgresStore}: connect-pg-simple's names and units, plus the shared options. */
export interface PostgresStoreOptions extends BaseStoreOptions<string> {
  /** A `pg.Pool` to use. The store never ends a pool it did not create. */
  pool?: Pool;
  /** Connection string for a pool the store creates (and ends on `close()`). Default `process.env.DATABASE_URL`. */
  conString?: string;
  /** Alias of `conString`, as `pg.Pool` spells it. */
  connectionString?: string;
  /** Full `pg.Pool` configuration for a pool the store creates (wins over `conString`). */
  conObject?: PoolConfig;
  /** Schema of the table. Default: none, i.e. the first schema of the `search_path` (usually `public`). */
  schemaName?: string;
  /** Table name. Default `'session'`, connect-pg-simple's. Any text is safe: names are always quoted. */
  tableName?: string;
  /**
   * Column types used when the store creates the table. `'compatible'` (default) is connect-pg-simple's layout
   * (`sess json`, `expire timestamp(6)`): both stores can share the table. `'modern'` (`sess jsonb`,
   * `expire timestamptz(6)`) stores instants that do not depend on the session `TimeZone` and survive DST changes:
   * prefer it for new installs. Reading and writing work the same on both layouts; this only picks the DDL.
   */
  schema?: TableSchema;
  /**
   * Create the schema, table and index on first use when the table does not exist. Idempotent and safe when many
   * instances start at once (serialized by an advisory lock). Default false, as connect-pg-simple.
   */
  createTableIfMissing?: boolean;
  /**
   * Seconds between pruning runs (connect-pg-simple's name and unit; each run waits a jittered 50–150%), or
   * `false` to never prune from this process. Default 900. Only one process prunes a table at a time, across all
   * servers. `pruneIntervalMs`, when given, wins.
   */
  pruneSessionInterval?: number | false;
  /**
   * How often, in milliseconds, to check whether the database is back after a `'disconnect'` (express-session
   * sends no queries to a disconnected store, so the store has to look by itself). Default 1000.
   */
  reconnectCheckIntervalMs?: number;
  /** Called with background failures (pruning, pool errors), like connect-pg-simple's `errorLog`. Default: none. */
  errorLog?: (...args: unknown[]) => void;
  /** Not supported: pass pg-promise's underlying pool as `pool: db.$pool`. */
  pgPromise?: never;
}

/** A checked-out client: `fail()` marks it unusable, `release()` returns (or, after a failure, destroys) it. */
interface Lease {
  client: PoolClient;
  fail: (err: unknown) => void;
  release: () => void;
}

interface Row extends QueryResultRow {
  sid?: string;
  data: string;
  expires: number | null;
}

/**
 * A PostgreSQL session store on a `pg` pool, a drop-in replacement for connect-pg-simple: it reads and writes the
 * same `"session"` table (`sid`, `sess json`, `expire timestamp(6)`) with the same time-zone conventions, so both
 * can run side by side during a migration. On top of it: millisecond expiry, one round trip per operation with
 * prepared statements, `all`/`ids`/`length`/`clear`, a touch that never resurrects, table creation that is safe
 * under concurrency, pruning in bounded batches by one instance at a time (advisory lock), and
 * `'connect'`/`'disconnect'` events.
 *
 * The store attaches an `'error'` listener to the pool (even one you pass in): an idle connection dying when the
 * server restarts must not crash the process. It reports through `'disconnect'` instead.
 *
 * @example
 * ```ts
 * import { PostgresStore } from 'session-stores/postgres';
 * const store = new PostgresStore({ pool, createTableIfMissing: true });
 * app.use(session({ store, secret, resave: false, saveUninitialized: false }));
 * ```
 */
export class PostgresStore extends SessionStore<string> {
  /** The pool the store queries. */
  readonly pool: Pool;
  /** The quoted, possibly schema-qualified table name, as it appears in the store's SQL. */
  readonly table: string;

  readonly #name: TableName;
  readonly #sql: Statements;
  readonly #ownsPool: boolean;
  readonly #createTable: boolean;
  readonly #layout: TableSchema;
  readonly #pruneKey: string;
  readonly #createKey: string;
  readonly #reconnectCheckMs: number;
  readonly #errorLog: ((...args: unknown[]) => void) | undefined;
  readonly #onPoolError = (err: Error): void => this.#poolError(err);
  #ready: Promise<void> | undefined;
  #pruneClient: PoolClient | undefined;
  #probe: NodeJS.Timeout | undefined;
  #probing = false;
  #epoch = 0;
  readonly #passes = new Set<Promise<void>>();

  /** @param options A `pg.Pool`, or options. */
  constructor(options: PostgresStoreOptions | Pool = {}) {
    const opts: PostgresStoreOptions = isPool(options) ? { pool: options } : options;
    if (opts.pgPromise !== undefined) {
      throw new SessionStoreError(ErrorCode.INVALID_OPTION, 'pgPromise is not supported: pass its pool instead (`pool: db.$pool`)');
    }
    const prune = opts.pruneSessionInterval;
    if (prune !== undefined && prune !== false) assertNumberOption('pruneSessionInterval', prune, 0);
    super(
      { ...opts, pruneIntervalMs: opts.pruneIntervalMs ?? (prune === undefined ? undefined : prune === false ? false : prune * 1000) },
      { name: 'postgres', nativeExpiry: false, pruneIntervalMs: DEFAULT_PRUNE_SECONDS * 1000 },
    );
    this.#layout = opts.schema ?? 'compatible';
    if (this.#layout !== 'compatible' && this.#layout !== 'modern') {
      throw new SessionStoreError(ErrorCode.INVALID_OPTION, `schema must be 'compatible' or 'modern'`);
    }
    this.#reconnectCheckMs = opts.reconnectCheckIntervalMs ?? 1000;
    assertNumberOption('reconnectCheckIntervalMs', this.#reconnectCheckMs, 1);
    this.#name = tableName(opts.schemaName, opts.tableName ?? 'session');
    this.table = this.#name.qualified;
    this.#sql = statements(this.#name.qualified);
    this.#pruneKey = lockKey(`session-stores:prune:${this.#name.qualified}`);
    this.#createKey = lockKey(`session-stores:create:${this.#name.qualified}`);
    this.#createTable = opts.createTableIfMissing === true;
    this.#errorLog = opts.errorLog;

    if (opts.pool) {
      this.pool = opts.pool;
      this.#ownsPool = false;
    } else {
      const connectionString = opts.conString ?? opts.connectionString ?? process.env['DATABASE_URL'];
      // A connect timeout: without one, requests hang for as long as an unreachable server does not answer.
      const config: PoolConfig = opts.conObject ?? { connectionString, connectionTimeoutMillis: 10_000 };
      this.pool = new pg.Pool(config);
      this.#ownsPool = true;
    }
    this.pool.on('error', this.#onPoolError);
  }

  /**
   * Resolves once the store can serve requests: with `createTableIfMissing`, once the table exists (created now if
   * needed). Optional: every operation waits for it by itself; await it at startup to fail fast on a bad
   * connection string or missing privileges. Rejects with `SESSION_STORE_BACKEND`.
   */
  async ready(): Promise<void> {
    try {
      await this.#ensureTable();
    } catch (err) {
      throw backendError(err, 'postgres table creation');
    }
  }

  protected override emitError(err: unknown): void {
    super.emitError(err);
    this.#errorLog?.('session-stores postgres:', err);
  }

  // --- hooks ---------------------------------------------------------------------------------------------------

  protected override async _get(sid: string): Promise<StoredRecord | null> {
    const { rows } = await this.#query<Row>(this.#sql.get, [sid]);
    const row = rows[0];
    return row ? { data: row.data, expiresAt: row.expires } : null;
  }

  protected override async _set(sid: string, data: string, expiresAt: number): Promise<void> {
    await this.#query(this.#sql.set, [sid, data, expiresAt]);
  }

  protected override async _touch(sid: string, expiresAt: number, now: number): Promise<boolean> {
    const { rowCount } = await this.#query(this.#sql.touch, [sid, expiresAt, now]);
    return (rowCount ?? 0) > 0;
  }

  protected override async _destroy(sid: string): Promise<void> {
    await this.#query(this.#sql.destroy, [sid]);
  }

  protected override async *_entries(now: number): AsyncIterable<[string, StoredRecord]> {
    for await (const row of this.#pages(this.#sql.entriesFirst, this.#sql.entriesNext, now)) {
      yield [row.sid!, { data: row.data, expiresAt: row.expires }];
    }
  }

  protected override async *_ids(now: number): AsyncIterable<string> {
    for await (const row of this.#pages(this.#sql.idsFirst, this.#sql.idsNext, now)) yield row.sid!;
  }

  protected override async _length(now: number): Promise<number> {
    const { rows } = await this.#query<{ n: number }>(this.#sql.length, [now]);
    return rows[0]!.n;
  }

  protected override async _clear(): Promise<void> {
    await this.#query(this.#sql.clear, []);
  }

  protected override async _pruneBatch(now: number, limit: number): Promise<number> {
    // On the client that holds the pruning lock: a pool of size 1 must not wait for itself.
    const { rowCount } = await this.#query(this.#sql.prune, [now, limit], this.#pruneClient);
    return rowCount ?? 0;
  }

  /**
   * One pruning pass at a time per table across every process: a session-level `pg_try_advisory_lock` held on a
   * dedicated connection for the whole pass. Another process holding it means this pass is skipped, not queued.
   */
  protected override _pruneExclusive<T>(run: () => Promise<T>): Promise<T | undefined> {
    const pass = this.#pruneExclusive(run);
    const settled = pass.then(
      () => {},
      () => {},
    );
    this.#passes.add(settled);
    void settled.finally(() => this.#passes.delete(settled));
    return pass;
  }

  async #pruneExclusive<T>(run: () => Promise<T>): Promise<T | undefined> {
    await this.#ensureTable();
    const lease = await this.#guard(() => this.#checkout());
    const { client } = lease;
    try {
      const { rows } = await this.#query<{ acquired: boolean }>(this.#sql.tryLock, [this.#pruneKey], client);
      if (!rows[0]?.acquired) return undefined;
      this.#pruneClient = client;
      try {
        return await run();
      } finally {
        this.#pruneClient = undefined;
        // If unlocking fails, the client is destroyed below, which ends its session and so releases the lock.
        await client.query({ ...this.#sql.unlock, values: [this.#pruneKey] }).catch((err: unknown) => lease.fail(err));
      }
    } catch (err) {
      // A query error leaves the connection usable; only a dead one must be discarded.
      if (isConnectionError(err)) lease.fail(err);
      throw err;
    } finally {
      lease.release();
    }
  }

  protected override async _close(): Promise<void> {
    this.#stopProbe();
    // A pass in flight stops after its current batch (the base checks `closed`); ending the pool under it would
    // make it fail, and hold its connection.
    await Promise.all(this.#passes);
    // Let a table creation in flight finish: ending the pool under it would fail it with a confusing error.
    await this.#ready?.catch(() => {});
    if (this.#ownsPool) await this.pool.end();
    else this.pool.off('error', this.#onPoolError);
  }

  // --- queries and health --------------------------------------------------------------------------------------

  async #query<R extends QueryResultRow = QueryResultRow>(
    statement: Statement,
    values: unknown[],
    client?: PoolClient,
  ): Promise<QueryResult<R>> {
    await this.#ensureTable();
    const config: QueryConfig = { name: statement.name, text: statement.text, values };
    return this.#guard(() => (client ?? this.pool).query<R>(config));
  }

  /** Runs `op`, keeping `connected` in step with what it tells about the server. */
  async #guard<T>(op: () => Promise<T>): Promise<T> {
    const epoch = this.#epoch;
    try {
      const result = await op();
      if (!this.connected) this.#up();
      return result;
    } catch (err) {
      // A failure of something started before the database came back is old news: ignoring it avoids flapping.
      if (isConnectionError(err) && epoch === this.#epoch) this.#down();
      throw err;
    }
  }

  #up(): void {
    this.#epoch++;
    this.#stopProbe();
    this.setConnected(true);
  }

  #down(): void {
    if (this.closed) return;
    this.setConnected(false);
    if (this.#probe) return;
    this.#probe = setInterval(() => void this.#check(), this.#reconnectCheckMs);
    this.#probe.unref();
  }

  #stopProbe(): void {
    clearInterval(this.#probe);
    this.#probe = undefined;
  }

  /** One health check: a trivial query through the pool. */
  async #check(): Promise<void> {
    if (this.#probing || this.closed) return;
    this.#probing = true;
    try {
      await this.#guard(() => this.pool.query('SELECT 1'));
    } catch {
      // #guard already flipped the state if the server is unreachable; any other failure says nothing about it.
    } finally {
      this.#probing = false;
    }
  }

  /**
   * An idle connection died. That happens when the server restarts, but also when one backend is terminated or a
   * proxy drops idle connections: check the server before telling express-session to stop using the store.
   */
  #poolError(err: Error): void {
    this.emitError(err);
    void this.#check();
  }

  // --- table creation ------------------------------------------------------------------------------------------

  /** Resolves once the table is known to exist (or creation is not wanted); retried after a failure. */
  #ensureTable(): Promise<void> {
    if (!this.#createTable) return Promise.resolve();
    this.#ready ??= this.#guard(() => this.#createTableOnce()).catch((err: unknown) => {
      this.#ready = undefined;
      throw err;
    });
    return this.#ready;
  }

  async #createTableOnce(): Promise<void> {
    const lease = await this.#checkout();
    const { client } = lease;
    try {
      await client.query('BEGIN');
      try {
        // Serializes creators that use this library; the catch below covers those that do not (connect-pg-simple).
        await client.query('SELECT pg_advisory_xact_lock($1::int8)', [this.#createKey]);
        const { rows } = await client.query<{ exists: boolean }>('SELECT to_regclass($1) IS NOT NULL AS exists', [this.#name.qualified]);
        if (!rows[0]!.exists) {
          if (this.#name.schema) {
            // Checked first: CREATE SCHEMA IF NOT EXISTS needs the CREATE privilege even when the schema exists.
            const schema = await client.query<{ exists: boolean }>('SELECT to_regnamespace($1) IS NOT NULL AS exists', [this.#name.schema]);
            if (!schema.rows[0]!.exists) await client.query(`CREATE SCHEMA IF NOT EXISTS ${this.#name.schema}`);
          }
          for (const ddl of createTableSql(this.#name, this.#layout)) await client.query(ddl);
        }
        await client.query('COMMIT');
      } catch (err) {
        await client.query('ROLLBACK').catch(() => {});
        // Another creator won a race we could not serialize (unique_violation on pg_type / duplicate_table or
        // duplicate_schema): fine if the table now exists.
        const code = (err as { code?: string }).code;
        if (code === '23505' || code === '42P07' || code === '42P06') {
          const { rows } = await client.query<{ exists: boolean }>('SELECT to_regclass($1) IS NOT NULL AS exists', [this.#name.qualified]);
          if (rows[0]!.exists) return;
        }
        throw err;
      }
    } catch (err) {
      if (isConnectionError(err)) lease.fail(err);
      throw err;
    } finally {
      lease.release();
    }
  }

  /**
   * A client checked out for several statements. The `'error'` listener is attached inside pg-pool's callback,
   * synchronously: a promise would leave a gap in which a connection killed right after it was handed out (a server
   * shutting down) emits `'error'` with nobody listening, which crashes the process.
   */
  #checkout(): Promise<Lease> {
    return new Promise((resolve, reject) => {
      this.pool.connect((err, client, done) => {
        if (err || !client) return reject(err ?? new Error('pg-pool returned no client'));
        let broken: Error | undefined;
        const onError = (e: Error) => {
          broken ??= e;
        };
        client.on('error', onError);
        resolve({
          client,
          fail: (e) => {
            broken ??= e instanceof Error ? e : new Error(String(e));
          },
          release: () => {
            client.off('error', onError);
            // Releasing with an error destroys the connection rather than reusing it.
            done(broken);
          },
        });
      });
    });
  }

  // --- bulk reads ----------------------------------------------------------------------------------------------

  /** Keyset pagination by sid: stable under concurrent writes and never holds a cursor open between batches. */
  async *#pages(first: Statement, next: Statement, now: number): AsyncIterable<Row> {
    let last: string | undefined;
    for (;;) {
      const { rows } = await this.#query<Row>(
        last === undefined ? first : next,
        last === undefined ? [now, PAGE_SIZE] : [now, PAGE_SIZE, last],
      );
      yield* rows;
      if (rows.length < PAGE_SIZE) return;
      last = rows[rows.length - 1]!.sid!;
    }
  }
}

function isPool(value: unknown): value is Pool {
  return (
    value instanceof pg.Pool ||
    (typeof value === 'object' &&
      value !== null &&
      typeof (value as Pool).connect === 'function' &&
      typeof (value as Pool).query === 'function')
  );
}

import pg from 'pg';
import type { Pool, PoolClient, PoolConfig, QueryConfig, QueryResult, QueryResultRow } from 'pg';
import { ErrorCode, SessionStoreError } from '../../shared/errors.js';
import { any, bool, either, fn, obj, oneOf, renamed, scaled, str } from '../../shared/options.js';
import { type SessionMap, SessionStore, storeOptions } from '../../shared/store.js';
import { subscribe, watchClient } from '../../shared/watch.js';
import type { BaseStoreOptions, StoredRecord, WriteContext } from '../../shared/types.js';
import { diagnose, isConnectionError } from './connection-errors.js';
import { checkout } from './lease.js';
import { type Statement, type Statements, type TableLayout, type TableName, TOMBSTONE, lockKey, statements, tableName } from './sql.js';
import { addOwnerColumnIfMissing, createTableIfMissing } from './table.js';

const DEFAULT_PRUNE_SECONDS = 15 * 60;
const PAGE_SIZE = 500;
/** The primary key's B-tree holds at most 2704 bytes per entry (8 kB pages), headers included. */
const MAX_SID_BYTES = 2600;

/** Options of {@link PostgresStore}: connect-pg-simple's names and units, plus the shared options. */
export interface PostgresStoreOptions extends BaseStoreOptions<string> {
  /** A `pg.Pool` to use (connect-pg-simple calls it `pool`, also accepted). The store never ends a pool it did not create. */
  client?: Pool;
  /** @deprecated connect-pg-simple's name of {@link client}. */
  pool?: Pool;
  /** Connection string for a pool the store creates (and ends on `close()`). Default `process.env.DATABASE_URL`. */
  conString?: string;
  /** Alias of `conString`, as `pg.Pool` spells it. */
  connectionString?: string;
  /** Full `pg.Pool` configuration for a pool the store creates (wins over `conString`). */
  conObject?: PoolConfig;
  /** Schema of the table. Default: none, i.e. the first schema of the `search_path` (usually `public`). */
  schemaName?: string;
  /**
   * Table name. Default `'session'`, connect-pg-simple's. Any text is safe: names are always quoted, so a plain
   * `'app.session'` is one table whose name contains a dot (as in connect-pg-simple), not table `session` of
   * schema `app`: use `schemaName` for that. connect-pg-simple's deprecated quoted form `'app"."session'` is read
   * as schema `app`, table `session`, when `schemaName` is not given.
   */
  tableName?: string;
  /**
   * Column types used when the store creates the table. `'compatible'` (default) is connect-pg-simple's layout
   * (`sess json`, `expire timestamp(6)`): both stores can share the table. `'modern'` (`sess jsonb`,
   * `expire timestamptz(6)`) stores instants that do not depend on the session `TimeZone` and survive DST changes:
   * prefer it for new installs. Reading and writing work the same on both layouts; this only picks the DDL.
   */
  layout?: TableLayout;
  /** @deprecated The old name of {@link layout}. */
  schema?: TableLayout;
  /**
   * Create the schema, table and index on open when the table does not exist. Idempotent and safe when many
   * instances start at once (serialized by an advisory lock). Default false, as connect-pg-simple.
   */
  createTableIfMissing?: boolean;
  /**
   * connect-pg-simple's name for `pruneIntervalMs`, in **seconds** (or `false`). Default 900. Only one process
   * prunes a table at a time, across all servers.
   */
  pruneSessionInterval?: number | false;
  /**
   * connect-pg-simple's pause before each pruning pass: `false` for exactly `pruneSessionInterval` every time, or a
   * function of the interval (ms) returning the pause (ms). Default: a random 50–150% of the interval.
   */
  pruneSessionRandomizedInterval?: false | ((intervalMs: number) => number);
  /** Called with background failures (pruning, pool errors), like connect-pg-simple's `errorLog`. Default: none. */
  errorLog?: (...args: unknown[]) => void;
  /**
   * A pg-promise database object (connect-pg-simple's option): the store uses its pool (`db.$pool`), a `pg.Pool`,
   * and never ends it. Same as `client: db.$pool`.
   */
  pgPromise?: { $pool: unknown };
}

const OPTIONS = {
  options: {
    client: any,
    conString: str(),
    conObject: obj,
    schemaName: str(),
    tableName: str(),
    layout: oneOf('compatible', 'modern'),
    createTableIfMissing: bool,
    errorLog: fn,
    pruneSessionRandomizedInterval: either(oneOf(false), fn),
  },
  aliases: {
    pgPromise: {
      to: 'client',
      convert: (db: unknown, name: string) => {
        const pool = (db as { $pool?: unknown } | null)?.$pool;
        if (typeof pool !== 'object' || pool === null) {
          throw new SessionStoreError(ErrorCode.INVALID_OPTION, `${name} must be a pg-promise database object (with $pool)`);
        }
        return pool;
      },
    },
    pool: renamed('client'),
    connectionString: renamed('conString'),
    schema: renamed('layout'),
    pruneSessionInterval: scaled('pruneIntervalMs', 1000),
  },
};

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
 * Revocation (on unless `revocationWindowMs: false`): `destroy()` turns the row into a tombstone (`sess` the JSON
 * `null`, `expire` the end of the window) that `set` does not replace while it lasts and no read returns;
 * connect-pg-simple reads it as no session. With the `owner` option, the store adds a nullable `"owner"` column and
 * a partial index on it when they are missing (connect-pg-simple names its columns, so it is not disturbed), and
 * `set` writes the owner in its one statement.
 *
 * The store attaches an `'error'` listener to the pool (even one you pass in): an idle connection dying when the
 * server restarts must not crash the process. It checks the server instead, and reports `'disconnect'` if a
 * fresh connection fails too. `close()` removes that listener from a pool you passed in; a pool the store created
 * (and ends) keeps one that ignores errors of connections still closing.
 *
 * @example
 * ```ts
 * import pg from 'pg';
 * import { PostgresStore } from 'session-stores/postgres';
 * const store = new PostgresStore({ client: new pg.Pool(), createTableIfMissing: true });
 * ```
 */
export class PostgresStore extends SessionStore<string, SessionMap> {
  /** The pool the store queries. */
  readonly client: Pool;
  /** The quoted, possibly schema-qualified table name, as it appears in the store's SQL. */
  readonly table: string;

  readonly #name: TableName;
  readonly #sql: Statements;
  readonly #ownsPool: boolean;
  readonly #createTable: boolean;
  readonly #layout: TableLayout;
  readonly #pruneKey: string;
  readonly #errorLog: ((...args: unknown[]) => void) | undefined;
  /** The `owner` option is set: the table has an `"owner"` column, written by every `set`. */
  readonly #owners: boolean;
  #unwatchPool: () => void;

  /** @param options A `pg.Pool`, a connection string, or options. */
  constructor(options: PostgresStoreOptions | Pool | string = {}) {
    const input = typeof options === 'string' ? { conString: options } : isPool(options) ? { client: options } : options;
    const opts = storeOptions<PostgresStoreOptions>(input, OPTIONS);
    if (opts.client !== undefined) assertPool(opts.client);
    const name = resolveTableName(opts.schemaName, opts.tableName ?? 'session');
    const randomized = opts.pruneSessionRandomizedInterval;
    super(opts, {
      name: 'postgres',
      pruneIntervalMs: DEFAULT_PRUNE_SECONDS * 1000,
      pruneDelay: randomized === false ? (ms) => ms : randomized,
      namespace: name.qualified,
      maxSidBytes: MAX_SID_BYTES,
      capabilities: { revocation: true },
    });
    this.#name = name;
    this.table = name.qualified;
    this.#owners = opts.owner !== undefined;
    this.#sql = statements(name.qualified, { owner: this.#owners });
    this.#pruneKey = lockKey(`session-stores:prune:${name.qualified}`);
    this.#layout = opts.layout ?? 'compatible';
    this.#createTable = opts.createTableIfMissing === true;
    this.#errorLog = opts.errorLog;
    this.#ownsPool = opts.client === undefined;
    // A connect timeout: without one, a request waits for as long as an unreachable server does not answer.
    this.client =
      opts.client ??
      new pg.Pool(opts.conObject ?? { connectionString: opts.conString ?? process.env['DATABASE_URL'], connectionTimeoutMillis: 10_000 });
    // One 'error' listener per pool, shared by all its stores: a hundred stores on one pool add no listener leak.
    this.#unwatchPool = watchClient<Error>(
      this.client,
      (emit) => subscribe(this.client, [['error', emit]]),
      (err) => {
        this.emitError(err);
        // An idle connection died: a server restart, or just one backend terminated or dropped by a proxy.
        this.checkConnection();
      },
      'pool errors',
    );
  }

  /** @deprecated The old name of {@link client}. */
  get pool(): Pool {
    return this.client;
  }

  /**
   * connect-pg-simple's name for {@link prune}: deletes expired sessions now; the callback gets only the error.
   * @param callback called with `null` or the error
   */
  pruneSessions(callback?: (err: Error | null) => void): void {
    this.prune().then(
      () => callback?.(null),
      (err: Error) => (callback ? callback(err) : this.emitError(err)),
    );
  }

  protected override emitError(err: unknown): void {
    super.emitError(err);
    this.#errorLog?.('session-stores postgres:', err);
  }

  protected override async _open(): Promise<void> {
    const ddlLock = lockKey(`session-stores:create:${this.#name.qualified}`);
    if (this.#createTable) await createTableIfMissing(this.client, this.#name, this.#layout, ddlLock);
    if (this.#owners) await addOwnerColumnIfMissing(this.client, this.#name, ddlLock);
  }

  protected override async _get(sid: string): Promise<StoredRecord | null> {
    const { rows } = await this.#query<Row>(this.#sql.get, [sid]);
    const row = rows[0];
    // A tombstone (revocation) is no session.
    return row && row.data !== TOMBSTONE ? { data: row.data, expiresAt: row.expires } : null;
  }

  protected override async _set(sid: string, data: string, expiresAt: number, now: number, context: WriteContext): Promise<void> {
    const values: unknown[] = [sid, data, expiresAt];
    if (this.#owners) values.push(context.owner);
    if (context.guarded) values.push(now);
    await this.#query(context.guarded ? this.#sql.setGuarded : this.#sql.set, values);
  }

  protected override async _touch(sid: string, expiresAt: number, now: number): Promise<boolean> {
    const { rowCount } = await this.#query(this.#sql.touch, [sid, expiresAt, now]);
    return (rowCount ?? 0) > 0;
  }

  protected override async _destroy(sid: string, _now: number, tombstoneUntil: number | null): Promise<void> {
    if (tombstoneUntil === null) await this.#query(this.#sql.destroy, [sid]);
    else await this.#query(this.#sql.tombstone, [sid, tombstoneUntil]);
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

  /** One query on the partial index of the `"owner"` column: as many rows as that owner has sessions. */
  protected override async *_sessionsOf(owner: string, now: number): AsyncIterable<[string, StoredRecord]> {
    const { rows } = await this.#query<Row>(this.#sql.sessionsOf, [owner, now]);
    for (const row of rows) yield [row.sid!, { data: row.data, expiresAt: row.expires }];
  }

  protected override async *_clear(): AsyncIterable<number> {
    for (;;) {
      const { rowCount } = await this.#query(this.#sql.clear, [PAGE_SIZE]);
      yield rowCount ?? 0;
      // Until a batch finds nothing: a row rewritten between a batch's SELECT and DELETE is taken by the next one.
      if (!rowCount) return;
    }
  }

  /**
   * One pass holds a session-level `pg_try_advisory_lock` on a dedicated connection, so one process prunes a
   * table at a time across every server; another process holding it means this pass is skipped, not queued.
   */
  protected override async *_prune(now: number, batchSize: number): AsyncIterable<number> {
    const lease = await checkout(this.client);
    const { client } = lease;
    try {
      const { rows } = await this.#query<{ acquired: boolean }>(this.#sql.tryLock, [this.#pruneKey], client);
      if (!rows[0]?.acquired) return;
      try {
        for (;;) {
          // On the client that holds the lock: a pool of size 1 must not wait for itself.
          const { rows } = await this.#query<{ n: number; sessions: number }>(this.#sql.prune, [now, batchSize], client);
          // Expired tombstones go too, but only sessions are counted.
          yield rows[0]!.sessions;
          if (rows[0]!.n < batchSize) return;
        }
      } finally {
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

  protected override async _ping(): Promise<void> {
    // A fresh connection, not the pool: a pool whose connections the application holds is busy, not down.
    const client = new pg.Client({ ...this.client.options, connectionTimeoutMillis: 5000 } as pg.ClientConfig);
    client.on('error', () => {});
    try {
      await client.connect();
      await client.query('SELECT 1');
    } finally {
      await client.end().catch(() => {});
    }
  }

  protected override _diagnose(err: unknown): 'unreachable' | 'unsure' | undefined {
    return diagnose(err);
  }

  protected override async _close(): Promise<void> {
    if (this.#ownsPool) {
      // pg-pool's end() resolves before its idle connections have finished closing: a server message arriving in
      // between (a shutting-down server's "terminating connection") comes out as a pool 'error', an uncaught
      // exception if nobody listens. The pool is ours and ended: it keeps a listener that ignores such late errors.
      this.client.on('error', ignoreLateError);
      await this.client.end();
    }
    this.#unwatchPool();
  }

  async #query<R extends QueryResultRow = QueryResultRow>(
    statement: Statement,
    values: unknown[],
    client?: PoolClient,
  ): Promise<QueryResult<R>> {
    const config: QueryConfig = { name: statement.name, text: statement.text, values };
    return (client ?? this.client).query<R>(config);
  }

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

/**
 * connect-pg-simple's deprecated way to name a schema: `tableName: 'app"."session'` (the quotes inside the name)
 * when `schemaName` is not given. A plain `'app.session'` is one table whose name holds a dot, as there.
 */
function resolveTableName(schemaName: string | undefined, table: string): TableName {
  const split = schemaName === undefined ? /^([^"]+)"\."([^"]+)$/.exec(table) : null;
  return split ? tableName(split[1], split[2]!) : tableName(schemaName, table);
}

function isPool(value: unknown): value is Pool {
  return (
    value instanceof pg.Pool ||
    (typeof value === 'object' && value !== null && typeof (value as Pool).connect === 'function' && 'totalCount' in value)
  );
}

/** A `pg.Client` is not a pool: it serves one query at a time and, unconnected, never answers at all. */
function assertPool(value: unknown): asserts value is Pool {
  if (!isPool(value) || typeof (value as Pool).query !== 'function') {
    const client = value instanceof pg.Client || (typeof value === 'object' && value !== null && 'connectionParameters' in value);
    throw new SessionStoreError(
      ErrorCode.INVALID_OPTION,
      client ? 'client must be a pg.Pool, not a pg.Client (pass new pg.Pool(config))' : 'client must be a pg.Pool',
    );
  }
}

/** What a pool the store created and ended does with an error from a connection still closing: nothing. */
function ignoreLateError(): void {}

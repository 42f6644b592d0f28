import Database from 'better-sqlite3';
import type BetterSqlite3 from 'better-sqlite3';
import { ErrorCode, SessionStoreError } from '../../shared/errors.js';
import { type Alias, any, bool, num, obj, renamed, str } from '../../shared/options.js';
import { type SessionMap, SessionStore, storeOptions } from '../../shared/store.js';
import type { BaseStoreOptions, StoredRecord, WriteContext } from '../../shared/types.js';
import { SYNC_BUSY_TIMEOUT_MS, whileBusy } from './busy.js';
import { assertTableName } from './identifier.js';
import { fromIso, toIso } from './iso-time.js';
import { type Statements, TOMBSTONE, applyPragmas, ownersSchemaSql, prepare, schemaSql } from './statements.js';

/** better-sqlite3-session-store's default: every 15 minutes. */
const DEFAULT_PRUNE_INTERVAL_MS = 15 * 60_000;
const DEFAULT_BUSY_TIMEOUT_MS = 5000;
/**
 * Rows per statement of `all()` / `ids()` / `clear()` / pruning: better-sqlite3 runs each synchronously, so each
 * must stay within a few ms (other requests of the process wait meanwhile), and other processes interleave.
 */
const BATCH = 250;

/** Options of {@link SQLiteStore}: the shared options plus where the sessions live. */
export interface SQLiteStoreOptions extends BaseStoreOptions<string> {
  /**
   * An open better-sqlite3 `Database` (better-sqlite3-session-store's option name). The store never closes it
   * and, unless `wal` is given, never changes its settings: it is yours. In SQLite's default rollback-journal mode
   * every write costs several fsyncs and readers block writers: for a web app, put it in WAL mode (`wal: true`,
   * or `journal_mode = WAL` and `synchronous = NORMAL` yourself). Its `busy_timeout` (better-sqlite3's default:
   * 5000 ms) is a *synchronous* wait that freezes the process while another process holds the write lock: set it
   * to a few ms (`db.pragma('busy_timeout = 2')`) and let the store wait asynchronously (`busyTimeoutMs`).
   */
  client?: BetterSqlite3.Database;
  /**
   * A database file the store opens (and creates if missing) itself, in WAL mode with `synchronous = NORMAL`;
   * `close()` closes it. `':memory:'` gives a private in-memory database. Ignored when `client` is given.
   */
  filename?: string;
  /** Extra better-sqlite3 options used when the store opens `filename` (e.g. `{ fileMustExist: true }`). */
  databaseOptions?: BetterSqlite3.Options;
  /**
   * The table holding the sessions; created with an index on `expire` when missing. Default `'sessions'`,
   * better-sqlite3-session-store's table, so switching stores logs nobody out. Quoted as one identifier:
   * any name is stored safely and cannot inject SQL. SQLite compares names case-insensitively: `Sessions` and
   * `sessions` are the same table, and `store.namespace` says so.
   */
  tableName?: string;
  /**
   * Put the database in WAL mode (readers and writers in different processes no longer block each other).
   * Default `true` when the store opens `filename`; on a `client` you pass, the journal mode is left as it is
   * unless you set this to `true` (WAL is a property of the file: it is your call for a database you own).
   */
  wal?: boolean;
  /**
   * How long, in ms, an operation waits for another process's write lock before failing. The store waits
   * asynchronously: the process keeps serving other requests meanwhile. Default 5000 (still bounded by
   * `operationTimeoutMs`).
   */
  busyTimeoutMs?: number;
  /**
   * Create the index on `expire` (when the store creates the table; an existing index is never dropped). Default
   * `true`: pruning then finds expired rows through the index. But every `touch()` and `set()` then rewrites an
   * index entry as well as the row, about 45% of a touch's cost; better-sqlite3-session-store has no such index.
   * With `false`, touches cost what that store's do, and pruning visits the whole table once per pass instead,
   * in windows of `pruneBatchSize` rows by rowid (each one short statement): fine for tens of thousands of
   * sessions, costly for millions. To drop an index an older store created:
   * `DROP INDEX IF EXISTS sessions_expire_idx`.
   */
  expireIndex?: boolean;
  /**
   * better-sqlite3-session-store's pruning options, accepted as aliases: `clear: false` is
   * `pruneIntervalMs: false`, `intervalMs` is `pruneIntervalMs`.
   */
  expired?: { clear?: boolean; intervalMs?: number };
}

/** better-sqlite3-session-store's `expired: { clear, intervalMs }` → `pruneIntervalMs`. */
const expiredAlias: Alias = {
  to: 'pruneIntervalMs',
  convert: (value, name) => {
    const { clear, intervalMs, ...rest } = obj(value, name) as { clear?: unknown; intervalMs?: unknown };
    if (Object.keys(rest).length > 0)
      throw new SessionStoreError(ErrorCode.INVALID_OPTION, `${name} has unknown keys: ${Object.keys(rest).join(', ')}`);
    if (clear !== undefined) bool(clear, `${name}.clear`);
    if (clear === false) return false;
    return intervalMs === undefined ? DEFAULT_PRUNE_INTERVAL_MS : num(1)(intervalMs, `${name}.intervalMs`);
  },
};

const OPTIONS = {
  options: {
    client: any,
    filename: str(),
    databaseOptions: obj,
    tableName: (value: unknown) => {
      assertTableName(value);
      return value;
    },
    wal: bool,
    busyTimeoutMs: num(0),
    expireIndex: bool,
  },
  aliases: { expired: expiredAlias, database: renamed('client') },
};

/**
 * A session store on SQLite through better-sqlite3: one file, no server, safe for several processes (cluster
 * workers) sharing that file. By default it reads and writes better-sqlite3-session-store's table
 * (`sessions(sid, sess, expire)`, `expire` an ISO-8601 string), so it is a drop-in replacement, and adds the
 * index on `expire` that store lacked. Expired sessions are deleted in bounded batches every 15 minutes by
 * default (never keeping the process alive).
 *
 * Revocation (on unless `revocationWindowMs: false`): `destroy()` turns the row into a tombstone (`sess` the text
 * `null`, `expire` the end of the window) that `set` does not replace while it lasts and no read returns;
 * better-sqlite3-session-store reads it as no session. With the `owner` option, sessions are indexed in a side
 * table `<table>_owners(sid, owner)` (a column would break that store's three-value `INSERT`), written in the
 * same transaction as the session.
 *
 * better-sqlite3 is synchronous: each call is one short statement on the calling thread (microseconds in WAL
 * mode). Waiting for another process's lock is asynchronous (see `busyTimeoutMs`), and bulk operations run in
 * batches that let the event loop turn.
 *
 * @example
 * ```ts
 * import { SQLiteStore } from 'session-stores/sqlite';
 * const store = new SQLiteStore({ filename: 'sessions.db' });
 * ```
 */
export class SQLiteStore extends SessionStore<string, SessionMap> {
  /** The table this store uses (unquoted). */
  readonly tableName: string;
  /** The better-sqlite3 `Database` in use (the one you passed, or the one the store opened). */
  readonly client: BetterSqlite3.Database;
  readonly #ownsDb: boolean;
  readonly #wal: boolean;
  readonly #busyTimeoutMs: number;
  /** The `owner` option is set: sessions are indexed in `<table>_owners`. */
  readonly #owners: boolean;
  /** The `expireIndex` option. */
  readonly #expireIndex: boolean;
  #sql: Statements | undefined;

  /**
   * @param dbOrOptions a better-sqlite3 `Database` (used as is, never closed by the store), or options.
   */
  constructor(dbOrOptions: BetterSqlite3.Database | SQLiteStoreOptions) {
    const opts = storeOptions<SQLiteStoreOptions>(isDatabase(dbOrOptions) ? { client: dbOrOptions } : dbOrOptions, OPTIONS);
    const given = opts.client;
    if (given !== undefined && !isDatabase(given))
      throw new SessionStoreError(ErrorCode.INVALID_OPTION, 'client must be a better-sqlite3 Database');
    if (given !== undefined && !given.open) {
      throw new SessionStoreError(ErrorCode.INVALID_OPTION, 'the better-sqlite3 Database passed as client is closed');
    }
    if (given === undefined && opts.filename === undefined) {
      throw new SessionStoreError(ErrorCode.INVALID_OPTION, 'pass a better-sqlite3 Database (client) or a filename');
    }
    // Opened before super(), so a file that cannot be opened throws before anything starts.
    const db = given ?? new Database(opts.filename, { timeout: SYNC_BUSY_TIMEOUT_MS, ...opts.databaseOptions });
    const tableName = opts.tableName ?? 'sessions';
    super(opts, {
      name: 'sqlite',
      pruneIntervalMs: DEFAULT_PRUNE_INTERVAL_MS,
      // Identifiers are case-insensitive in SQLite (for ASCII letters), quoted or not.
      namespace: `${db.name}#${tableName.replace(/[A-Z]/g, (c) => c.toLowerCase())}`,
      capabilities: { revocation: true },
    });
    this.client = db;
    this.tableName = tableName;
    this.#owners = opts.owner !== undefined;
    this.#expireIndex = opts.expireIndex ?? true;
    this.#ownsDb = given === undefined;
    this.#wal = opts.wal ?? this.#ownsDb;
    this.#busyTimeoutMs = opts.busyTimeoutMs ?? DEFAULT_BUSY_TIMEOUT_MS;
  }

  /** @deprecated The old name of {@link client}. */
  get database(): BetterSqlite3.Database {
    return this.client;
  }

  protected override async _open(): Promise<void> {
    const db = this.client;
    await this.#busy(() => {
      // NORMAL is only crash-safe in WAL mode; a rollback journal keeps SQLite's default (FULL).
      applyPragmas(db, { wal: this.#wal, synchronousNormal: this.#ownsDb && this.#wal });
      if (!db.readonly)
        db.exec(schemaSql(this.tableName, { expireIndex: this.#expireIndex }) + (this.#owners ? ownersSchemaSql(this.tableName) : ''));
    });
    this.#sql = prepare(db, this.tableName, { owner: this.#owners });
  }

  protected override async _get(sid: string): Promise<StoredRecord<string> | null> {
    const row = await this.#busy(() => this.#sql!.get.get(sid));
    return live(row) ? { data: text(row.sess), expiresAt: fromIso(row.expire) } : null;
  }

  protected override async _set(sid: string, data: string, expiresAt: number, now: number, context: WriteContext): Promise<void> {
    const sql = this.#sql!;
    const write = (): boolean => {
      const stored = storable(data);
      const { changes } = context.guarded
        ? sql.setGuarded.run(sid, stored, toIso(expiresAt), toIso(now))
        : sql.set.run(sid, stored, toIso(expiresAt));
      return changes > 0;
    };
    const owners = sql.owners;
    if (!owners) {
      await this.#busy(write);
      return;
    }
    // One transaction: the session and its index entry change together, or not at all (a tombstone held).
    await this.#busy(() =>
      this.client.transaction(() => {
        if (!write()) return;
        if (context.owner === null) owners.delete.run(sid);
        else owners.set.run(sid, context.owner);
      })(),
    );
  }

  protected override async _touch(sid: string, expiresAt: number, now: number): Promise<boolean> {
    return (await this.#busy(() => this.#sql!.touch.run(toIso(expiresAt), sid, toIso(now)))).changes > 0;
  }

  protected override async _destroy(sid: string, _now: number, tombstoneUntil: number | null): Promise<void> {
    const sql = this.#sql!;
    const remove = (): void => {
      if (tombstoneUntil === null) sql.destroy.run(sid);
      else sql.tombstone.run(sid, toIso(tombstoneUntil));
    };
    const owners = sql.owners;
    await this.#busy(
      owners
        ? () =>
            this.client.transaction(() => {
              remove();
              owners.delete.run(sid);
            })()
        : remove,
    );
  }

  protected override async *_entries(now: number): AsyncIterable<[string, StoredRecord<string>]> {
    // Keyset pages, each read with one short query: a statement kept open across a `yield` would hold a read
    // transaction (and pin the WAL) for as long as the caller iterates, and would make better-sqlite3 refuse
    // every other statement on this connection meanwhile.
    const cutoff = toIso(now);
    let after = '';
    for (;;) {
      const rows = await this.#busy(() => this.#sql!.entries.all(after, cutoff, BATCH));
      for (const row of rows) yield [row.sid, { data: text(row.sess), expiresAt: fromIso(row.expire) }];
      if (rows.length < BATCH) return;
      after = rows[rows.length - 1]!.sid;
    }
  }

  protected override async *_ids(now: number): AsyncIterable<string> {
    const cutoff = toIso(now);
    let after = '';
    for (;;) {
      const sids = await this.#busy(() => this.#sql!.ids.all(after, cutoff, BATCH));
      yield* sids;
      if (sids.length < BATCH) return;
      after = sids[sids.length - 1]!;
    }
  }

  /**
   * One indexed read of `<table>_owners` joined to the sessions: as many rows as the owner has index entries.
   * Entries whose session is gone (destroyed or pruned by another store on the table), a tombstone or expired are
   * dropped on the way, in the same transaction.
   */
  protected override async *_sessionsOf(owner: string, now: number): AsyncIterable<[string, StoredRecord<string>]> {
    const owners = this.#sql!.owners!;
    const found = await this.#busy(() =>
      this.client.transaction(() => {
        const rows = owners.list.all(owner);
        const out: Array<[string, StoredRecord<string>]> = [];
        for (const row of rows) {
          const expiresAt = live(row) ? fromIso(row.expire) : 0;
          if (expiresAt > now) out.push([row.sid, { data: text(row.sess), expiresAt }]);
          else if (!this.client.readonly) owners.delete.run(row.sid);
        }
        return out;
      })(),
    );
    yield* found;
  }

  protected override async *_clear(): AsyncIterable<number> {
    const sql = this.#sql!;
    for (const clear of sql.owners ? [sql.clear, sql.owners.clear] : [sql.clear]) {
      for (;;) {
        const { changes } = await this.#busy(() => clear.run(BATCH));
        yield changes;
        if (changes < BATCH) break;
      }
    }
  }

  /** Expired sessions and tombstones go alike (with their index entries); only sessions are counted. */
  protected override async *_prune(now: number, batchSize: number): AsyncIterable<number> {
    const sql = this.#sql!;
    const owners = sql.owners;
    const cutoff = toIso(now);
    const step = Math.min(batchSize, BATCH);
    if (!this.#expireIndex) {
      // One pass over the table in rowid windows: each statement scans at most `batchSize` rows. Rows written
      // during the pass (new rowids past the end) are left to the next one.
      const end = await this.#busy(() => sql.maxRowid.get()!);
      for (let from = 0; from < end; from += batchSize) {
        const rows = await this.#busy(() =>
          this.client.transaction(() => {
            const gone = sql.pruneWindow.all(from, from + batchSize, cutoff);
            if (owners) for (const { sid } of gone) owners.delete.run(sid);
            return gone;
          })(),
        );
        yield rows.reduce((n, row) => n + (row.live ? 1 : 0), 0);
      }
      return;
    }
    for (;;) {
      const rows = await this.#busy(() =>
        this.client.transaction(() => {
          const gone = sql.prune.all(cutoff, step);
          if (owners) for (const { sid } of gone) owners.delete.run(sid);
          return gone;
        })(),
      );
      yield rows.reduce((n, row) => n + (row.live ? 1 : 0), 0);
      if (rows.length < step) return;
    }
  }

  protected override async _close(): Promise<void> {
    if (this.#ownsDb && this.client.open) this.client.close();
  }

  #busy<T>(step: () => T): Promise<T> {
    return whileBusy(step, this.#busyTimeoutMs);
  }
}

/** Duck-typed, so a Database from a second copy of better-sqlite3 in node_modules is accepted too. */
function isDatabase(value: unknown): value is BetterSqlite3.Database {
  const db = value as Partial<BetterSqlite3.Database> | null;
  return (
    typeof db === 'object' &&
    db !== null &&
    typeof db.prepare === 'function' &&
    typeof db.exec === 'function' &&
    typeof db.pragma === 'function'
  );
}

// Text SQLite may take for a number literal: digits after optional blanks, a sign or a dot.
const NUMBER_LIKE = /^\s*[+-]?\.?\d/;

/**
 * The `sess` column is declared `JSON`, which SQLite gives NUMERIC affinity: text that reads as a number
 * (`"12e3"`, possible with a custom serializer; never JSON of a session object) would be stored as the number
 * 12000 and lose its spelling. Such payloads go in as UTF-8 BLOBs, which affinity leaves alone.
 */
function storable(data: string): string | Buffer {
  return NUMBER_LIKE.test(data) ? Buffer.from(data, 'utf8') : data;
}

/** Whether `row` is a session (not missing, not a tombstone). */
function live<T extends { sess: unknown }>(row: T | undefined): row is T {
  return row !== undefined && row.sess !== null && row.sess !== TOMBSTONE;
}

/** The stored `sess` as the text that was written (see {@link storable}). */
function text(value: unknown): string {
  if (typeof value === 'string') return value;
  if (Buffer.isBuffer(value)) return value.toString('utf8');
  return String(value);
}

import Database from 'better-sqlite3';
import type BetterSqlite3 from 'better-sqlite3';
import { ErrorCode, SessionStoreError } from '../../shared/errors.js';
import { SessionStore } from '../../shared/store.js';
import type { BaseStoreOptions, StoredRecord } from '../../shared/types.js';
import { assertNumberOption } from '../../shared/validate.js';
import { assertTableName, quoteIdentifier } from './identifier.js';
import { fromIso, toIso } from './iso-time.js';
import { applyPragmas, retryWhileBusy, schemaSql } from './schema.js';

/** better-sqlite3-session-store's default: every 15 minutes. */
const DEFAULT_PRUNE_INTERVAL_MS = 15 * 60_000;
const DEFAULT_BUSY_TIMEOUT_MS = 5000;
/** Rows per `all()` / `ids()` query: each query is a short read transaction, so writers never wait on a listing. */
const LIST_BATCH = 500;

/** Options of {@link SQLiteStore}: the shared options plus where the sessions live. */
export interface SQLiteStoreOptions extends BaseStoreOptions<string> {
  /**
   * An open better-sqlite3 `Database` (better-sqlite3-session-store's option name). The store never closes it
   * and, unless `wal` / `busyTimeoutMs` are given, never changes its settings: it is yours. In SQLite's default
   * rollback-journal mode every write costs several fsyncs (milliseconds each) and readers block writers: for
   * a web app, put it in WAL mode (`wal: true`, or `journal_mode = WAL` and `synchronous = NORMAL` yourself).
   */
  client?: BetterSqlite3.Database;
  /**
   * A database file the store opens (and creates if missing) itself, in WAL mode with a busy timeout and
   * `synchronous = NORMAL`; `close()` closes it. `':memory:'` gives a private in-memory database.
   * Ignored when `client` is given.
   */
  filename?: string;
  /** Extra better-sqlite3 options used when the store opens `filename` (e.g. `{ fileMustExist: true }`). */
  databaseOptions?: BetterSqlite3.Options;
  /**
   * The table holding the sessions; created with an index on `expire` when missing. Default `'sessions'`,
   * better-sqlite3-session-store's table, so switching stores logs nobody out. Quoted as one identifier:
   * any name is stored safely and cannot inject SQL.
   */
  tableName?: string;
  /**
   * Put the database in WAL mode (readers and writers in different processes no longer block each other).
   * Default `true` when the store opens `filename`; on a `client` you pass, the journal mode is left as it is
   * unless you set this to `true` (WAL is a property of the file: it is your call for a database you own).
   */
  wal?: boolean;
  /**
   * How long, in ms, a statement waits for another process's write lock before failing with `SQLITE_BUSY`.
   * Default 5000 when the store opens `filename`; on a `client`, left as configured (better-sqlite3's own
   * default is also 5000) unless given.
   */
  busyTimeoutMs?: number;
  /**
   * better-sqlite3-session-store's pruning options, accepted as aliases: `clear: false` is
   * `pruneIntervalMs: false`, `intervalMs` is `pruneIntervalMs`. `pruneIntervalMs` wins when both are given.
   */
  expired?: { clear?: boolean; intervalMs?: number };
}

interface Statements {
  get: BetterSqlite3.Statement<[string], { sess: unknown; expire: unknown }>;
  set: BetterSqlite3.Statement<[string, string | Buffer, string]>;
  touch: BetterSqlite3.Statement<[string, string, string]>;
  destroy: BetterSqlite3.Statement<[string]>;
  entries: BetterSqlite3.Statement<[string, string, number], { sid: string; sess: unknown; expire: unknown }>;
  ids: BetterSqlite3.Statement<[string, string, number], string>;
  length: BetterSqlite3.Statement<[string], number>;
  clear: BetterSqlite3.Statement<[]>;
  prune: BetterSqlite3.Statement<[string, number]>;
}

/**
 * A session store on SQLite through better-sqlite3: one file, no server, safe for several processes (cluster
 * workers) sharing that file. By default it reads and writes better-sqlite3-session-store's table
 * (`sessions(sid, sess, expire)`, `expire` an ISO-8601 string), so it is a drop-in replacement, and adds the
 * index on `expire` that store lacked. Expired sessions are deleted in bounded batches every 15 minutes by
 * default (never keeping the process alive).
 *
 * better-sqlite3 is synchronous: each call is one short statement on the calling thread (microseconds in WAL
 * mode), and callbacks still run asynchronously.
 *
 * @example
 * ```ts
 * import { SQLiteStore } from 'session-stores/sqlite';
 * app.use(session({ store: new SQLiteStore({ filename: 'sessions.db' }), secret, resave: false, saveUninitialized: false }));
 * // or, with a database you manage: new SQLiteStore(db) / new SQLiteStore({ client: db, tableName: 'web_sessions' })
 * ```
 */
export class SQLiteStore extends SessionStore<string> {
  /** The table this store uses (unquoted). */
  readonly tableName: string;
  readonly #db: BetterSqlite3.Database;
  readonly #ownsDb: boolean;
  readonly #sql: Statements;

  /**
   * @param dbOrOptions a better-sqlite3 `Database` (used as is, never closed by the store), or options.
   */
  constructor(dbOrOptions: BetterSqlite3.Database | SQLiteStoreOptions) {
    const options: SQLiteStoreOptions = isDatabase(dbOrOptions) ? { client: dbOrOptions } : { ...dbOrOptions };
    const { expired } = options;
    const legacyInterval = expired?.clear === false ? false : expired?.intervalMs;
    // Validate before the base starts a pruning timer, so a bad option never leaves a timer behind.
    const tableName = options.tableName ?? 'sessions';
    assertTableName(tableName);
    if (options.busyTimeoutMs !== undefined) assertNumberOption('busyTimeoutMs', options.busyTimeoutMs, 0);
    const client = options.client;
    if (client !== undefined && !isDatabase(client)) {
      throw new SessionStoreError(ErrorCode.INVALID_OPTION, 'client must be a better-sqlite3 Database');
    }
    if (client === undefined && (typeof options.filename !== 'string' || options.filename === '')) {
      throw new SessionStoreError(ErrorCode.INVALID_OPTION, 'pass a better-sqlite3 Database (client) or a filename');
    }
    if (client !== undefined && !client.open) {
      throw new SessionStoreError(ErrorCode.INVALID_OPTION, 'the better-sqlite3 Database passed as client is closed');
    }

    super(
      { ...options, pruneIntervalMs: options.pruneIntervalMs !== undefined ? options.pruneIntervalMs : legacyInterval },
      { name: 'sqlite', nativeExpiry: false, pruneIntervalMs: DEFAULT_PRUNE_INTERVAL_MS },
    );
    this.tableName = tableName;
    const owns = client === undefined;
    this.#ownsDb = owns;
    const busyTimeoutMs = options.busyTimeoutMs ?? (owns ? DEFAULT_BUSY_TIMEOUT_MS : undefined);
    let db: BetterSqlite3.Database | undefined = client;
    try {
      db ??= new Database(options.filename, { timeout: busyTimeoutMs, ...options.databaseOptions });
      const opened = db;
      const wal = options.wal ?? owns;
      retryWhileBusy(() => {
        // NORMAL is only crash-safe in WAL mode; a rollback journal keeps SQLite's default (FULL).
        applyPragmas(opened, { busyTimeoutMs, wal, synchronousNormal: owns && wal });
        if (!opened.readonly) opened.exec(schemaSql(tableName));
      }, busyTimeoutMs ?? DEFAULT_BUSY_TIMEOUT_MS);
      this.#sql = prepare(opened, tableName);
      this.#db = opened;
    } catch (err) {
      // The base may already have started the pruning timer: stop it, and release a file we opened.
      void this.close().catch(() => {});
      if (owns && db?.open) db.close();
      throw err;
    }
  }

  /** The better-sqlite3 `Database` in use (the one you passed, or the one the store opened). */
  get database(): BetterSqlite3.Database {
    return this.#db;
  }

  protected override async _get(sid: string): Promise<StoredRecord<string> | null> {
    const row = this.#sql.get.get(sid);
    return row ? { data: text(row.sess), expiresAt: fromIso(row.expire) } : null;
  }

  protected override async _set(sid: string, data: string, expiresAt: number): Promise<void> {
    this.#sql.set.run(sid, storable(data), toIso(expiresAt));
  }

  protected override async _touch(sid: string, expiresAt: number, now: number): Promise<boolean> {
    return this.#sql.touch.run(toIso(expiresAt), sid, toIso(now)).changes > 0;
  }

  protected override async _destroy(sid: string): Promise<void> {
    this.#sql.destroy.run(sid);
  }

  protected override async *_entries(now: number): AsyncIterable<[string, StoredRecord<string>]> {
    // Keyset pages, each read with one short query: a statement kept open across a `yield` would hold a read
    // transaction (and pin the WAL) for as long as the caller iterates, and would make better-sqlite3 refuse
    // every other statement on this connection meanwhile.
    const cutoff = toIso(now);
    let after = '';
    for (;;) {
      const rows = this.#sql.entries.all(after, cutoff, LIST_BATCH);
      for (const row of rows) yield [row.sid, { data: text(row.sess), expiresAt: fromIso(row.expire) }];
      if (rows.length < LIST_BATCH) return;
      after = rows[rows.length - 1]!.sid;
    }
  }

  protected override async *_ids(now: number): AsyncIterable<string> {
    const cutoff = toIso(now);
    let after = '';
    for (;;) {
      const sids = this.#sql.ids.all(after, cutoff, LIST_BATCH);
      yield* sids;
      if (sids.length < LIST_BATCH) return;
      after = sids[sids.length - 1]!;
    }
  }

  protected override async _length(now: number): Promise<number> {
    return this.#sql.length.get(toIso(now)) ?? 0;
  }

  protected override async _clear(): Promise<void> {
    this.#sql.clear.run();
  }

  protected override async _pruneBatch(now: number, limit: number): Promise<number> {
    return this.#sql.prune.run(toIso(now), limit).changes;
  }

  protected override async _close(): Promise<void> {
    // `#db` is unset when the constructor failed; it closed what it opened then.
    if (this.#ownsDb && this.#db?.open) this.#db.close();
  }
}

function prepare(db: BetterSqlite3.Database, table: string): Statements {
  const t = quoteIdentifier(table);
  return {
    get: db.prepare(`SELECT sess, expire FROM ${t} WHERE sid = ?`),
    // An upsert keeps the rowid (INSERT OR REPLACE deletes and re-inserts, touching every index twice).
    set: db.prepare(
      `INSERT INTO ${t} (sid, sess, expire) VALUES (?, ?, ?) ON CONFLICT (sid) DO UPDATE SET sess = excluded.sess, expire = excluded.expire`,
    ),
    // The `expire > now` guard makes a late touch unable to bring a session back after it expired.
    touch: db.prepare(`UPDATE ${t} SET expire = ? WHERE sid = ? AND expire > ?`),
    destroy: db.prepare(`DELETE FROM ${t} WHERE sid = ?`),
    entries: db.prepare(`SELECT sid, sess, expire FROM ${t} WHERE sid > ? AND expire > ? ORDER BY sid LIMIT ?`),
    ids: db.prepare<[string, string, number], string>(`SELECT sid FROM ${t} WHERE sid > ? AND expire > ? ORDER BY sid LIMIT ?`).pluck(),
    length: db.prepare<[string], number>(`SELECT COUNT(*) FROM ${t} WHERE expire > ?`).pluck(),
    clear: db.prepare(`DELETE FROM ${t}`),
    // Bounded: one batch holds the write lock for `limit` rows at most, then other processes get their turn.
    prune: db.prepare(`DELETE FROM ${t} WHERE rowid IN (SELECT rowid FROM ${t} WHERE expire <= ? LIMIT ?)`),
  };
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

/** The stored `sess` as the text that was written (see {@link storable}). */
function text(value: unknown): string {
  if (typeof value === 'string') return value;
  if (Buffer.isBuffer(value)) return value.toString('utf8');
  return String(value);
}

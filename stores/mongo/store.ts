import { type Collection, type Filter, MongoClient, type UpdateFilter } from 'mongodb';
import { ErrorCode, SessionStoreError, backendError } from '../../shared/errors.js';
import { KeyedQueue } from '../../shared/keyed-queue.js';
import { type SessionMap, SessionStore, storeOptions } from '../../shared/store.js';
import type { StoredRecord, WriteContext } from '../../shared/types.js';
import { type SessionDocument, expiryOf, unexpired } from './document.js';
import { isFerretDB, readThenWrite } from './ferretdb.js';
import { diagnose, watchHealth } from './health.js';
import { ensureExpiryIndex, ensureOwnerIndex } from './indexes.js';
import { mongoCrypto, openPayload, sealPayload } from './crypto.js';
import type { Kruptein } from '../../shared/kruptein.js';
import {
  type AutoRemove,
  DEFAULT_MONGO_TTL_SECONDS,
  MONGO_OPTIONS,
  type MongoSessionPayload,
  type MongoClientLike,
  type MongoStoreOptions,
  isMongoClient,
} from './options.js';
import { resolveSerializer } from './serializers.js';
import { type WriteOutcome, type WriteTarget, upsert, writeTombstone } from './writes.js';

/** Documents per round trip when `all()` / `ids()` stream the collection. */
const CURSOR_BATCH_SIZE = 1000;
/** connect-mongo's `autoRemoveInterval` default: 10 minutes. */
const DEFAULT_PRUNE_MS = 10 * 60_000;

/**
 * How expired sessions are being deleted right now: `'pending'` while the TTL index is being created, then
 * `'native'` (the server's TTL monitor) or `'interval'` (this store prunes; also the fallback when the server
 * rejected the TTL index), or `'disabled'` (nothing deletes them; they are still never returned).
 */
export type AutoRemoveState = 'pending' | AutoRemove;

/**
 * A session store on MongoDB (or a server speaking its wire protocol, such as FerretDB) through the official
 * `mongodb` driver. It reads and writes connect-mongo's layout — collection `sessions`, documents
 * `{ _id: sid, session: "<JSON>", expires: Date, lastModified? }`, TTL index `expires_1` — so switching from
 * connect-mongo, or back, logs nobody out.
 *
 * Unlike connect-mongo: `touch()` of a session that expired or was deleted by the TTL monitor in the meantime
 * succeeds without resurrecting it (connect-mongo #459), `close()` is safe while the index is still being
 * created (#413), `length()` does not count expired sessions, expiry is exact to the millisecond on servers
 * without TTL indexes too, and `'disconnect'` / `'connect'` follow the driver, so express-session degrades
 * cleanly during an outage.
 *
 * **Revocation** (`revocationWindowMs`, on by default): `destroy()` replaces the document, in one `replaceOne`
 * upsert, with a tombstone `{ _id, session: null, expires: <end of the window> }`. A later `set()` is one
 * `updateOne` upsert whose filter skips an unexpired tombstone (`session: { $ne: null }` or `expires <= now`): on a
 * tombstone the upsert's insert fails on the `_id` index (duplicate key, E11000), which the store takes as
 * "refused" and resolves silently; `touch()` never matches a tombstone. Tombstones are never returned, listed or
 * counted, `clear()` deletes them and they expire like sessions (TTL index or pruning). connect-mongo reads a
 * tombstone as no session (`get` gives null); its own `all()` lists a `null` for each and its `length()` counts
 * them, as it counts expired sessions.
 *
 * **Owners** (the `owner` option): each document carries its owner id in an `owner` field (absent for sessions
 * without owner, so connect-mongo's layout is unchanged when the option is not set), with an index `owner_1`
 * created only when the option is set. `sessionsOf()` is one indexed query; a tombstone has no `owner`, so a
 * destroyed session leaves the index with the destroy.
 *
 * @example
 * ```ts
 * import { MongoClient } from 'mongodb';
 * import { MongoStore } from 'session-stores/mongo';
 * const store = new MongoStore({ client: new MongoClient(process.env.MONGODB_URL ?? 'mongodb://127.0.0.1'), dbName: 'app' });
 * ```
 */
export class MongoStore extends SessionStore<MongoSessionPayload, SessionMap> {
  readonly #options: MongoStoreOptions;
  readonly #ownsClient: boolean;
  readonly #id: (sid: string) => string;
  #client: MongoClient | undefined;
  #collection: Collection<SessionDocument> | undefined;
  /** The collection with the write options (set once the store is open). */
  #target!: WriteTarget;
  #stopWatching: (() => void) | undefined;
  #autoRemove: AutoRemoveState;
  /** The server is FerretDB (see `ferretdb.ts`): guarded writes read by _id first, writes of a sid run one at a time. */
  #ferret = false;
  readonly #queue = new KeyedQueue();
  /** connect-mongo's `crypto` format, when its `secret` is given. */
  readonly #kruptein: Kruptein | undefined;

  /** @param clientOrOptions a `MongoClient` (used with every default), or {@link MongoStoreOptions}. */
  constructor(clientOrOptions: MongoClientLike | MongoStoreOptions) {
    const opts = storeOptions<MongoStoreOptions>(
      isMongoClient(clientOrOptions) ? { client: clientOrOptions } : clientOrOptions,
      MONGO_OPTIONS,
    );
    if (!opts.client && !opts.clientPromise && !opts.mongoUrl) {
      throw new SessionStoreError(ErrorCode.INVALID_OPTION, 'MongoStore needs one of client, clientPromise or mongoUrl');
    }
    if (opts.client !== undefined && !isMongoClient(opts.client))
      throw new SessionStoreError(ErrorCode.INVALID_OPTION, 'client must be a MongoClient');
    const autoRemove = opts.autoRemove ?? 'native';
    // Any supported major's client: typed here as this package's driver, whose API the store uses is the same.
    const client =
      (opts.client as MongoClient | undefined) ??
      (opts.mongoUrl !== undefined ? new MongoClient(opts.mongoUrl, opts.mongoOptions) : undefined);
    const collectionName = opts.collectionName ?? 'sessions';
    const dbName = opts.dbName ?? client?.options.dbName;
    const kruptein = mongoCrypto(opts.crypto, opts.encryption);
    super(
      {
        ...opts,
        serializer: resolveSerializer(opts),
        pruneIntervalMs: autoRemove === 'disabled' ? false : opts.pruneIntervalMs,
      },
      {
        name: 'mongo',
        // 'native' prunes only if the server refuses the TTL index (the base then sees nativeExpiry false).
        capabilities: { nativeExpiry: autoRemove === 'native', revocation: true },
        pruneIntervalMs: DEFAULT_PRUNE_MS,
        defaultTtl: DEFAULT_MONGO_TTL_SECONDS,
        namespace: `${dbName ?? '(default database)'}.${collectionName}`,
      },
    );
    this.#options = { ...opts, collectionName };
    this.#kruptein = kruptein;
    this.#client = client;
    // Available at once when the client is (the driver connects on the first operation).
    this.#collection = client?.db(opts.dbName).collection<SessionDocument>(collectionName);
    this.#ownsClient = opts.mongoUrl !== undefined && opts.client === undefined;
    const transform = opts.transformId;
    this.#id = transform ? (sid) => String(transform(sid)) : (sid) => sid;
    this.#autoRemove =
      autoRemove === 'native' ? 'pending' : autoRemove === 'interval' && opts.pruneIntervalMs === false ? 'disabled' : autoRemove;
  }

  /**
   * connect-mongo's factory, so `MongoStore.create({ mongoUrl })` keeps working after switching packages.
   * @param options as for the constructor
   */
  static create(options: MongoClientLike | MongoStoreOptions): MongoStore {
    return new MongoStore(options);
  }

  /** How expired sessions are being deleted now (see {@link AutoRemoveState}). */
  get autoRemove(): AutoRemoveState {
    return this.#autoRemove;
  }

  /** The sessions collection (undefined until the store is open), e.g. to add indexes of your own. */
  get collection(): Collection<SessionDocument> | undefined {
    return this.#collection;
  }

  /** connect-mongo's promise of the sessions collection: resolves once the store is open. */
  get collectionP(): Promise<Collection<SessionDocument>> {
    return this.ready().then(() => this.#collection!);
  }

  /** The client in use (undefined until a `clientPromise` resolves). */
  get client(): MongoClient | undefined {
    return this.#client;
  }

  // --- hooks -------------------------------------------------------------------------------------------------

  protected override async _open(): Promise<void> {
    const opts = this.#options;
    const client = this.#client ?? ((await opts.clientPromise) as MongoClient | undefined)!;
    if (!isMongoClient(client)) throw new SessionStoreError(ErrorCode.INVALID_OPTION, 'clientPromise did not resolve to a MongoClient');
    this.#client = client;
    this.#stopWatching = watchHealth(client, (up) => this.setConnected(up));
    const collection = (this.#collection ??= client.db(opts.dbName).collection<SessionDocument>(opts.collectionName!));
    this.#target = { collection, writeConcern: opts.writeOperationOptions, timestamps: opts.timestamps === true };
    if (opts.owner !== undefined) await ensureOwnerIndex(collection);
    this.#ferret = await isFerretDB(client);
    if (this.#autoRemove !== 'pending') return;
    const outcome = await ensureExpiryIndex(collection, () => this.closed);
    if (outcome.ttl) {
      this.#autoRemove = 'native';
      return;
    }
    if ('error' in outcome) this.emitError(backendError(outcome.error, 'mongo createIndex'));
    this.#autoRemove = opts.pruneIntervalMs === false ? 'disabled' : 'interval';
    this.declareCapabilities({ nativeExpiry: false });
  }

  protected override async _get(sid: string): Promise<StoredRecord<MongoSessionPayload> | null> {
    const doc = await this.#collection!.findOne({ _id: this.#id(sid) }, { projection: { session: 1, expires: 1 } });
    this.emit('get', sid); // connect-mongo's event
    // session null: a tombstone (see the class docs), which is no session.
    return doc && doc.session !== null ? { data: await openPayload(this.#kruptein, doc.session), expiresAt: expiryOf(doc) } : null;
  }

  protected override async _set(
    sid: string,
    data: MongoSessionPayload,
    expiresAt: number,
    now: number,
    context: WriteContext,
  ): Promise<void> {
    const session = this.#kruptein ? await sealPayload(this.#kruptein, data) : data;
    const fields: Partial<SessionDocument> = { session, expires: new Date(expiresAt) };
    // connect-mongo's lazy touch reads lastModified: keep writing it so a mixed fleet keeps working.
    if (this.supports.lazyTouch) fields.lastModified = new Date(now);
    const update: UpdateFilter<SessionDocument> = { $set: fields };
    if (context.owner !== null) fields.owner = context.owner;
    else if (this.supports.owners) update.$unset = { owner: '' };
    if (this.#target.timestamps) {
      update.$setOnInsert = { createdAt: new Date(now) };
      update.$currentDate = { updatedAt: true };
    }
    const id = this.#id(sid);
    const write = (): Promise<WriteOutcome> =>
      this.#ferret && context.guarded
        ? readThenWrite(this.#target, id, fields, update, now)
        : upsert(this.#target, id, update, now, context.guarded);
    return this.#serial(sid, async () => {
      const outcome = await write();
      if (outcome === 'refused') return;
      // connect-mongo's events.
      this.emit(outcome, sid);
      this.emit('set', sid);
    });
  }

  /** Runs a write of `sid` after this process's earlier writes of it on FerretDB (see `#ferret`); at once elsewhere. */
  #serial<T>(sid: string, write: () => Promise<T>): Promise<T> {
    return this.#ferret ? this.#queue.run(sid, write) : write();
  }

  protected override async _touch(sid: string, expiresAt: number, now: number): Promise<boolean> {
    const fields: Partial<SessionDocument> = { expires: new Date(expiresAt) };
    if (this.supports.lazyTouch) fields.lastModified = new Date(now);
    const update: UpdateFilter<SessionDocument> = { $set: fields };
    if (this.#target.timestamps) update.$currentDate = { updatedAt: true };
    // No upsert, and only while unexpired: a session the TTL monitor or a logout removed stays removed, and
    // finding nothing is not an error (express-session would answer 500 on a harmless race otherwise).
    // A tombstone (session null) is never touched: it must expire when the revocation window ends.
    const id = this.#id(sid);
    const filter: Filter<SessionDocument> = { _id: id, expires: { $gt: new Date(now) }, session: { $ne: null } };
    const writeConcern = this.#target.writeConcern;
    const touched = await this.#serial(sid, async () => {
      if (!this.#ferret) return (await this.#collection!.updateOne(filter, update, { writeConcern })).matchedCount > 0;
      // FerretDB v1 serves only a bare `{ _id }` filter from its primary key: any other condition scans the whole
      // collection (explain: pushdown false). So: read by _id, check here, update by _id. Not atomic across
      // processes, and neither is FerretDB v1's own conditional update (it reads, then rewrites the document
      // unconditionally); this process's writes of the sid are serialized by #serial.
      const doc = await this.#collection!.findOne({ _id: id }, { projection: { session: 1, expires: 1 } });
      // As the filter above: only a session (not a tombstone) whose stored expiry is a date after now.
      if (!doc || doc.session === null || !(doc.expires instanceof Date && doc.expires.getTime() > now)) return false;
      return (await this.#collection!.updateOne({ _id: id }, update, { writeConcern })).matchedCount > 0;
    });
    if (!touched) return false;
    this.emit('touch', sid); // connect-mongo's event (it also passes the session, which the store does not see here)
    return true;
  }

  protected override async _destroy(sid: string, _now: number, tombstoneUntil: number | null): Promise<void> {
    const id = this.#id(sid);
    if (tombstoneUntil === null) {
      await this.#serial(sid, () => this.#collection!.deleteOne({ _id: id }, { writeConcern: this.#target.writeConcern }));
    } else {
      await this.#serial(sid, () => writeTombstone(this.#target, id, tombstoneUntil));
    }
    this.emit('destroy', sid); // connect-mongo's event
  }

  protected override async *_entries(now: number): AsyncIterable<[string, StoredRecord<MongoSessionPayload>]> {
    const cursor = this.#collection!.find(unexpired(now), { projection: { session: 1, expires: 1 }, batchSize: CURSOR_BATCH_SIZE });
    for await (const doc of cursor) yield [doc._id, { data: await openPayload(this.#kruptein, doc.session), expiresAt: expiryOf(doc) }];
  }

  protected override async *_ids(now: number): AsyncIterable<string> {
    const cursor = this.#collection!.find(unexpired(now), { projection: { _id: 1 }, batchSize: CURSOR_BATCH_SIZE });
    for await (const doc of cursor) yield doc._id;
  }

  protected override async _length(now: number): Promise<number> {
    return this.#collection!.countDocuments(unexpired(now));
  }

  protected override async *_sessionsOf(owner: string, now: number): AsyncIterable<[string, StoredRecord<MongoSessionPayload>]> {
    const cursor = this.#collection!.find(
      { owner, ...unexpired(now) },
      { projection: { session: 1, expires: 1 }, batchSize: CURSOR_BATCH_SIZE },
    );
    for await (const doc of cursor) yield [doc._id, { data: await openPayload(this.#kruptein, doc.session), expiresAt: expiryOf(doc) }];
  }

  protected override async _clear(): Promise<void> {
    try {
      await this.#collection!.deleteMany({}, { writeConcern: this.#target.writeConcern });
    } catch (err) {
      // A collection that was never created holds no sessions.
      if ((err as { code?: unknown })?.code !== 26) throw err;
    }
  }

  protected override async *_prune(now: number, batchSize: number): AsyncIterable<number> {
    const expired: Filter<SessionDocument> = { expires: { $lte: new Date(now) } };
    for (;;) {
      // deleteMany has no limit: pick a bounded batch first, so one batch never holds the server for long.
      const batch = await this.#collection!.find(expired, { projection: { _id: 1 }, limit: batchSize }).toArray();
      if (batch.length === 0) return;
      // The expiry is checked again: a session saved in between is not deleted.
      const result = await this.#collection!.deleteMany({ ...expired, _id: { $in: batch.map((doc) => doc._id) } });
      yield result.deletedCount;
      if (batch.length < batchSize) return;
    }
  }

  protected override async _ping(): Promise<void> {
    await this.#client!.db('admin').command({ ping: 1 });
  }

  protected override _diagnose(err: unknown): 'unreachable' | 'unsure' | undefined {
    return diagnose(err);
  }

  protected override async _close(): Promise<void> {
    this.#stopWatching?.();
    this.#stopWatching = undefined;
    if (this.#ownsClient) await this.#client?.close();
  }
}

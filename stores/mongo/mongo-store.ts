import { type Collection, type Filter, MongoClient, type UpdateFilter, type WriteConcernSettings } from 'mongodb';
import { ErrorCode, SessionStoreError, backendError } from '../../shared/errors.js';
import { SessionStore } from '../../shared/store.js';
import type { StoredRecord } from '../../shared/types.js';
import { assertNumberOption } from '../../shared/validate.js';
import type { SessionDocument } from './document.js';
import { ensureExpiryIndex } from './expiry-index.js';
import { watchHealth } from './health.js';
import { type AutoRemove, DEFAULT_MONGO_TTL_SECONDS, type MongoSessionPayload, type MongoStoreOptions, isMongoClient } from './options.js';
import { resolveSerializer } from './serializers.js';

/** Documents per round trip when `all()` / `ids()` stream the collection. */
const CURSOR_BATCH_SIZE = 1000;
/** An upsert that loses a race on the _id index is retried this many times in all. */
const UPSERT_ATTEMPTS = 3;
const AUTO_REMOVE_MODES: readonly AutoRemove[] = ['native', 'interval', 'disabled'];

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
 * @example
 * ```ts
 * import { MongoClient } from 'mongodb';
 * import { MongoStore } from 'session-stores/mongo';
 * const client = new MongoClient(process.env.MONGODB_URL!);
 * app.use(session({ store: new MongoStore({ client, dbName: 'app' }), secret, resave: false, saveUninitialized: false }));
 * ```
 */
export class MongoStore extends SessionStore<MongoSessionPayload> {
  /**
   * Settles once the store is set up: the client is known (a `clientPromise` resolved) and, with
   * `autoRemove: 'native'`, the TTL index was created or refused. Never rejects (failures surface on the
   * operations, and on `'error'`). Operations need not wait for it.
   */
  readonly ready: Promise<void>;

  readonly #ownsClient: boolean;
  readonly #collectionReady: Promise<Collection<SessionDocument>>;
  readonly #writeConcern: WriteConcernSettings | undefined;
  readonly #timestamps: boolean;
  #client: MongoClient | undefined;
  #collection: Collection<SessionDocument> | undefined;
  #stopWatching: (() => void) | undefined;
  #autoRemove: AutoRemoveState;

  /** @param clientOrOptions a `MongoClient` (used with every default), or {@link MongoStoreOptions}. */
  constructor(clientOrOptions: MongoClient | MongoStoreOptions) {
    const options: MongoStoreOptions = isMongoClient(clientOrOptions) ? { client: clientOrOptions } : (clientOrOptions ?? {});
    const autoRemove = options.autoRemove ?? 'native';
    if (!AUTO_REMOVE_MODES.includes(autoRemove)) {
      throw new SessionStoreError(
        ErrorCode.INVALID_OPTION,
        `autoRemove must be 'native', 'interval' or 'disabled', got ${JSON.stringify(autoRemove)}`,
      );
    }
    const minutes = options.autoRemoveInterval ?? 10;
    assertNumberOption('autoRemoveInterval', minutes, 0);
    // pruneIntervalMs (ms) is the shared name; autoRemoveInterval (minutes) is connect-mongo's.
    const pruneMs = options.pruneIntervalMs !== undefined ? options.pruneIntervalMs : Math.round(minutes * 60_000);
    const collectionName = options.collectionName ?? 'sessions';
    if (typeof collectionName !== 'string' || collectionName.length === 0) {
      throw new SessionStoreError(ErrorCode.INVALID_OPTION, 'collectionName must be a non-empty string');
    }
    if (!options.client && !options.clientPromise && !options.mongoUrl) {
      throw new SessionStoreError(ErrorCode.INVALID_OPTION, 'MongoStore needs one of client, clientPromise or mongoUrl');
    }

    super(
      {
        ...options,
        ttl: options.ttl ?? DEFAULT_MONGO_TTL_SECONDS,
        serializer: resolveSerializer(options),
        // 'native' starts pruning later, and only if the server refuses the TTL index.
        pruneIntervalMs: autoRemove === 'interval' ? pruneMs : false,
      },
      { name: 'mongo', nativeExpiry: autoRemove === 'native', pruneIntervalMs: false },
    );
    this.#writeConcern = options.writeOperationOptions;
    this.#timestamps = options.timestamps === true;
    const prunes = pruneMs !== false && pruneMs > 0;
    this.#autoRemove = autoRemove === 'native' ? 'pending' : autoRemove === 'interval' && !prunes ? 'disabled' : autoRemove;

    const open = (client: MongoClient): Collection<SessionDocument> => {
      this.#client = client;
      this.#stopWatching = watchHealth(client, (up) => this.setConnected(up));
      this.#collection = client.db(options.dbName).collection<SessionDocument>(collectionName);
      return this.#collection;
    };

    this.#ownsClient = !options.client && !options.clientPromise;
    if (options.client) {
      this.#collectionReady = Promise.resolve(open(options.client));
    } else if (options.clientPromise) {
      this.#collectionReady = Promise.resolve(options.clientPromise).then((client) => {
        if (this.closed) throw new SessionStoreError(ErrorCode.CLOSED, 'the mongo store is closed');
        return open(client);
      });
      // Operations report a failed clientPromise; this only keeps it from being an unhandled rejection.
      this.#collectionReady.catch(() => {});
    } else {
      // The driver connects on the first operation (the index creation below), so no connect() to await here.
      this.#collectionReady = Promise.resolve(open(new MongoClient(options.mongoUrl as string, options.mongoOptions)));
    }

    this.ready = this.#collectionReady.then(
      async (collection) => {
        if (autoRemove !== 'native' || this.closed) return;
        const outcome = await ensureExpiryIndex(collection, () => this.closed);
        if (this.closed) return;
        if (outcome.ttl) {
          this.#autoRemove = 'native';
          return;
        }
        if ('error' in outcome) this.emitError(backendError(outcome.error, 'mongo createIndex'));
        this.#autoRemove = prunes ? 'interval' : 'disabled';
        this.setNativeExpiry(false);
        if (prunes) this.startPruning(pruneMs);
      },
      () => {},
    );
  }

  /**
   * connect-mongo's factory, so `MongoStore.create({ mongoUrl })` keeps working after switching packages.
   * @param options as for the constructor
   */
  static create(options: MongoClient | MongoStoreOptions): MongoStore {
    return new MongoStore(options);
  }

  /** How expired sessions are being deleted now (see {@link AutoRemoveState}). */
  get autoRemove(): AutoRemoveState {
    return this.#autoRemove;
  }

  /** The sessions collection (undefined until a `clientPromise` resolves), e.g. to add indexes of your own. */
  get collection(): Collection<SessionDocument> | undefined {
    return this.#collection;
  }

  /** The client in use (undefined until a `clientPromise` resolves). */
  get client(): MongoClient | undefined {
    return this.#client;
  }

  // --- hooks -------------------------------------------------------------------------------------------------

  protected override async _get(sid: string): Promise<StoredRecord<MongoSessionPayload> | null> {
    const collection = this.#collection ?? (await this.#collectionReady);
    const doc = await collection.findOne({ _id: sid }, { projection: { session: 1, expires: 1 } });
    return doc ? { data: doc.session, expiresAt: expiryOf(doc) } : null;
  }

  protected override async _set(sid: string, data: MongoSessionPayload, expiresAt: number, now: number): Promise<void> {
    const collection = this.#collection ?? (await this.#collectionReady);
    const fields: Partial<SessionDocument> = { session: data, expires: new Date(expiresAt) };
    // connect-mongo's lazy touch reads lastModified: keep writing it so a mixed fleet keeps working.
    if (this.supports.lazyTouch) fields.lastModified = new Date(now);
    const update: UpdateFilter<SessionDocument> = { $set: fields };
    if (this.#timestamps) {
      update.$setOnInsert = { createdAt: new Date(now) };
      update.$currentDate = { updatedAt: true };
    }
    for (let attempt = 1; ; attempt++) {
      try {
        await collection.updateOne({ _id: sid }, update, { upsert: true, writeConcern: this.#writeConcern });
        return;
      } catch (err) {
        // Two upserts of a new sid racing: both miss, both insert, one loses on the _id index. MongoDB retries
        // that itself since 4.2; FerretDB does not. Again, the loser finds the winner's document and updates it.
        if (!isDuplicateKey(err) || attempt >= UPSERT_ATTEMPTS) throw err;
      }
    }
  }

  protected override async _touch(sid: string, expiresAt: number, now: number): Promise<boolean> {
    const collection = this.#collection ?? (await this.#collectionReady);
    const fields: Partial<SessionDocument> = { expires: new Date(expiresAt) };
    if (this.supports.lazyTouch) fields.lastModified = new Date(now);
    const update: UpdateFilter<SessionDocument> = { $set: fields };
    if (this.#timestamps) update.$currentDate = { updatedAt: true };
    // No upsert, and only while unexpired: a session the TTL monitor or a logout removed stays removed, and
    // finding nothing is not an error (express-session would answer 500 on a harmless race otherwise).
    const result = await collection.updateOne({ _id: sid, expires: { $gt: new Date(now) } }, update, { writeConcern: this.#writeConcern });
    return result.matchedCount > 0;
  }

  protected override async _destroy(sid: string): Promise<void> {
    const collection = this.#collection ?? (await this.#collectionReady);
    await collection.deleteOne({ _id: sid }, { writeConcern: this.#writeConcern });
  }

  protected override async *_entries(now: number): AsyncIterable<[string, StoredRecord<MongoSessionPayload>]> {
    const collection = this.#collection ?? (await this.#collectionReady);
    const cursor = collection.find(unexpired(now), { projection: { session: 1, expires: 1 }, batchSize: CURSOR_BATCH_SIZE });
    for await (const doc of cursor) yield [doc._id, { data: doc.session, expiresAt: expiryOf(doc) }];
  }

  protected override async *_ids(now: number): AsyncIterable<string> {
    const collection = this.#collection ?? (await this.#collectionReady);
    const cursor = collection.find(unexpired(now), { projection: { _id: 1 }, batchSize: CURSOR_BATCH_SIZE });
    for await (const doc of cursor) yield doc._id;
  }

  protected override async _length(now: number): Promise<number> {
    const collection = this.#collection ?? (await this.#collectionReady);
    return collection.countDocuments(unexpired(now));
  }

  protected override async _clear(): Promise<void> {
    const collection = this.#collection ?? (await this.#collectionReady);
    try {
      await collection.deleteMany({}, { writeConcern: this.#writeConcern });
    } catch (err) {
      // A collection that was never created holds no sessions.
      if ((err as { code?: unknown })?.code !== 26) throw err;
    }
  }

  protected override async _pruneBatch(now: number, limit: number): Promise<number> {
    const collection = this.#collection ?? (await this.#collectionReady);
    const expired: Filter<SessionDocument> = { expires: { $lte: new Date(now) } };
    // deleteMany has no limit: pick a bounded batch first, so one pass never holds the server for long.
    const batch = await collection.find(expired, { projection: { _id: 1 }, limit }).toArray();
    if (batch.length === 0) return 0;
    // The expiry is checked again: a session saved in between is not deleted.
    const result = await collection.deleteMany({ ...expired, _id: { $in: batch.map((doc) => doc._id) } });
    return result.deletedCount;
  }

  protected override async _close(): Promise<void> {
    this.#stopWatching?.();
    this.#stopWatching = undefined;
    if (!this.#ownsClient) return;
    // Closing aborts an index creation still in flight; ensureExpiryIndex sees the store closed and stays quiet.
    await this.#client?.close();
    await this.ready;
  }
}

/** `expires` in epoch ms; a document without one never expires (connect-mongo reads it that way too). */
function expiryOf(doc: Pick<SessionDocument, 'expires'>): number | null {
  if (doc.expires === undefined || doc.expires === null) return null;
  const ms = new Date(doc.expires).getTime();
  return Number.isFinite(ms) ? ms : null;
}

function isDuplicateKey(err: unknown): boolean {
  return (err as { code?: unknown } | null)?.code === 11000;
}

/** Unexpired at `now`, counting documents without `expires` as unexpired (as `expiryOf` and connect-mongo do). */
function unexpired(now: number): Filter<SessionDocument> {
  return { $or: [{ expires: { $gt: new Date(now) } }, { expires: { $exists: false } }] };
}

import {
  BatchGetItemCommand,
  BatchWriteItemCommand,
  DeleteItemCommand,
  DescribeTableCommand,
  DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  QueryCommand,
  ScanCommand,
  UpdateItemCommand,
  type WriteRequest,
} from '@aws-sdk/client-dynamodb';
import { setTimeout as sleep } from 'node:timers/promises';
import { ErrorCode, SessionStoreError } from '../../shared/errors.js';
import { jsonSerializer } from '../../shared/serializer.js';
import { type SessionMap, SessionStore, storeOptions } from '../../shared/store.js';
import type { StoredRecord, WriteContext } from '../../shared/types.js';
import { AbortSlots } from './abort-slots.js';
import { diagnose, isConditionFailed } from './errors.js';
import {
  ATTR,
  type Item,
  SESSION_TYPE,
  exactSeconds,
  expiryAttributes,
  expiryOf,
  recordOf,
  sessAttribute,
  specialAttributes,
} from './item.js';
import { DYNAMODB_OPTIONS, type DynamoDBStoreOptions, type SpecialKey } from './options.js';
import { type TimeToLiveState, prepareTable } from './table.js';

/** DynamoDB's limit on a partition key value, in bytes. */
const MAX_KEY_BYTES = 2048;
/** Items per BatchWriteItem (DynamoDB's limit). */
const BATCH_WRITE = 25;
/** Keys per BatchGetItem (DynamoDB's limit). */
const BATCH_GET = 100;
/** Rounds of retrying the unprocessed part of a batch (throttling) before giving up. */
const BATCH_RETRIES = 10;

/**
 * A session store on Amazon DynamoDB through the AWS SDK v3 (`@aws-sdk/client-dynamodb`): drop-in for
 * connect-dynamodb 3. It reads and writes connect-dynamodb's table and items — table `sessions`, hash key `id` =
 * `'sess:' + sid`, `expires` in epoch seconds (a Number), the session JSON in `sess`, `type: 'connect-session'` —
 * plus `expiresMs`, the exact expiry in ms, which connect-dynamodb ignores. Either store reads the other's sessions.
 *
 * **Expiry.** DynamoDB's TTL on `expires` deletes expired items, up to days late, so every read filters them:
 * `get` never returns an expired session, `touch` is a conditional `UpdateItem` that only matches an unexpired
 * session (never resurrects one, unlike connect-dynamodb's upsert), and `set` is one `PutItem`. With
 * `createTable: true` the store creates the table (on-demand billing), waits for it and turns TTL on.
 *
 * **Revocation** (`revocationWindowMs`, on by default): `destroy()` replaces the item with a tombstone — the item
 * without `sess`, expiring at the end of the window — and `set()` is a `PutItem` whose condition refuses to replace
 * an unexpired tombstone (one round trip). connect-dynamodb reads a tombstone as no session.
 *
 * **Bulk operations** (`all`, `ids`, `length`, `clear`, `prune`) `Scan` the whole table page by page, filtered on
 * the prefix: they read (and are billed for) every item of the table, the other prefixes' too. `clear()` deletes
 * in `BatchWriteItem`s of 25, retrying unprocessed items. **Owners** (`owner`): a sparse global secondary index on
 * an `owner` attribute; `sessionsOf()` queries it and reads the sessions with a consistent `BatchGetItem`.
 *
 * Every request carries an abort signal of `operationTimeoutMs` (shared by the requests of a slot of at most 100 ms,
 * so it fires up to one slot later), so a hung request is cancelled, not just ignored;
 * throttling is retried by the SDK's own backoff (its `maxAttempts`, 3 by default) within that bound.
 *
 * @example
 * ```ts
 * import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
 * import { DynamoDBStore } from 'session-stores/dynamodb';
 * const store = new DynamoDBStore({ client: new DynamoDBClient({ region: 'eu-west-1' }), table: 'sessions' });
 * ```
 */
export class DynamoDBStore extends SessionStore<string, SessionMap> {
  /** The client the store sends its requests with. */
  readonly client: DynamoDBClient;
  /** The table. */
  readonly table: string;
  /** The prefix of every session key of this store. */
  readonly prefix: string;
  /** The table's hash key attribute. */
  readonly hashKey: string;

  readonly #ownsClient: boolean;
  readonly #create: boolean;
  readonly #initialized: boolean;
  readonly #readCapacityUnits: number | undefined;
  readonly #writeCapacityUnits: number | undefined;
  readonly #specialKeys: readonly SpecialKey[];
  readonly #skipMissing: boolean;
  readonly #ownerIndex: string | undefined;
  readonly #scanLimit: number;
  readonly #aborts: AbortSlots | null;
  #timeToLive: TimeToLiveState = 'pending';

  /** @param options the options, or just a `DynamoDBClient` (then every option has its default) */
  constructor(options: DynamoDBStoreOptions | DynamoDBClient = {}) {
    const input = isClient(options) ? { client: options } : options;
    const opts = storeOptions<DynamoDBStoreOptions>(input, DYNAMODB_OPTIONS);
    if (opts.client !== undefined && opts.clientOptions !== undefined) {
      throw new SessionStoreError(ErrorCode.INVALID_OPTION, 'pass either client or clientOptions, not both');
    }
    const specialKeys = opts.specialKeys ?? [];
    if (
      specialKeys.length > 0 &&
      (opts.encryption !== undefined || (opts.serializer !== undefined && opts.serializer !== jsonSerializer))
    ) {
      throw new SessionStoreError(
        ErrorCode.INVALID_OPTION,
        'specialKeys copies session fields into attributes in the clear: it needs the default JSON serializer and no encryption',
      );
    }
    const table = opts.table ?? 'sessions';
    const prefix = opts.prefix ?? 'sess:';
    const hashKey = opts.hashKey ?? 'id';
    const reserved = new Set<string>([hashKey, ...Object.values(ATTR)]);
    for (const key of specialKeys) {
      if (reserved.has(key.name)) {
        throw new SessionStoreError(
          ErrorCode.INVALID_OPTION,
          `specialKeys: ${JSON.stringify(key.name)} is an attribute of the store's own`,
        );
      }
    }
    if (Object.values(ATTR).includes(hashKey as (typeof ATTR)[keyof typeof ATTR])) {
      throw new SessionStoreError(ErrorCode.INVALID_OPTION, `hashKey ${JSON.stringify(hashKey)} is an attribute of the store's own`);
    }
    const prefixBytes = Buffer.byteLength(prefix, 'utf8');
    if (prefixBytes >= MAX_KEY_BYTES)
      throw new SessionStoreError(ErrorCode.INVALID_OPTION, `prefix must be shorter than ${MAX_KEY_BYTES} bytes`);
    super(opts, {
      name: 'dynamodb',
      namespace: `${table}/${prefix}`,
      maxSidBytes: MAX_KEY_BYTES - prefixBytes,
      // Until the table's TTL is known (see _open): the pruner must not start on a table DynamoDB cleans itself.
      capabilities: { nativeExpiry: true, revocation: true },
    });
    this.#ownsClient = opts.client === undefined;
    this.client = opts.client ?? new DynamoDBClient(opts.clientOptions ?? {});
    this.table = table;
    this.prefix = prefix;
    this.hashKey = hashKey;
    this.#create = opts.createTable === true;
    this.#initialized = opts.initialized === true;
    this.#readCapacityUnits = opts.readCapacityUnits;
    this.#writeCapacityUnits = opts.writeCapacityUnits;
    this.#specialKeys = specialKeys;
    this.#skipMissing = opts.skipThrowMissingSpecialKeys === true;
    this.#ownerIndex = opts.owner !== undefined ? (opts.ownerIndex ?? 'owner-index') : undefined;
    this.#scanLimit = opts.scanLimit ?? 1000;
    const timeoutMs = opts.operationTimeoutMs ?? 5000;
    this.#aborts = timeoutMs > 0 ? new AbortSlots(timeoutMs) : null;
  }

  /** Whether DynamoDB's TTL deletes this table's expired sessions (see {@link TimeToLiveState}). */
  get timeToLive(): TimeToLiveState {
    return this.#timeToLive;
  }

  protected override async _open(): Promise<void> {
    if (this.#initialized) {
      this.#timeToLive = 'assumed';
      return;
    }
    this.#timeToLive = await prepareTable((command) => this.#send(command), {
      table: this.table,
      hashKey: this.hashKey,
      create: this.#create,
      readCapacityUnits: this.#readCapacityUnits,
      writeCapacityUnits: this.#writeCapacityUnits,
      ownerIndex: this.#ownerIndex,
    });
    const native = this.#timeToLive === 'enabled' || this.#timeToLive === 'enabling';
    this.declareCapabilities({ nativeExpiry: native });
  }

  protected override async _get(sid: string): Promise<StoredRecord<string> | null> {
    // The whole item (no projection): it is little more than `sess`, and an expression costs the server a parse.
    const out = await this.#send<{ Item?: Item }>(new GetItemCommand({ TableName: this.table, Key: this.#key(sid), ConsistentRead: true }));
    return recordOf(out.Item);
  }

  protected override async _set(sid: string, data: string, expiresAt: number, now: number, context: WriteContext): Promise<void> {
    const item: Item = {
      ...(this.#specialKeys.length > 0 ? specialAttributes(data, this.#specialKeys, this.#skipMissing) : {}),
      ...this.#key(sid),
      ...expiryAttributes(expiresAt),
      [ATTR.type]: { S: SESSION_TYPE },
      [ATTR.sess]: await sessAttribute(data),
      ...(context.owner !== null ? { [ATTR.owner]: { S: context.owner } } : {}),
    };
    if (!context.guarded) {
      await this.#send(new PutItemCommand({ TableName: this.table, Item: item }));
      return;
    }
    try {
      await this.#send(
        new PutItemCommand({
          TableName: this.table,
          Item: item,
          // Anything but an unexpired tombstone (an item without sess) may be replaced.
          ConditionExpression: 'attribute_not_exists(#id) OR attribute_exists(#sess) OR attribute_not_exists(#ms) OR #ms <= :now',
          ExpressionAttributeNames: { '#id': this.hashKey, '#sess': ATTR.sess, '#ms': ATTR.expiresMs },
          ExpressionAttributeValues: { ':now': { N: String(now) } },
        }),
      );
    } catch (err) {
      // A logout's tombstone: the late write of a request that loaded the session before it is dropped.
      if (!isConditionFailed(err)) throw err;
    }
  }

  protected override async _touch(sid: string, expiresAt: number, now: number): Promise<boolean> {
    try {
      await this.#send(
        new UpdateItemCommand({
          TableName: this.table,
          Key: this.#key(sid),
          UpdateExpression: 'SET #exp = :exp, #ms = :ms',
          // A session (not a tombstone) that has not expired: `expiresMs` when it agrees with `expires` (ours),
          // `expires` alone otherwise (connect-dynamodb's items, which have no expiresMs). See expiryOf().
          ConditionExpression: 'attribute_exists(#sess) AND #exp > :nowS AND (#ms > :now OR #exp > :nowS1)',
          ExpressionAttributeNames: { '#sess': ATTR.sess, '#exp': ATTR.expires, '#ms': ATTR.expiresMs },
          ExpressionAttributeValues: {
            ...valuesOf(expiryAttributes(expiresAt), { [ATTR.expires]: ':exp', [ATTR.expiresMs]: ':ms' }),
            ':now': { N: String(now) },
            ':nowS': { N: exactSeconds(now) },
            ':nowS1': { N: exactSeconds(now + 1000) },
          },
        }),
      );
      return true;
    } catch (err) {
      if (isConditionFailed(err)) return false;
      throw err;
    }
  }

  protected override async _destroy(sid: string, _now: number, tombstoneUntil: number | null): Promise<void> {
    if (tombstoneUntil !== null) {
      await this.#send(
        new PutItemCommand({
          TableName: this.table,
          Item: { ...this.#key(sid), ...expiryAttributes(tombstoneUntil), [ATTR.type]: { S: SESSION_TYPE } },
        }),
      );
      return;
    }
    try {
      // Leaves a tombstone alone: saving an expired session (a plain delete) must not reopen a revoked sid.
      await this.#send(
        new DeleteItemCommand({
          TableName: this.table,
          Key: this.#key(sid),
          ConditionExpression: 'attribute_exists(#sess)',
          ExpressionAttributeNames: { '#sess': ATTR.sess },
        }),
      );
    } catch (err) {
      if (!isConditionFailed(err)) throw err;
    }
  }

  protected override async *_entries(now: number): AsyncIterable<[string, StoredRecord<string>]> {
    for await (const items of this.#scan(now, true)) {
      for (const item of items) {
        const record = await recordOf(item);
        if (record) yield [this.#sidOf(item), record];
      }
    }
  }

  protected override async *_ids(now: number): AsyncIterable<string> {
    for await (const items of this.#scan(now, false)) {
      for (const item of items) {
        const expiresAt = expiryOf(item);
        if (expiresAt === null || expiresAt > now) yield this.#sidOf(item);
      }
    }
  }

  protected override async *_sessionsOf(owner: string): AsyncIterable<[string, StoredRecord<string>]> {
    const keys: Item[] = [];
    let start: Item | undefined;
    do {
      const page: { Items?: Item[]; LastEvaluatedKey?: Item } = await this.#send(
        new QueryCommand({
          TableName: this.table,
          IndexName: this.#ownerIndex,
          KeyConditionExpression: '#owner = :owner',
          // An empty prefix claims the whole table: no filter (DynamoDB refuses an unused name or value).
          ...(this.prefix === ''
            ? { ExpressionAttributeNames: { '#owner': ATTR.owner }, ExpressionAttributeValues: { ':owner': { S: owner } } }
            : {
                FilterExpression: 'begins_with(#id, :prefix)',
                ExpressionAttributeNames: { '#owner': ATTR.owner, '#id': this.hashKey },
                ExpressionAttributeValues: { ':owner': { S: owner }, ':prefix': { S: this.prefix } },
              }),
          ExclusiveStartKey: start,
        }),
      );
      for (const item of page.Items ?? []) keys.push({ [this.hashKey]: item[this.hashKey]! });
      start = page.LastEvaluatedKey;
    } while (start);
    // The index is eventually consistent and holds keys only: read the sessions themselves, consistently.
    for (let i = 0; i < keys.length; i += BATCH_GET) {
      for (const item of await this.#batchGet(keys.slice(i, i + BATCH_GET))) {
        const record = await recordOf(item);
        if (record) yield [this.#sidOf(item), record];
      }
    }
  }

  protected override async *_clear(): AsyncIterable<number> {
    for await (const items of this.#scan(null, false)) {
      for (let i = 0; i < items.length; i += BATCH_WRITE) {
        const chunk = items.slice(i, i + BATCH_WRITE);
        await this.#batchWrite(chunk.map((item) => ({ DeleteRequest: { Key: { [this.hashKey]: item[this.hashKey]! } } })));
        yield chunk.length;
      }
    }
  }

  /**
   * Deletes expired sessions and tombstones found by a scan, each with a `DeleteItem` whose condition checks the
   * expiry again (a session saved since the scan saw it stays). Off by default: the table's TTL does this.
   */
  protected override async *_prune(now: number, batchSize: number): AsyncIterable<number> {
    for await (const items of this.#scan(null, false, batchSize)) {
      const expired = items.filter((item) => {
        const at = expiryOf(item);
        return at !== null && at <= now;
      });
      const results = await Promise.all(
        expired.map(async (item) => {
          try {
            await this.#send(
              new DeleteItemCommand({
                TableName: this.table,
                Key: { [this.hashKey]: item[this.hashKey]! },
                ConditionExpression: '#exp <= :nowS OR (#ms <= :now AND #exp <= :nowS1)',
                ExpressionAttributeNames: { '#exp': ATTR.expires, '#ms': ATTR.expiresMs },
                ExpressionAttributeValues: {
                  ':now': { N: String(now) },
                  ':nowS': { N: exactSeconds(now) },
                  ':nowS1': { N: exactSeconds(now + 1000) },
                },
              }),
            );
            return item[ATTR.sess] !== undefined ? 1 : 0;
          } catch (err) {
            if (isConditionFailed(err)) return 0;
            throw err;
          }
        }),
      );
      yield results.reduce<number>((a, b) => a + b, 0);
    }
  }

  protected override async _ping(): Promise<void> {
    await this.#send(new DescribeTableCommand({ TableName: this.table }));
  }

  protected override _diagnose(err: unknown): 'unreachable' | 'unsure' | undefined {
    return diagnose(err);
  }

  protected override async _close(): Promise<void> {
    if (this.#ownsClient) this.client.destroy();
  }

  /** Sends a command with an abort signal of `operationTimeoutMs` (see AbortSlots): a request that hangs is cancelled, not leaked. */
  #send<T>(command: unknown): Promise<T> {
    const signal = this.#aborts?.signal();
    return (this.client.send as (c: unknown, o?: { abortSignal?: AbortSignal }) => Promise<T>)(command, { abortSignal: signal });
  }

  #key(sid: string): Item {
    return { [this.hashKey]: { S: this.prefix + sid } };
  }

  #sidOf(item: Item): string {
    return item[this.hashKey]!.S!.slice(this.prefix.length);
  }

  /**
   * The items of this store's prefix, a scan page at a time. `now`: only sessions unexpired at `now` (to within a
   * second: callers filter exactly), with their data when `data`; null: every item, tombstones too (keys and expiry).
   */
  async *#scan(now: number | null, data: boolean, limit = this.#scanLimit): AsyncIterable<Item[]> {
    const names: Record<string, string> = { '#id': this.hashKey, '#exp': ATTR.expires, '#ms': ATTR.expiresMs };
    const values: Item = {};
    const filters: string[] = [];
    // An empty prefix claims the whole table: no prefix filter.
    if (this.prefix !== '') {
      values[':prefix'] = { S: this.prefix };
      filters.push('begins_with(#id, :prefix)');
    }
    let projection = '#id, #exp, #ms';
    names['#sess'] = ATTR.sess;
    if (now !== null) {
      values[':nowS'] = { N: exactSeconds(now) };
      filters.push('attribute_exists(#sess)', '#exp > :nowS');
      if (data) projection += ', #sess';
    } else {
      projection += ', #sess';
    }
    const filter = filters.length > 0 ? filters.join(' AND ') : undefined;
    const hasValues = Object.keys(values).length > 0;
    let start: Item | undefined;
    do {
      const page: { Items?: Item[]; LastEvaluatedKey?: Item } = await this.#send(
        new ScanCommand({
          TableName: this.table,
          FilterExpression: filter,
          ProjectionExpression: projection,
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: hasValues ? values : undefined,
          Limit: limit,
          ExclusiveStartKey: start,
        }),
      );
      if (page.Items?.length) yield page.Items;
      start = page.LastEvaluatedKey;
    } while (start);
  }

  /** One BatchWriteItem, with the unprocessed part (throttling) retried with backoff. */
  async #batchWrite(requests: WriteRequest[]): Promise<void> {
    let pending = requests;
    for (let attempt = 0; pending.length > 0; attempt++) {
      if (attempt > BATCH_RETRIES)
        throw new Error(`BatchWriteItem left ${pending.length} items unprocessed after ${BATCH_RETRIES} retries`);
      if (attempt > 0) await sleep(backoff(attempt));
      const out: { UnprocessedItems?: Record<string, WriteRequest[]> } = await this.#send(
        new BatchWriteItemCommand({ RequestItems: { [this.table]: pending } }),
      );
      pending = out.UnprocessedItems?.[this.table] ?? [];
    }
  }

  /** One consistent BatchGetItem, with unprocessed keys retried with backoff. */
  async #batchGet(keys: Item[]): Promise<Item[]> {
    const found: Item[] = [];
    let pending = keys;
    for (let attempt = 0; pending.length > 0; attempt++) {
      if (attempt > BATCH_RETRIES) throw new Error(`BatchGetItem left ${pending.length} keys unprocessed after ${BATCH_RETRIES} retries`);
      if (attempt > 0) await sleep(backoff(attempt));
      const out: { Responses?: Record<string, Item[]>; UnprocessedKeys?: Record<string, { Keys?: Item[] }> } = await this.#send(
        new BatchGetItemCommand({ RequestItems: { [this.table]: { Keys: pending, ConsistentRead: true } } }),
      );
      found.push(...(out.Responses?.[this.table] ?? []));
      pending = out.UnprocessedKeys?.[this.table]?.Keys ?? [];
    }
    return found;
  }
}

/** A DynamoDBClient, also from another copy of the SDK (structural: `send` and a middleware stack). */
function isClient(value: unknown): value is DynamoDBClient {
  return (
    typeof value === 'object' && value !== null && typeof (value as { send?: unknown }).send === 'function' && 'middlewareStack' in value
  );
}

/** Exponential backoff with full jitter: 25 ms doubling up to 1 s. */
function backoff(attempt: number): number {
  return Math.random() * Math.min(1000, 25 * 2 ** attempt);
}

/** Attribute values renamed to expression placeholders. */
function valuesOf(item: Item, placeholders: Record<string, string>): Item {
  const out: Item = {};
  for (const [name, placeholder] of Object.entries(placeholders)) out[placeholder] = item[name]!;
  return out;
}

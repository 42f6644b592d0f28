import type { DynamoDBClient, DynamoDBClientConfig } from '@aws-sdk/client-dynamodb';
import { ErrorCode, SessionStoreError } from '../../shared/errors.js';
import { type Check, bool, describe, invalid, num, obj, scaled, str } from '../../shared/options.js';
import type { BaseStoreOptions } from '../../shared/types.js';

/**
 * A session field copied into an attribute of its own on every write (connect-dynamodb's `specialKeys`), so that
 * it can be indexed or queried with DynamoDB: `{ name: 'userId', type: 'S' }` stores `session.userId` in the
 * attribute `userId` as a string. `type` is the attribute type: `'S'` (string) or `'N'` (number).
 */
export interface SpecialKey {
  /** The top-level session field, and the attribute it is copied to. */
  name: string;
  /** `'S'`: the field must be a string; `'N'`: a finite number. */
  type: 'S' | 'N';
}

/**
 * Options of {@link DynamoDBStore}: connect-dynamodb's options with the same names, units and defaults, plus the
 * shared ones. Table and items are connect-dynamodb's (see the store), so either store reads the other's sessions.
 */
export interface DynamoDBStoreOptions extends BaseStoreOptions<string> {
  /**
   * A `DynamoDBClient` (AWS SDK v3) to use. The store never destroys a client it was given. Without it the store
   * creates one from `clientOptions` (the SDK's usual environment and credentials otherwise) and destroys it on
   * `close()`.
   */
  client?: DynamoDBClient;
  /** Configuration of the client the store creates when no `client` is given (e.g. `{ region, endpoint }`). */
  clientOptions?: DynamoDBClientConfig;
  /** The table. Default `'sessions'`, as connect-dynamodb. */
  table?: string;
  /**
   * Prepended to each sid to form its key. Default `'sess:'`, as connect-dynamodb. Stores sharing a table must use
   * prefixes that do not start with one another (`app:` and `app:admin:` overlap: the first would list the
   * second's sessions); an empty prefix claims the whole table.
   */
  prefix?: string;
  /** The table's partition (hash) key attribute, a string. Default `'id'`, as connect-dynamodb. */
  hashKey?: string;
  /**
   * Create the table when it does not exist, and wait until it is `ACTIVE`: on-demand billing (`PAY_PER_REQUEST`),
   * unless `readCapacityUnits` / `writeCapacityUnits` are given (then provisioned). Also turns on the table's TTL on
   * `expires` when it is off. Default false: the table must exist (creating tables is an administrative
   * privilege most application roles should not have).
   */
  createTable?: boolean;
  /** Provisioned read capacity of a table created by `createTable` (connect-dynamodb's option). Default: on-demand. */
  readCapacityUnits?: number;
  /** Provisioned write capacity of a table created by `createTable` (connect-dynamodb's option). Default: on-demand. */
  writeCapacityUnits?: number;
  /**
   * connect-dynamodb's option: the table is known to exist, so the store does not describe it when it opens (saves a
   * `DescribeTable` call per cold start on AWS Lambda). The store then assumes TTL is on and does not check the key
   * schema. Default false.
   */
  initialized?: boolean;
  /** Session fields also written as attributes of their own (connect-dynamodb's option, see {@link SpecialKey}). */
  specialKeys?: SpecialKey[];
  /**
   * Save sessions that lack a special key (without that attribute) instead of failing with
   * `SESSION_STORE_INVALID_SESSION`. Default false, as connect-dynamodb documents it (connect-dynamodb 3 itself turns
   * it on whenever `specialKeys` is given; here it means what it says).
   */
  skipThrowMissingSpecialKeys?: boolean;
  /**
   * Name of the global secondary index on the `owner` attribute used by `sessionsOf()` / `destroyOwner()` (the
   * `owner` option). The index must exist, or `createTable` must be on (the store then adds it to a table that
   * lacks it). Default `'owner-index'`.
   */
  ownerIndex?: string;
  /** Items per `Scan` page in `all()`, `ids()`, `length()`, `clear()` and `prune()`. Default 1000 (and at most 1 MB). */
  scanLimit?: number;
  /**
   * connect-dynamodb's `reapInterval`, in **ms**: also delete expired sessions with a scan this often. Off by
   * default: DynamoDB's TTL deletes them (expired sessions are never returned in between anyway).
   */
  reapInterval?: number;
}

const TABLE_NAME = /^[a-zA-Z0-9_.-]{3,255}$/;

const tableName: Check = (value, name) => {
  if (typeof value !== 'string' || !TABLE_NAME.test(value)) {
    throw invalid(`${name} must be a DynamoDB table name (3 to 255 of a-z, A-Z, 0-9, _ . -), got ${describe(value)}`);
  }
  return value;
};

const attributeName: Check = (value, name) => {
  const s = str()(value, name) as string;
  if (Buffer.byteLength(s, 'utf8') > 255) throw invalid(`${name} must be at most 255 bytes long`);
  return s;
};

const specialKeys: Check = (value, name) => {
  if (!Array.isArray(value)) throw invalid(`${name} must be an array of { name, type }, got ${describe(value)}`);
  return value.map((key: unknown, i) => {
    const k = obj(key, `${name}[${i}]`) as { name?: unknown; type?: unknown };
    const field = attributeName(k.name, `${name}[${i}].name`) as string;
    if (k.type !== 'S' && k.type !== 'N') throw invalid(`${name}[${i}].type must be 'S' or 'N', got ${describe(k.type)}`);
    return { name: field, type: k.type } satisfies SpecialKey;
  });
};

const client: Check = (value, name) => {
  if (typeof value !== 'object' || value === null || typeof (value as { send?: unknown }).send !== 'function') {
    throw new SessionStoreError(ErrorCode.INVALID_OPTION, `${name} must be a DynamoDBClient (AWS SDK v3), got ${describe(value)}`);
  }
  return value;
};

/** What DynamoDBStore accepts (see {@link DynamoDBStoreOptions}). */
export const DYNAMODB_OPTIONS = {
  options: {
    client,
    clientOptions: obj,
    table: tableName,
    prefix: str({ allowEmpty: true }),
    hashKey: attributeName,
    createTable: bool,
    readCapacityUnits: num(1, { integer: true }),
    writeCapacityUnits: num(1, { integer: true }),
    initialized: bool,
    specialKeys,
    skipThrowMissingSpecialKeys: bool,
    ownerIndex: tableName,
    scanLimit: num(1, { integer: true }),
  },
  // connect-dynamodb's reapInterval is in ms, as pruneIntervalMs.
  aliases: { reapInterval: scaled('pruneIntervalMs', 1) },
};

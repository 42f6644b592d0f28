import {
  CreateTableCommand,
  type CreateTableCommandInput,
  DescribeTableCommand,
  DescribeTimeToLiveCommand,
  type GlobalSecondaryIndex,
  type TableDescription,
  UpdateTableCommand,
  UpdateTimeToLiveCommand,
} from '@aws-sdk/client-dynamodb';
import { setTimeout as sleep } from 'node:timers/promises';
import { ErrorCode, SessionStoreError } from '../../shared/errors.js';
import { isNotFound, isUnknownOperation } from './errors.js';
import { ATTR } from './item.js';

/** Sends one command (bounded by the store's operation timeout). */
export type Send = <T>(command: unknown) => Promise<T>;

/**
 * Whether DynamoDB deletes expired sessions of this table by itself: `'enabled'` (TTL on `expires`), `'enabling'`
 * (just turned on; AWS takes up to an hour), `'disabled'` (TTL off, or on another attribute), `'unsupported'` (the
 * server has no TTL: dynalite and other local implementations), `'assumed'` (`initialized: true`: not checked), or
 * `'pending'` until the store has opened.
 */
export type TimeToLiveState = 'pending' | 'enabled' | 'enabling' | 'disabled' | 'unsupported' | 'assumed';

/** What the store needs to know and do about its table. */
export interface TableSpec {
  table: string;
  hashKey: string;
  create: boolean;
  readCapacityUnits: number | undefined;
  writeCapacityUnits: number | undefined;
  /** The owner GSI's name, when the `owner` option is set. */
  ownerIndex: string | undefined;
}

const POLL_MS = 100;

/**
 * Checks the table (creating it, its owner index and its TTL when `spec.create`), and says whether DynamoDB's TTL
 * deletes expired items. Waits for the table and index to be `ACTIVE`; the store's open timeout bounds the wait
 * (a failed open is tried again by the next operation, which finds the table being created and waits on).
 */
export async function prepareTable(send: Send, spec: TableSpec): Promise<TimeToLiveState> {
  let table = await describe(send, spec.table);
  if (!table) {
    if (!spec.create) {
      throw new SessionStoreError(
        ErrorCode.BACKEND,
        `the DynamoDB table ${JSON.stringify(spec.table)} does not exist; create it (hash key ${JSON.stringify(spec.hashKey)}, a string) or pass createTable: true`,
      );
    }
    await create(send, spec);
    table = await describe(send, spec.table);
  }
  table = await waitActive(send, spec.table, table);
  const key = table?.KeySchema?.find((k) => k.KeyType === 'HASH')?.AttributeName;
  if (key !== spec.hashKey || (table?.KeySchema?.length ?? 0) !== 1) {
    throw new SessionStoreError(
      ErrorCode.INVALID_OPTION,
      `the DynamoDB table ${JSON.stringify(spec.table)} has the key ${JSON.stringify(table?.KeySchema ?? [])}; the store needs a hash key ${JSON.stringify(spec.hashKey)} and no sort key (the hashKey option)`,
    );
  }
  if (spec.ownerIndex !== undefined) await ensureOwnerIndex(send, spec, table);
  return timeToLive(send, spec);
}

async function describe(send: Send, table: string): Promise<TableDescription | undefined> {
  try {
    return (await send<{ Table?: TableDescription }>(new DescribeTableCommand({ TableName: table }))).Table;
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
}

function ownerIndexSpec(spec: TableSpec): GlobalSecondaryIndex {
  return {
    IndexName: spec.ownerIndex!,
    KeySchema: [{ AttributeName: ATTR.owner, KeyType: 'HASH' }],
    // Keys only: sessionsOf() reads the sessions themselves from the table, consistently.
    Projection: { ProjectionType: 'KEYS_ONLY' },
    ...(provisioned(spec) ? { ProvisionedThroughput: throughput(spec) } : {}),
  };
}

const provisioned = (spec: TableSpec) => spec.readCapacityUnits !== undefined || spec.writeCapacityUnits !== undefined;
const throughput = (spec: TableSpec) => ({
  ReadCapacityUnits: spec.readCapacityUnits ?? 5,
  WriteCapacityUnits: spec.writeCapacityUnits ?? 5,
});

async function create(send: Send, spec: TableSpec): Promise<void> {
  const input: CreateTableCommandInput = {
    TableName: spec.table,
    AttributeDefinitions: [
      { AttributeName: spec.hashKey, AttributeType: 'S' },
      ...(spec.ownerIndex !== undefined && spec.hashKey !== ATTR.owner ? [{ AttributeName: ATTR.owner, AttributeType: 'S' as const }] : []),
    ],
    KeySchema: [{ AttributeName: spec.hashKey, KeyType: 'HASH' }],
    ...(provisioned(spec) ? { BillingMode: 'PROVISIONED', ProvisionedThroughput: throughput(spec) } : { BillingMode: 'PAY_PER_REQUEST' }),
    ...(spec.ownerIndex !== undefined ? { GlobalSecondaryIndexes: [ownerIndexSpec(spec)] } : {}),
  };
  try {
    await send(new CreateTableCommand(input));
  } catch (err) {
    // Another process created it first: fine, it is waited for below.
    if ((err as { name?: unknown }).name !== 'ResourceInUseException') throw err;
  }
}

async function waitActive(send: Send, name: string, table: TableDescription | undefined): Promise<TableDescription> {
  for (;;) {
    const busy = table?.TableStatus !== 'ACTIVE' || (table.GlobalSecondaryIndexes ?? []).some((i) => i.IndexStatus === 'CREATING');
    if (table && !busy) return table;
    await sleep(POLL_MS);
    table = await describe(send, name);
  }
}

async function ensureOwnerIndex(send: Send, spec: TableSpec, table: TableDescription): Promise<void> {
  const index = (table.GlobalSecondaryIndexes ?? []).find((i) => i.IndexName === spec.ownerIndex);
  if (index) {
    const key = index.KeySchema?.find((k) => k.KeyType === 'HASH')?.AttributeName;
    if (key !== ATTR.owner) {
      throw new SessionStoreError(
        ErrorCode.INVALID_OPTION,
        `the index ${JSON.stringify(spec.ownerIndex)} of ${JSON.stringify(spec.table)} is not keyed on the "owner" attribute`,
      );
    }
    return;
  }
  if (!spec.create) {
    throw new SessionStoreError(
      ErrorCode.BACKEND,
      `the owner option needs a global secondary index ${JSON.stringify(spec.ownerIndex)} on the string attribute "owner" of ${JSON.stringify(spec.table)}; add it, or pass createTable: true`,
    );
  }
  const onDemand = table.BillingModeSummary?.BillingMode === 'PAY_PER_REQUEST';
  const update = (index: GlobalSecondaryIndex) =>
    send(
      new UpdateTableCommand({
        TableName: spec.table,
        AttributeDefinitions: [{ AttributeName: ATTR.owner, AttributeType: 'S' }],
        GlobalSecondaryIndexUpdates: [{ Create: index }],
      }),
    );
  // An index of a provisioned table needs its own capacity (the table's, unless the options say otherwise).
  const created: GlobalSecondaryIndex = onDemand
    ? ownerIndexSpec(spec)
    : {
        ...ownerIndexSpec(spec),
        ProvisionedThroughput: {
          ReadCapacityUnits: spec.readCapacityUnits ?? table.ProvisionedThroughput?.ReadCapacityUnits ?? 5,
          WriteCapacityUnits: spec.writeCapacityUnits ?? table.ProvisionedThroughput?.WriteCapacityUnits ?? 5,
        },
      };
  try {
    await update(created);
  } catch (err) {
    // Another process is adding it (or another index) right now: wait below and check again next open.
    if ((err as { name?: unknown }).name !== 'ResourceInUseException') throw err;
  }
  for (;;) {
    const now = await describe(send, spec.table);
    const added = now?.GlobalSecondaryIndexes?.find((i) => i.IndexName === spec.ownerIndex);
    if (added?.IndexStatus === 'ACTIVE') return;
    await sleep(POLL_MS);
  }
}

async function timeToLive(send: Send, spec: TableSpec): Promise<TimeToLiveState> {
  let status: string | undefined;
  let attribute: string | undefined;
  try {
    const out = await send<{ TimeToLiveDescription?: { TimeToLiveStatus?: string; AttributeName?: string } }>(
      new DescribeTimeToLiveCommand({ TableName: spec.table }),
    );
    status = out.TimeToLiveDescription?.TimeToLiveStatus;
    attribute = out.TimeToLiveDescription?.AttributeName;
  } catch (err) {
    if (isUnknownOperation(err)) return 'unsupported';
    throw err;
  }
  if (status === 'ENABLED' || status === 'ENABLING') {
    if (attribute !== ATTR.expires) return 'disabled';
    return status === 'ENABLED' ? 'enabled' : 'enabling';
  }
  if (!spec.create || status === 'DISABLING') return 'disabled';
  try {
    await send(
      new UpdateTimeToLiveCommand({ TableName: spec.table, TimeToLiveSpecification: { AttributeName: ATTR.expires, Enabled: true } }),
    );
    return 'enabling';
  } catch (err) {
    // dynalite answers DescribeTimeToLive (always DISABLED) but has no UpdateTimeToLive.
    if (isUnknownOperation(err)) return 'unsupported';
    throw err;
  }
}

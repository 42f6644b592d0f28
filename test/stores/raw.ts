/**
 * What each backend really holds, read and written through its own client or files (never through the store's
 * API): the raw views the conformance suite's `atRest` group checks encryption and hashed ids against.
 */
import { readFile, readdir, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import type { Store } from 'express-session';
import type { RawStorage } from '../../conformance/index.js';
import { type AttributeValue, PutItemCommand, ScanCommand } from '@aws-sdk/client-dynamodb';
import type { DynamoDBStore } from '../../stores/dynamodb/index.js';
import type { FileStore } from '../../stores/file/index.js';
import type { MemoryStore } from '../../stores/memory/index.js';
import type { MongoStore } from '../../stores/mongo/index.js';
import type { MySQLStore } from '../../stores/mysql/index.js';
import type { PostgresStore } from '../../stores/postgres/index.js';
import type { RedisStore } from '../../stores/redis/index.js';
import type { SQLiteStore } from '../../stores/sqlite/index.js';

/** Redis: every key under the store's prefix and its owner prefix (SCAN), values by GET or SMEMBERS. */
export const redisRaw: RawStorage = {
  async entries(store) {
    const s = store as unknown as RedisStore;
    const out: Array<[string, string]> = [];
    for (const prefix of [s.prefix, s.ownerPrefix]) {
      let cursor = '0';
      do {
        const [next, keys] = (await redisCall(s, ['SCAN', cursor, 'MATCH', `${globEscape(prefix)}*`, 'COUNT', '1000'])) as [
          string,
          string[],
        ];
        cursor = String(next);
        for (const key of keys.map(String)) {
          const type = String(await redisCall(s, ['TYPE', key]));
          const value =
            type === 'set' ? ((await redisCall(s, ['SMEMBERS', key])) as string[]).join(' ') : String(await redisCall(s, ['GET', key]));
          out.push([key, value]);
        }
      } while (cursor !== '0');
    }
    return out;
  },
  async write(store, key, value) {
    await redisCall(store as unknown as RedisStore, ['SET', key, value, 'KEEPTTL']);
  },
};

function redisCall(store: RedisStore, command: string[]): Promise<unknown> {
  const client = store.client as unknown as {
    call?: (...args: string[]) => Promise<unknown>;
    sendCommand?: (args: string[]) => Promise<unknown>;
  };
  if (typeof client.call === 'function') return client.call(...command);
  return client.sendCommand!(command);
}

function globEscape(text: string): string {
  return text.replace(/[*?[\]\\]/g, '\\$&');
}

/** PostgreSQL: every row of the store's table, as JSON (sid, sess, expire and owner columns). */
export const postgresRaw: RawStorage = {
  async entries(store) {
    const s = store as unknown as PostgresStore;
    const exists = await s.pool.query(`SELECT to_regclass($1) IS NOT NULL AS ok`, [s.namespace]);
    if (!(exists.rows[0] as { ok: boolean }).ok) return []; // not opened yet
    const { rows } = await s.pool.query<{ sid: string; row: string }>(`SELECT sid, row_to_json(t)::text AS row FROM ${s.namespace} t`);
    return rows.map((r) => [r.sid, r.row]);
  },
  async write(store, key, value) {
    const s = store as unknown as PostgresStore;
    const { sess } = JSON.parse(value) as { sess: unknown };
    await s.pool.query(`UPDATE ${s.namespace} SET sess = $2 WHERE sid = $1`, [key, JSON.stringify(sess)]);
  },
};

/** SQLite: every row of the store's table and of its owner index table. */
export const sqliteRaw: RawStorage = {
  async entries(store) {
    const s = store as unknown as SQLiteStore;
    const q = (name: string): string => `"${name.replace(/"/g, '""')}"`;
    const table = s.client.prepare(`SELECT name FROM sqlite_master WHERE type = 'table' AND name = ?`);
    if (!table.get(s.tableName)) return []; // not opened yet
    const rows = s.client.prepare(`SELECT sid, sess, expire FROM ${q(s.tableName)}`).all() as Array<{
      sid: string;
      sess: string;
      expire: unknown;
    }>;
    const out: Array<[string, string]> = rows.map((r) => [r.sid, `${r.sess} ${String(r.expire)}`]);
    if (table.get(`${s.tableName}_owners`)) {
      for (const r of s.client.prepare(`SELECT sid, owner FROM ${q(`${s.tableName}_owners`)}`).all() as Array<{
        sid: string;
        owner: string;
      }>) {
        out.push([`owner index ${r.owner}`, r.sid]);
      }
    }
    return out;
  },
  async write(store, key, value) {
    const s = store as unknown as SQLiteStore;
    const sess = value.slice(0, value.lastIndexOf(' '));
    s.client.prepare(`UPDATE "${s.tableName.replace(/"/g, '""')}" SET sess = ? WHERE sid = ?`).run(sess, key);
  },
};

/** MongoDB: every document of the store's collection, as JSON (its session, expiry and owner fields). */
export const mongoRaw: RawStorage = {
  async entries(store) {
    const collection = await (store as unknown as MongoStore).collectionP;
    const docs = await collection.find({}).toArray();
    return docs.map((doc) => [String(doc._id), JSON.stringify(doc)]);
  },
  async write(store, key, value) {
    const collection = await (store as unknown as MongoStore).collectionP;
    const { session } = JSON.parse(value) as { session: unknown };
    await collection.updateOne({ _id: key } as never, { $set: { session } } as never);
  },
};

/** The file system: every file under the store's directory (owner index included), by relative path. */
export const fileRaw: RawStorage = {
  async entries(store) {
    const root = (store as unknown as FileStore).path;
    const out: Array<[string, string]> = [];
    const entries = await readdir(root, { recursive: true, withFileTypes: true }).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return []; // not opened yet
      throw err;
    });
    for (const entry of entries) {
      if (!entry.isFile()) continue;
      const path = join(entry.parentPath, entry.name);
      out.push([relative(root, path), await readFile(path, 'utf8')]);
    }
    return out;
  },
  async write(store, key, value) {
    await writeFile(join((store as unknown as FileStore).path, key), value);
  },
};

interface Hooks {
  _entries(now: number): AsyncIterable<[string, { data: string; expiresAt: number | null }]>;
  _get(key: string, now: number): Promise<{ data: string; expiresAt: number | null } | null>;
  _set(key: string, data: string, expiresAt: number, now: number, context: { owner: null; guarded: false }): Promise<void>;
}

/** The memory store holds its records in the process: read and written through its storage hooks, below the codec. */
export const memoryRaw: RawStorage = {
  async entries(store: Store) {
    const out: Array<[string, string]> = [];
    for await (const [key, record] of (store as unknown as MemoryStore & Hooks)._entries(Date.now())) out.push([key, record.data]);
    return out;
  },
  async write(store, key, value) {
    const hooks = store as unknown as Hooks;
    const now = Date.now();
    const record = await hooks._get(key, now);
    await hooks._set(key, value, record?.expiresAt ?? now + 3_600_000, now, { owner: null, guarded: false });
  },
};

/** A DynamoDB attribute as JSON text (binary as base64), and back. */
const attrJson = (v: AttributeValue): unknown => (v.B !== undefined ? { B64: Buffer.from(v.B).toString('base64') } : v);
const attrBack = (v: Record<string, unknown>): AttributeValue =>
  (typeof v.B64 === 'string' ? { B: Buffer.from(v.B64, 'base64') } : v) as unknown as AttributeValue;

/**
 * DynamoDB: every item of the store's table under its prefix (a Scan), keyed by its hash key; the value is the
 * item's other attributes as JSON (`sess`, `expires`, `expiresMs`, `owner`, …). `write` puts them back under `key`.
 */
export const dynamodbRaw: RawStorage = {
  async entries(store) {
    const s = store as unknown as DynamoDBStore;
    const out: Array<[string, string]> = [];
    let start: Record<string, AttributeValue> | undefined;
    do {
      const page = await s.client.send(new ScanCommand({ TableName: s.table, ExclusiveStartKey: start }));
      for (const item of page.Items ?? []) {
        const key = item[s.hashKey]?.S ?? '';
        if (!key.startsWith(s.prefix)) continue;
        const rest = Object.fromEntries(
          Object.entries(item)
            .filter(([name]) => name !== s.hashKey)
            .sort(([a], [b]) => a.localeCompare(b))
            .map(([name, v]) => [name, attrJson(v)]),
        );
        out.push([key, JSON.stringify(rest)]);
      }
      start = page.LastEvaluatedKey;
    } while (start);
    return out;
  },
  async write(store, key, value) {
    const s = store as unknown as DynamoDBStore;
    const attrs = JSON.parse(value) as Record<string, Record<string, unknown>>;
    const item = Object.fromEntries(Object.entries(attrs).map(([name, v]) => [name, attrBack(v)]));
    await s.client.send(new PutItemCommand({ TableName: s.table, Item: { ...item, [s.hashKey]: { S: key } } }));
  },
};

/** MySQL/MariaDB: every row of the store's table, as JSON (default column names). */
export const mysqlRaw: RawStorage = {
  async entries(store) {
    const s = store as unknown as MySQLStore;
    const [exists] = await s.client.query(`SHOW TABLES LIKE ?`, [s.table.replace(/^.*\.|`/g, '')]);
    if ((exists as unknown[]).length === 0) return []; // not opened yet
    const [rows] = await s.client.query(`SELECT * FROM ${s.table}`);
    return (rows as Array<Record<string, unknown>>).map((row) => [String(row.session_id), JSON.stringify(row)]);
  },
  async write(store, key, value) {
    const s = store as unknown as MySQLStore;
    const { data } = JSON.parse(value) as { data: string };
    await s.client.query(`UPDATE ${s.table} SET data = ? WHERE session_id = ?`, [data, key]);
  },
};

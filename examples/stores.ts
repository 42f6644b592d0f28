/**
 * Picks the example's session store from the environment. Each backend (and its driver) is imported only when
 * chosen, so the default SQLite store runs without Redis, PostgreSQL or MongoDB drivers or servers.
 *
 *   SESSION_STORE=sqlite   (default)  SQLITE_FILE, default examples/sessions.db
 *   SESSION_STORE=memory
 *   SESSION_STORE=file                SESSION_DIR, default <os tmpdir>/session-stores-example
 *   SESSION_STORE=redis               REDIS_URL, default redis://127.0.0.1:6379
 *   SESSION_STORE=postgres            POSTGRES_URL, default postgres://postgres@127.0.0.1:5432/postgres
 *   SESSION_STORE=mongo               MONGODB_URL, default mongodb://127.0.0.1:27017/session-stores-example
 *   SESSION_STORE=mysql               MYSQL_URL, default mysql://root@127.0.0.1:3306/test
 *   SESSION_STORE=dynamodb            DYNAMODB_URL (a local endpoint, e.g. http://127.0.0.1:8000), else AWS from the
 *                                     SDK's environment (AWS_REGION, credentials); table DYNAMODB_TABLE, default sessions
 *   SESSION_STORE=<store URL>         redis://…, postgres://…, mongodb://…, sqlite:file, file:dir, memory:
 *                                     (the URLs of `session-stores migrate`, see cli/urls.ts)
 */
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { SessionStore } from '../shared/index.js';
import { openStoreUrl, redact, storeScheme } from '../cli/urls.js';

/** The store kinds `SESSION_STORE` accepts. */
export const STORE_KINDS = ['sqlite', 'memory', 'file', 'redis', 'postgres', 'mongo', 'dynamodb', 'mysql'] as const;
/** One of {@link STORE_KINDS}. */
export type StoreKind = (typeof STORE_KINDS)[number];

/** A store ready for express-session, what it is connected to, and how to release it and its client. */
export interface OpenedStore {
  store: SessionStore;
  /** Human-readable, for the start-up banner (no passwords). */
  description: string;
  /** Closes the store, then any client this factory created for it. */
  close(): Promise<void>;
}

const here = dirname(fileURLToPath(import.meta.url));

/** Opens the store named by `kind` (default: `SESSION_STORE`, else `sqlite`), configured from `env`. */
export async function openStore(
  kind: string = process.env.SESSION_STORE ?? 'sqlite',
  env: NodeJS.ProcessEnv = process.env,
): Promise<OpenedStore> {
  if (storeScheme(kind) !== undefined) {
    // A store URL: the same scheme as `session-stores migrate`, so the app can switch to the store it migrated to.
    const opened = await openStoreUrl(kind, { owner: 'user', create: true });
    if (!('supports' in opened.store)) {
      await opened.close();
      throw new Error(`SESSION_STORE: ${kind} is not one of this package's stores`);
    }
    return opened as OpenedStore;
  }
  switch (kind) {
    case 'sqlite': {
      const { SQLiteStore } = await import('../stores/sqlite/index.js');
      const filename = env.SQLITE_FILE ?? join(here, 'sessions.db');
      const store = new SQLiteStore({ filename, owner: 'user' });
      return { store, description: `SQLite file ${filename}`, close: () => store.close() };
    }
    case 'memory': {
      const { MemoryStore } = await import('../stores/memory/index.js');
      const store = new MemoryStore({ owner: 'user' });
      return { store, description: 'memory (this process only)', close: () => store.close() };
    }
    case 'file': {
      const { FileStore } = await import('../stores/file/index.js');
      const path = env.SESSION_DIR ?? join(tmpdir(), 'session-stores-example');
      const store = new FileStore({ path, owner: 'user' });
      return { store, description: `files in ${path}`, close: () => store.close() };
    }
    case 'redis': {
      const [{ RedisStore }, { createClient }] = await Promise.all([import('../stores/redis/index.js'), import('redis')]);
      const url = env.REDIS_URL ?? 'redis://127.0.0.1:6379';
      // Without an 'error' listener node-redis would crash the process on the first connection error.
      const client = createClient({ url }).on('error', (err: Error) => console.error(`redis: ${err.message}`));
      await client.connect();
      const store = new RedisStore({ client, owner: 'user' });
      return {
        store,
        description: `Redis ${redact(url)}`,
        close: async () => {
          await store.close();
          client.destroy();
        },
      };
    }
    case 'postgres': {
      const { PostgresStore } = await import('../stores/postgres/index.js');
      const url = env.POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
      const store = new PostgresStore({ conString: url, createTableIfMissing: true, owner: 'user' });
      return { store, description: `PostgreSQL ${redact(url)}`, close: () => store.close() };
    }
    case 'mongo': {
      const { MongoStore } = await import('../stores/mongo/index.js');
      const url = env.MONGODB_URL ?? 'mongodb://127.0.0.1:27017/session-stores-example';
      const store = new MongoStore({ mongoUrl: url, owner: 'user' });
      return { store, description: `MongoDB ${redact(url)}`, close: () => store.close() };
    }
    case 'dynamodb': {
      const { DynamoDBStore } = await import('../stores/dynamodb/index.js');
      const url = env.DYNAMODB_URL;
      const table = env.DYNAMODB_TABLE ?? 'sessions';
      // A local endpoint (docker compose's amazon/dynamodb-local, dynalite) takes any credentials and region.
      const clientOptions = url
        ? {
            endpoint: url,
            region: env.AWS_REGION ?? 'us-east-1',
            credentials: { accessKeyId: env.AWS_ACCESS_KEY_ID ?? 'local', secretAccessKey: env.AWS_SECRET_ACCESS_KEY ?? 'local' },
          }
        : {};
      const store = new DynamoDBStore({ clientOptions, table, createTable: true, owner: 'user' });
      return { store, description: `DynamoDB table ${table}${url ? ` at ${redact(url)}` : ''}`, close: () => store.close() };
    }
    case 'mysql': {
      const { MySQLStore } = await import('../stores/mysql/index.js');
      const url = env.MYSQL_URL ?? 'mysql://root@127.0.0.1:3306/test';
      const store = new MySQLStore({ uri: url, owner: 'user' });
      return { store, description: `MySQL/MariaDB ${redact(url)}`, close: () => store.close() };
    }
    default:
      throw new Error(`SESSION_STORE must be one of ${STORE_KINDS.join(', ')} or a store URL; got ${JSON.stringify(kind)}`);
  }
}

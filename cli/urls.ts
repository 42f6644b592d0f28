/**
 * Store URLs: one string names a session store, for `session-stores migrate` / `inspect` and the example app.
 *
 *   redis://[user:pass@]host[:port][/db][?prefix=sess:]      ioredis; several hosts (`h1:7000,h2:7001`) or
 *   rediss://…                                                `?cluster=1` make a Redis Cluster client
 *   postgres://…[?table=session&schema=public]               also postgresql://; other parameters go to `pg`
 *   mongodb://…/db[?collection=sessions]                     also mongodb+srv://; other parameters go to the driver
 *   sqlite:path/to/file.db[?table=sessions]                  sqlite:///abs/path.db for an absolute path
 *   file:path/to/dir                                          FileStore (file:///abs/dir)
 *   memory:                                                   MemoryStore of this process (tests)
 *   ./my-store.mjs | some-package                             a store module (see conformance/load.ts)
 *
 * Every scheme also takes `?ttl=<seconds>` (default lifetime of sessions whose cookie has no expiry) and
 * `?owner=<path>` (the `owner` option: index sessions by that property). Other parameters go to the driver for
 * postgres: and mongodb:, and are refused elsewhere. A string whose scheme is not one of
 * {@link STORE_SCHEMES} is a module path or package name. A new store is one more entry in {@link STORE_SCHEMES}.
 */
import type { Store } from 'express-session';
import { ErrorCode, SessionStoreError } from '../shared/errors.js';
import type { SessionStore } from '../shared/store.js';
import { loadStoreModule } from '../conformance/load.js';

/** A store opened from a URL, what it is (without passwords), and how to release it and what it opened. */
export interface OpenedStore<S extends Store = Store> {
  store: S;
  /** Human-readable, e.g. `Redis redis://127.0.0.1:6379/ prefix sess:` (no passwords). */
  description: string;
  /** Closes the store, then any client opened for it. */
  close(): Promise<void>;
}

/** A store URL split into its parts. Query parameters the store URL scheme consumes are removed from `url`. */
export interface StoreUrl {
  /** The scheme with its colon, e.g. `'redis:'`. */
  scheme: string;
  /** The URL without the parameters in {@link params} (what the driver gets), or the path for sqlite:/file:. */
  url: string;
  /** Store-level parameters (`prefix`, `table`, `ttl`, …) taken from the query string. */
  params: Record<string, string>;
}

/** What the caller can ask of every store it opens. */
export interface OpenOptions {
  /** The `owner` option when the URL has no `?owner=`. */
  owner?: string;
  /** Create the table / collection when missing (a migration target). Default false: reading never creates. */
  create?: boolean;
}

type Opener = (u: StoreUrl, o: OpenOptions) => Promise<OpenedStore>;

interface Scheme {
  /** Store-specific query parameters, taken out of the URL and passed to the store. */
  params: string[];
  /** Other parameters go to the driver (`pg`, `mongodb`); without this flag they are refused. */
  driverParams?: boolean;
  open: Opener;
}

/** Parameters every scheme accepts. */
const COMMON = ['ttl', 'owner'];

/**
 * The store URL schemes, one entry each (aliases share an entry). Adding a store is one entry: its parameters and
 * {@link simple} with the store's label, class and options.
 */
export const STORE_SCHEMES: Record<string, Scheme> = {
  'redis:': { params: ['prefix', 'cluster'], open: (u, o) => openRedis(u, o) },
  'rediss:': { params: ['prefix', 'cluster'], open: (u, o) => openRedis(u, o) },
  'postgres:': { params: ['table', 'schema'], driverParams: true, open: (u, o) => postgres(u, o) },
  'postgresql:': { params: ['table', 'schema'], driverParams: true, open: (u, o) => postgres(u, o) },
  'mongodb:': { params: ['collection'], driverParams: true, open: (u, o) => mongo(u, o) },
  'mongodb+srv:': { params: ['collection'], driverParams: true, open: (u, o) => mongo(u, o) },
  'sqlite:': {
    params: ['table'],
    open: simple(
      'SQLite',
      async () => (await import('../stores/sqlite/index.js')).SQLiteStore,
      (u) => ({ filename: path(u, 'a file, e.g. sqlite:./sessions.db'), tableName: u.params.table }),
    ),
  },
  'file:': {
    params: [],
    open: simple(
      'files',
      async () => (await import('../stores/file/index.js')).FileStore,
      (u) => ({ path: path(u, 'a directory, e.g. file:./sessions') }),
    ),
  },
  'memory:': {
    params: [],
    open: simple(
      'memory',
      async () => (await import('../stores/memory/index.js')).MemoryStore,
      (u) => noPath(u),
    ),
  },
  'mysql:': {
    params: ['table'],
    driverParams: true,
    open: simple(
      'MySQL/MariaDB',
      async () => (await import('../stores/mysql/index.js')).MySQLStore,
      (u, o) => ({
        uri: u.url,
        schema: u.params.table === undefined ? undefined : { tableName: u.params.table },
        createDatabaseTable: o.create === true,
      }),
    ),
  },
  // dynamodb://host:port (a local endpoint, dummy credentials) or dynamodb://aws (the SDK's environment).
  'dynamodb:': {
    params: ['table', 'prefix', 'region'],
    open: simple(
      'DynamoDB',
      async () => (await import('../stores/dynamodb/index.js')).DynamoDBStore,
      (u, o) => ({
        clientOptions: dynamoClient(u),
        table: u.params.table,
        prefix: u.params.prefix,
        createTable: o.create === true,
      }),
    ),
  },
};

/** The DynamoDB client of a `dynamodb://` URL: `dynamodb://aws` uses the SDK's environment, a host an endpoint. */
function dynamoClient(u: StoreUrl): Record<string, unknown> {
  const host = u.url.slice('dynamodb://'.length).replace(/\/$/, '');
  const region = u.params.region;
  if (host === 'aws' || host === '') return region === undefined ? {} : { region };
  return { endpoint: `http://${host}`, region: region ?? 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } };
}

const postgres = simple(
  'PostgreSQL',
  async () => (await import('../stores/postgres/index.js')).PostgresStore,
  (u, o) => ({
    conString: u.url,
    tableName: u.params.table,
    schemaName: u.params.schema,
    createTableIfMissing: o.create === true,
  }),
);

const mongo = simple(
  'MongoDB',
  async () => (await import('../stores/mongo/index.js')).MongoStore,
  (u) => ({
    mongoUrl: u.url,
    collectionName: u.params.collection,
  }),
);

/** The scheme of `spec` when it is one of {@link STORE_SCHEMES}, else undefined (a module path or package). */
export function storeScheme(spec: string): string | undefined {
  const match = /^([a-z][a-z0-9+.-]*:)/i.exec(spec);
  const scheme = match?.[1]?.toLowerCase();
  return scheme !== undefined && scheme in STORE_SCHEMES ? scheme : undefined;
}

/**
 * Splits a store URL. Done on the string, not with `new URL()`: Redis Cluster and MongoDB URLs list several
 * hosts, which WHATWG URLs reject.
 * @throws SessionStoreError `INVALID_OPTION` for an unknown scheme, an unknown or repeated parameter
 */
export function parseStoreUrl(spec: string): StoreUrl {
  const scheme = storeScheme(spec);
  if (scheme === undefined) {
    throw new SessionStoreError(
      ErrorCode.INVALID_OPTION,
      `not a store URL: ${redact(spec)} (schemes: ${Object.keys(STORE_SCHEMES).join(' ')})`,
    );
  }
  const q = spec.indexOf('?');
  const base = q < 0 ? spec : spec.slice(0, q);
  const query = new URLSearchParams(q < 0 ? '' : spec.slice(q + 1));
  const ours = new Set([...COMMON, ...STORE_SCHEMES[scheme]!.params]);
  const params: Record<string, string> = {};
  const rest = new URLSearchParams();
  const fileLike = scheme === 'sqlite:' || scheme === 'file:' || scheme === 'memory:';
  for (const [key, value] of query) {
    if (ours.has(key)) {
      if (key in params) throw new SessionStoreError(ErrorCode.INVALID_OPTION, `${scheme} URL: ?${key}= given twice`);
      params[key] = value;
    } else if (STORE_SCHEMES[scheme]!.driverParams !== true) {
      throw new SessionStoreError(ErrorCode.INVALID_OPTION, `${scheme} URL: unknown parameter ?${key}= (known: ${[...ours].join(', ')})`);
    } else rest.append(key, value);
  }
  let url: string;
  if (fileLike) {
    // sqlite:rel/path, sqlite:/abs/path and sqlite:///abs/path (the file: URL spelling) all work.
    url = decodeURIComponent(base.slice(scheme.length).replace(/^\/\/(?=\/)/, ''));
  } else {
    const tail = rest.toString();
    url = tail ? `${base}?${tail}` : base;
  }
  return { scheme, url, params };
}

/**
 * Opens the store `spec` names: a store URL, or a module path / package exporting a store factory (any
 * express-session store, as `session-stores conformance` takes them; its `teardown` and `cleanup` run on close).
 * @throws SessionStoreError `INVALID_OPTION` for a malformed URL; Error when a module cannot be loaded
 */
export async function openStoreUrl(spec: string, options: OpenOptions = {}): Promise<OpenedStore> {
  const scheme = storeScheme(spec);
  if (scheme === undefined) return openModule(spec);
  const parsed = parseStoreUrl(spec);
  return STORE_SCHEMES[scheme]!.open(parsed, options);
}

/** A connection URL without its password, for printing. */
export function redact(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/[^:/@?#]*:)[^@/?#]*@/i, '$1***@');
}

// --- openers ---------------------------------------------------------------------------------------------------

/** The options every store gets from a URL: ttl and owner. */
function common(u: StoreUrl, o: OpenOptions): { ttl?: number; owner?: string } {
  const out: { ttl?: number; owner?: string } = {};
  if (u.params.ttl !== undefined) {
    const ttl = Number(u.params.ttl);
    if (!(ttl > 0))
      throw new SessionStoreError(ErrorCode.INVALID_OPTION, `?ttl= must be a positive number of seconds, got ${u.params.ttl}`);
    out.ttl = ttl;
  }
  const owner = u.params.owner ?? o.owner;
  if (owner) out.owner = owner;
  return out;
}

/** The path of a sqlite: or file: URL. */
function path(u: StoreUrl, what: string): string {
  if (!u.url) throw new SessionStoreError(ErrorCode.INVALID_OPTION, `${u.scheme} URL needs ${what}`);
  return u.url;
}

/** memory: takes no path. */
function noPath(u: StoreUrl): object {
  if (u.url) throw new SessionStoreError(ErrorCode.INVALID_OPTION, `memory: takes no path, got ${JSON.stringify(u.url)}`);
  return {};
}

/** One of our stores, made with `options(url)` plus the common ones; it opens and closes its own client. */
type StoreClass = new (options: never) => SessionStore;

/**
 * An opener for a store that takes its connection from options: `options` maps the URL to the store's options
 * (the common `ttl` and `owner` are added). The description names the store's namespace, never a password.
 */
function simple(label: string, load: () => Promise<StoreClass>, options: (u: StoreUrl, o: OpenOptions) => object): Opener {
  return async (u, o) => {
    const StoreClass = await load();
    const store = new StoreClass({ ...options(u, o), ...common(u, o) } as never);
    const where = u.scheme === 'sqlite:' || u.scheme === 'file:' || u.scheme === 'memory:' ? '' : ` ${redact(u.url)}`;
    return {
      store,
      description: `${label}${where}${store.namespace !== undefined ? ` (${store.namespace})` : ''}`,
      close: () => store.close(),
    };
  };
}

async function openRedis(u: StoreUrl, o: OpenOptions): Promise<OpenedStore> {
  const [{ RedisStore }, { Redis, Cluster }] = await Promise.all([import('../stores/redis/index.js'), import('ioredis')]);
  const m = /^(rediss?):\/\/(?:([^@/?#]*)@)?([^/?#]*)(\/\d*)?$/i.exec(u.url.split('?')[0]!);
  if (!m) throw new SessionStoreError(ErrorCode.INVALID_OPTION, `malformed Redis URL: ${redact(u.url)}`);
  const [, scheme, auth, hostList, dbPath] = m;
  const hosts = (hostList || '127.0.0.1:6379').split(',').map((h) => {
    const [host, port] = h.split(/:(?=\d*$)/);
    return { host: host || '127.0.0.1', port: Number(port || 6379) };
  });
  const cluster = hosts.length > 1 || u.params.cluster === '1' || u.params.cluster === 'true';
  const [username, password] = auth ? auth.split(':').map(decodeURIComponent) : [];
  const tls = scheme!.toLowerCase() === 'rediss' ? {} : undefined;
  const common_ = { username: username || undefined, password: password || undefined, tls, lazyConnect: false };
  const client = cluster
    ? new Cluster(hosts, { redisOptions: common_ })
    : new Redis({ ...hosts[0]!, ...common_, db: dbPath && dbPath.length > 1 ? Number(dbPath.slice(1)) : 0 });
  // Without a listener ioredis prints every reconnection error; the store reports failures through its operations.
  client.on('error', () => {});
  const store = new RedisStore({ client, prefix: u.params.prefix, ...common(u, o) });
  return {
    store,
    description: `Redis${cluster ? ' Cluster' : ''} ${redact(u.url)} prefix ${store.prefix}`,
    close: async () => {
      await store.close();
      await client.quit().catch(() => client.disconnect());
    },
  };
}

/** A store module (conformance's loader): its factory makes the store, its teardown and cleanup release it. */
async function openModule(spec: string): Promise<OpenedStore> {
  const mod = await loadStoreModule(spec);
  const store = await mod.factory({});
  if (store === null || typeof store !== 'object' || typeof (store as Partial<Store>).get !== 'function') {
    throw new Error(`${spec}: the factory did not return a store`);
  }
  return {
    store,
    description: `${mod.name ?? spec}${mod.backend ? ` (${mod.backend})` : ''}`,
    close: async () => {
      try {
        if (mod.teardown) await mod.teardown(store);
        else await (store as { close?: () => Promise<void> | void }).close?.();
      } finally {
        await mod.cleanup?.();
      }
    },
  };
}

/**
 * Real database servers for the tests: never mocks.
 *
 * Each kind comes from, in order: an env URL (REDIS_URL, POSTGRES_URL, MONGODB_URL), testcontainers when a
 * Docker engine answers, or a private server spawned from local binaries (redis-server, PostgreSQL's
 * initdb/postgres, FerretDB built by tools/ferretdb). The shared servers are started once per run by
 * test/global-setup.ts and handed to the workers through vitest's provide/inject; every test file makes its
 * own namespace with uniqueName() so files can run in parallel.
 *
 * Skipping: a test file that needs a backend does
 *
 *     const redis = await serverOrSkip('redis');        // ServerInfo, or undefined after a loud warning
 *     describe.skipIf(!redis)('RedisStore', () => { ... redis!.url ... });
 *
 * or, equivalently, `await describeWithServer('redis', 'RedisStore', (redis) => { ... })`. Where a missing
 * server must fail instead (CI set, SESSION_STORES_REQUIRE_ALL=1), both throw, which fails the file; global
 * setup has already failed the run in that case.
 */
import { describe, inject, it } from 'vitest';
import { dockerReachable, containerRedisCluster, privateContainer } from './docker.js';
import { localDynalite, localFerretDB, localMysql, localPostgres, localRedis, localRedisCluster, redisServerBin } from './local.js';
import { probeRedis } from './probe.js';
import { requireServer, startSharedServer } from './shared.js';
import {
  MissingServerError,
  type ControllableServer,
  type Kind,
  type RedisClusterInfo,
  type ServerInfo,
  type SharedServers,
} from './types.js';

export { MissingServerError, requireServer };
export type { ControllableServer, Kind, RedisClusterInfo, ServerInfo, SharedServers };

declare module 'vitest' {
  export interface ProvidedContext {
    sessionStoresServers: SharedServers;
  }
}

/** The environment variable through which a parent process (the matrix) hands its servers to child processes. */
export const SERVERS_ENV = 'SESSION_STORES_SERVERS';

function provided(): SharedServers | undefined {
  try {
    return inject('sessionStoresServers');
  } catch {
    // not inside a vitest worker
    const env = process.env[SERVERS_ENV];
    return env ? (JSON.parse(env) as SharedServers) : undefined;
  }
}

const started = new Map<Kind, Promise<ServerInfo>>();

/**
 * The run's shared server of a kind. Without global setup (a script, or a config that lacks it) the first
 * call starts one for this process, stopped when the process exits.
 */
function shared(kind: Kind): Promise<ServerInfo> {
  const p = provided()?.[kind];
  if (p) return 'missing' in p ? Promise.reject(new MissingServerError(kind, p.missing)) : Promise.resolve(p);
  let s = started.get(kind);
  if (!s) {
    s = startSharedServer(kind).then(({ kind: k, url, source, description }) => ({ kind: k, url, source, description }));
    started.set(kind, s);
  }
  return s;
}

/** The run's Redis; namespace keys with a uniqueName() prefix, and never FLUSHALL: other files share it. */
export function redisServer(): Promise<ServerInfo> {
  return shared('redis');
}

/** The run's PostgreSQL (url like postgres://user@127.0.0.1:port/db); create a database or schema per file. */
export function postgresServer(): Promise<ServerInfo> {
  return shared('postgres');
}

/** The run's MongoDB or FerretDB (mongodb://127.0.0.1:port/); use a uniqueName() database per file. */
export function mongoServer(): Promise<ServerInfo> {
  return shared('mongo');
}

/** The run's DynamoDB-compatible server (dynalite, or DYNAMODB_URL); use a uniqueName() table per file or test. */
export function dynamodbServer(): Promise<ServerInfo> {
  return shared('dynamodb');
}

/** The run's MySQL or MariaDB (mysql://root@127.0.0.1:port/, no database): create a database per file. */
export function mysqlServer(): Promise<ServerInfo> {
  return shared('mysql');
}

let cluster: Promise<RedisClusterInfo & { close(): Promise<void> }> | undefined;

/**
 * A Redis Cluster of three masters, started on first use and shared by the calling process (the watchdog
 * and exit hooks stop it with the process). REDIS_CLUSTER_URLS (or REDIS_CLUSTER_URL), comma-separated
 * redis:// URLs, names an existing cluster. Local binaries come before containers here, unlike the other
 * kinds, because a containerized cluster needs host networking, which Docker Desktop does not have.
 */
export async function redisCluster(): Promise<RedisClusterInfo> {
  cluster ??= (async () => {
    const urls = process.env.REDIS_CLUSTER_URLS ?? process.env.REDIS_CLUSTER_URL;
    if (urls) {
      const nodes = urls
        .split(',')
        .map((u) => new URL(u.trim()))
        .map((u) => ({ host: u.hostname, port: Number(u.port || 6379) }));
      const version = await probeRedis(`redis://${nodes[0]!.host}:${nodes[0]!.port}`);
      return { nodes, source: 'env' as const, description: `REDIS_CLUSTER_URLS: ${version} cluster`, close: async () => {} };
    }
    if (redisServerBin() || !(await dockerReachable())) return localRedisCluster();
    return containerRedisCluster();
  })();
  const { close: _close, ...info } = await cluster;
  return info;
}

/**
 * Private servers, one per call, for tests that stop and restart them. Not from env URLs: a user's server
 * is not ours to stop. Call close() in afterAll; the exit hooks and the watchdog are the safety net.
 */
async function privateServer(kind: Kind, local: () => Promise<ControllableServer>): Promise<ControllableServer> {
  return (await dockerReachable()) ? privateContainer(kind) : local();
}

/** A private redis-server; `persist` turns on an fsync'ed AOF so data survives stop()/start(). */
export function privateRedis(opts: { persist?: boolean } = {}): Promise<ControllableServer> {
  return privateServer('redis', () => localRedis(opts));
}

/** A private PostgreSQL cluster, stopped with a fast shutdown (clients are disconnected). */
export function privatePostgres(): Promise<ControllableServer> {
  return privateServer('postgres', localPostgres);
}

/** A private FerretDB (or MongoDB container) whose data survives stop()/start(). */
export function privateMongo(): Promise<ControllableServer> {
  return privateServer('mongo', localFerretDB);
}

/**
 * A private dynalite whose data survives stop()/start() (LevelDB files), for fault tests: as a child process it can
 * be frozen (SIGSTOP) and killed. A container (amazon/dynamodb-local) only where dynalite is missing.
 */
export async function privateDynamoDB(): Promise<ControllableServer> {
  try {
    return await localDynalite();
  } catch (err) {
    if (await dockerReachable()) return privateContainer('dynamodb');
    throw err;
  }
}

/** A private MariaDB/MySQL server whose data survives stop()/start(). */
export function privateMysql(): Promise<ControllableServer> {
  return privateServer('mysql', localMysql);
}

let counter = 0;
/**
 * A name unique across processes and calls, valid unquoted as a Redis prefix, a PostgreSQL database or
 * schema (lower case, starts with a letter, ≤ 63 chars) and a MongoDB/FerretDB database name.
 */
export function uniqueName(prefix: string): string {
  let p = prefix
    .toLowerCase()
    .replace(/[^a-z0-9_]/g, '_')
    .slice(0, 24);
  if (!/^[a-z]/.test(p)) p = `t${p}`;
  return `${p}_${process.pid}_${++counter}_${Math.random().toString(36).slice(2, 6)}`;
}

/**
 * Runs `start` and returns its server, or undefined when the server is missing and not required; the skip
 * is announced on stderr so that it cannot pass for a green run.
 */
export async function skipIfMissing<T>(kind: Kind | 'redis-cluster', start: () => Promise<T>): Promise<T | undefined> {
  try {
    return await start();
  } catch (err) {
    if (!(err instanceof MissingServerError) || requireServer(kind)) throw err;
    console.warn(`\n!!! SKIPPING ${kind} tests: ${err.message}\n`);
    return undefined;
  }
}

/** The shared server of `kind`, or undefined (after a loud warning) when it is missing and not required. */
export function serverOrSkip(kind: Kind): Promise<ServerInfo | undefined> {
  return skipIfMissing(kind, () => shared(kind));
}

/**
 * describe() whose body gets the shared server; when the server is missing (and not required) the suite
 * shows up as skipped with the reason in its name. Await it at the top level of the test file.
 */
export async function describeWithServer(kind: Kind, name: string, fn: (server: ServerInfo) => void): Promise<void> {
  const server = await serverOrSkip(kind);
  if (server) describe(`${name} [${kind}: ${server.description}]`, () => fn(server));
  else describe.skip(`${name} [no ${kind} server]`, () => it('needs a server', () => {}));
}

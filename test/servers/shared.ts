// Choosing a server per kind: env URL, then testcontainers, then local binaries. No vitest imports here, so
// that global setup (which runs outside the test workers) can use it.
import { containerServer, dockerReachable } from './docker.js';
import { localDynalite, localFerretDB, localMysql, localPostgres, localRedis } from './local.js';
import { poll } from './procs.js';
import { probeDynamoDB, probeMongo, probeMysql, probePostgres, probeRedis } from './probe.js';
import { MissingServerError, type Kind, type ServerInfo, type SharedServers } from './types.js';

export const ENV_URL: Record<Kind, string> = {
  redis: 'REDIS_URL',
  postgres: 'POSTGRES_URL',
  mongo: 'MONGODB_URL',
  dynamodb: 'DYNAMODB_URL',
  mysql: 'MYSQL_URL',
};
const PROBE = { redis: probeRedis, postgres: probePostgres, mongo: probeMongo, dynamodb: probeDynamoDB, mysql: probeMysql };
const LOCAL = {
  redis: () => localRedis(),
  postgres: localPostgres,
  mongo: localFerretDB,
  dynamodb: () => localDynalite({ persist: false }),
  mysql: localMysql,
};
/**
 * Kinds whose local server comes before a container: dynalite is an npm dev dependency, so it is always there, and
 * as a child process it can be frozen and killed by the fault tests without Docker.
 */
const LOCAL_FIRST: ReadonlySet<Kind> = new Set(['dynamodb']);

export type RunningServer = ServerInfo & { close(): Promise<void> };

/**
 * Starts (or, for an env URL, checks) the server a kind's tests will share. An env URL that does not answer
 * is an error rather than a reason to fall back: the user asked for that server.
 */
export async function startSharedServer(kind: Kind): Promise<RunningServer> {
  const url = process.env[ENV_URL[kind]];
  if (url) {
    let version: string;
    try {
      // A few seconds of retries: a server started just before the tests may still be coming up.
      version = await poll(() => PROBE[kind](url), 10_000);
    } catch (err) {
      throw new MissingServerError(kind, `${ENV_URL[kind]}=${url} does not answer: ${(err as Error).message}`);
    }
    return { kind, url, source: 'env', description: `${ENV_URL[kind]}: ${version}`, close: async () => {} };
  }
  const errors: string[] = [];
  if (LOCAL_FIRST.has(kind)) {
    try {
      return await LOCAL[kind]();
    } catch (err) {
      errors.push((err as Error).message);
    }
    if (await dockerReachable()) {
      try {
        return await containerServer(kind);
      } catch (err) {
        errors.push(`testcontainers: ${(err as Error).message}`);
      }
    }
    throw new MissingServerError(kind, errors.join('; '));
  }
  if (await dockerReachable()) {
    try {
      return await containerServer(kind);
    } catch (err) {
      errors.push(`testcontainers: ${(err as Error).message}`);
    }
  }
  try {
    return await LOCAL[kind]();
  } catch (err) {
    errors.push((err as Error).message);
  }
  const docker = errors.length > 1 ? '' : ', or run a Docker engine for testcontainers';
  throw new MissingServerError(kind, `${errors.join('; ')}${docker}`);
}

/** Every kind of server the tests and the matrix use. */
export const KINDS: Kind[] = ['redis', 'postgres', 'mongo', 'dynamodb', 'mysql'];

/**
 * Starts the shared server of every kind at once: what to hand to workers or child processes (plain data: a server
 * per kind, or why there is none), and the running servers to close at the end.
 */
export async function startSharedServers(kinds: Kind[] = KINDS): Promise<{ servers: SharedServers; running: RunningServer[] }> {
  const running: RunningServer[] = [];
  const servers: SharedServers = {};
  await Promise.all(
    kinds.map(async (kind) => {
      try {
        const server = await startSharedServer(kind);
        running.push(server);
        servers[kind] = { kind, url: server.url, source: server.source, description: server.description };
      } catch (err) {
        servers[kind] = { kind, missing: (err as Error).message };
      }
    }),
  );
  return { servers, running };
}

/** Whether a missing server must fail the run rather than skip: CI, or SESSION_STORES_REQUIRE_ALL=1. */
export function requireServer(kind: Kind | 'redis-cluster'): boolean {
  const ci = process.env.CI;
  if (ci && ci !== 'false' && ci !== '0') return true;
  if (process.env.SESSION_STORES_REQUIRE_ALL === '1') return true;
  // SESSION_STORES_REQUIRE=redis,mongo requires only some kinds.
  return (process.env.SESSION_STORES_REQUIRE ?? '').split(',').includes(kind);
}

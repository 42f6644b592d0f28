// Servers from testcontainers, used only when a Docker engine answers; kept in step with docker-compose.yml.
import { existsSync } from 'node:fs';
import { request } from 'node:http';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { probeDynamoDB, probeMongo, probeMysql, probePostgres, probeRedis } from './probe.js';
import { freePort, poll } from './procs.js';
import type { ControllableServer, Kind, RedisClusterInfo, ServerInfo } from './types.js';

/** Images for containers; docker-compose.yml and the CI workflow use the same ones. */
export const IMAGES = {
  redis: 'redis:8-alpine',
  postgres: 'postgres:17-alpine',
  mongo: 'mongo:8.0',
  dynamodb: 'amazon/dynamodb-local:latest',
  mysql: 'mysql:8.4',
} as const;
/** MySQL-compatible images the MySQL tests run on where Docker exists (SESSION_STORES_MYSQL_IMAGE picks one). */
export const MYSQL_IMAGES = { mysql: 'mysql:8.4', mariadb: 'mariadb:11' } as const;

function mysqlImage(): string {
  const chosen = process.env.SESSION_STORES_MYSQL_IMAGE;
  return chosen === undefined ? IMAGES.mysql : (MYSQL_IMAGES[chosen as keyof typeof MYSQL_IMAGES] ?? chosen);
}

/** Root without a password, on both images; the URL names no database (tests create their own). */
const MYSQL_ENV = { MYSQL_ALLOW_EMPTY_PASSWORD: 'yes', MARIADB_ALLOW_EMPTY_ROOT_PASSWORD: 'yes' };

function ping(opts: { socketPath?: string; host?: string; port?: number }): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request({ ...opts, path: '/_ping', method: 'GET', timeout: 1000 }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(false));
    req.end();
  });
}

let reachable: Promise<boolean> | undefined;
/**
 * Whether testcontainers would find an engine. Checked by hand with a one-second ping because
 * testcontainers' own discovery is slow to give up, and `docker` may be installed without an engine.
 * SESSION_STORES_NO_DOCKER=1 skips containers even where an engine runs.
 */
export function dockerReachable(): Promise<boolean> {
  return (reachable ??= (async () => {
    if (process.env.SESSION_STORES_NO_DOCKER === '1') return false;
    const host = process.env.DOCKER_HOST;
    if (host?.startsWith('tcp://')) {
      if (process.env.DOCKER_TLS_VERIFY) return true; // TLS: leave the handshake to testcontainers
      const u = new URL(host.replace('tcp://', 'http://'));
      return ping({ host: u.hostname, port: Number(u.port || 2375) });
    }
    const sockets = host?.startsWith('unix://')
      ? [host.slice('unix://'.length)]
      : [
          '/var/run/docker.sock',
          process.env.XDG_RUNTIME_DIR && join(process.env.XDG_RUNTIME_DIR, 'docker.sock'),
          join(homedir(), '.docker/run/docker.sock'),
          join(homedir(), '.docker/desktop/docker.sock'),
        ];
    for (const s of sockets) if (s && existsSync(s) && (await ping({ socketPath: s }))) return true;
    return false;
  })());
}

type Shared = ServerInfo & { close(): Promise<void> };

/** A shared server from the testcontainers module for `kind`; Ryuk removes it if we die. */
export async function containerServer(kind: Kind): Promise<Shared> {
  let url: string;
  let stop: () => Promise<unknown>;
  if (kind === 'redis') {
    const { RedisContainer } = await import('@testcontainers/redis');
    const c = await new RedisContainer(IMAGES.redis).start();
    url = c.getConnectionUrl();
    stop = () => c.stop();
  } else if (kind === 'postgres') {
    const { PostgreSqlContainer } = await import('@testcontainers/postgresql');
    const c = await new PostgreSqlContainer(IMAGES.postgres).start();
    url = c.getConnectionUri();
    stop = () => c.stop();
  } else if (kind === 'dynamodb') {
    const { GenericContainer } = await import('testcontainers');
    const c = await new GenericContainer(IMAGES.dynamodb)
      .withCommand(['-jar', 'DynamoDBLocal.jar', '-inMemory', '-sharedDb'])
      .withExposedPorts(8000)
      .start();
    url = `http://${c.getHost()}:${c.getMappedPort(8000)}`;
  } else if (kind === 'mysql') {
    const { GenericContainer } = await import('testcontainers');
    const c = await new GenericContainer(mysqlImage()).withEnvironment(MYSQL_ENV).withExposedPorts(3306).start();
    url = `mysql://root@${c.getHost()}:${c.getMappedPort(3306)}/`;
    await poll(() => probeMysql(url));
    stop = () => c.stop();
  } else {
    const { MongoDBContainer } = await import('@testcontainers/mongodb');
    const c = await new MongoDBContainer(IMAGES.mongo).start();
    // The replica set advertises the container's hostname; connect to the mapped port directly instead.
    url = `${c.getConnectionString()}/?directConnection=true`;
    stop = () => c.stop();
  }
  const probed = await poll(() =>
    ({ redis: probeRedis, postgres: probePostgres, mongo: probeMongo, dynamodb: probeDynamoDB, mysql: probeMysql })[kind](url),
  );
  return {
    kind,
    url,
    source: 'testcontainers',
    description: `testcontainers ${kind === 'mysql' ? mysqlImage() : IMAGES[kind]}: ${probed}`,
    close: async () => void (await stop()),
  };
}

/**
 * A private container for fault tests. Its host port is fixed (not Docker's random mapping) so that the
 * URL stays valid across stop/start, which testcontainers' own stop() cannot do (it removes the container).
 */
export async function privateContainer(kind: Kind): Promise<ControllableServer> {
  const { GenericContainer, getContainerRuntimeClient } = await import('testcontainers');
  const hostPort = await freePort();
  const spec: { port: number; env: Record<string, string>; cmd?: string[]; url: string; probe: (url: string) => Promise<string> } = {
    redis: {
      port: 6379,
      env: {},
      cmd: ['redis-server', '--appendonly', 'yes', '--appendfsync', 'always'],
      url: `redis://127.0.0.1:${hostPort}`,
      probe: probeRedis,
    },
    postgres: {
      port: 5432,
      env: { POSTGRES_HOST_AUTH_METHOD: 'trust' },
      cmd: undefined,
      url: `postgres://postgres@127.0.0.1:${hostPort}/postgres`,
      probe: probePostgres,
    },
    mongo: { port: 27017, env: {}, cmd: undefined, url: `mongodb://127.0.0.1:${hostPort}/?directConnection=true`, probe: probeMongo },
    // -dbPath: the data survives stop()/start() of the container.
    dynamodb: {
      port: 8000,
      env: {},
      cmd: ['-jar', 'DynamoDBLocal.jar', '-sharedDb', '-dbPath', '.'],
      url: `http://127.0.0.1:${hostPort}`,
      probe: probeDynamoDB,
    },
    mysql: { port: 3306, env: MYSQL_ENV, cmd: undefined, url: `mysql://root@127.0.0.1:${hostPort}/`, probe: probeMysql },
  }[kind];
  const image = kind === 'mysql' ? mysqlImage() : IMAGES[kind];
  let gc = new GenericContainer(image).withEnvironment(spec.env).withExposedPorts({ container: spec.port, host: hostPort });
  if (spec.cmd) gc = gc.withCommand(spec.cmd);
  const started = await gc.start();
  const ready = () => poll(() => spec.probe(spec.url));
  const probed = await ready();
  const client = await getContainerRuntimeClient();
  const container = client.container.getById(started.getId());
  return {
    kind,
    url: spec.url,
    source: 'testcontainers',
    description: `testcontainers ${image}: ${probed}`,
    async stop() {
      await client.container.stop(container, { timeout: 10 });
    },
    async start() {
      await client.container.start(container);
      await ready();
    },
    async freeze() {
      await container.pause();
    },
    async thaw() {
      await container.unpause();
    },
    async close() {
      await started.stop();
    },
  };
}

/**
 * A Redis Cluster from three containers on the host network, so that the addresses the nodes announce are
 * the ones we connect to. Host networking exists only on Linux engines; elsewhere this throws.
 */
export async function containerRedisCluster(): Promise<RedisClusterInfo & { close(): Promise<void> }> {
  if (process.platform !== 'linux') throw new Error('a containerized Redis Cluster needs host networking (Linux)');
  const { GenericContainer } = await import('testcontainers');
  const ports = await Promise.all([freePort(), freePort(), freePort()]);
  const containers = await Promise.all(
    ports.map((p) =>
      new GenericContainer(IMAGES.redis)
        .withNetworkMode('host')
        .withCommand([
          'redis-server',
          '--port',
          String(p),
          '--bind',
          '127.0.0.1',
          '--cluster-enabled',
          'yes',
          '--save',
          '',
          '--appendonly',
          'no',
        ])
        .start(),
    ),
  );
  const close = async () => void (await Promise.all(containers.map((c) => c.stop())));
  try {
    const nodes = ports.map((port) => ({ host: '127.0.0.1', port }));
    for (const n of nodes) await poll(() => probeRedis(`redis://${n.host}:${n.port}`));
    const res = await containers[0]!.exec([
      'redis-cli',
      '--cluster',
      'create',
      ...nodes.map((n) => `${n.host}:${n.port}`),
      '--cluster-replicas',
      '0',
      '--cluster-yes',
    ]);
    if (res.exitCode !== 0) throw new Error(`redis-cli --cluster create failed: ${res.output}`);
    const { waitClusterOk } = await import('./local.js');
    await waitClusterOk(nodes);
    return { nodes, source: 'testcontainers', description: `testcontainers ${IMAGES.redis} cluster (3 masters)`, close };
  } catch (err) {
    await close();
    throw err;
  }
}

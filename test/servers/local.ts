// Private servers spawned from binaries on this machine, each on a free loopback port in its own temp dir.
import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';
import { accessSync, chownSync, constants, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { probeDynamoDB, probeMongo, probeMysql, probePostgres, probeRedis } from './probe.js';
import { ServerProcess, ensureDir, freePort, removeDir, serverDir, sleep, waitReady } from './procs.js';
import { MissingServerError, type ControllableServer, type Kind, type RedisClusterInfo } from './types.js';

const execFileAsync = promisify(execFile);
const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

function executable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** PATH plus the sbin dirs that a non-login root shell may lack. */
function which(name: string): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(':'), '/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin'];
  return dirs
    .filter(Boolean)
    .map((d) => join(d, name))
    .find(executable);
}

/** REDIS_SERVER_BIN, else redis-server on PATH; an env path that is not executable counts as missing. */
export function redisServerBin(): string | undefined {
  const env = process.env.REDIS_SERVER_BIN;
  return env ? (executable(env) ? env : undefined) : which('redis-server');
}

/** Debian keeps initdb/postgres off PATH, in /usr/lib/postgresql/<major>/bin; the newest major wins. */
export function postgresBinDir(): string | undefined {
  if (process.env.POSTGRES_BIN_DIR) return process.env.POSTGRES_BIN_DIR;
  let majors: string[] = [];
  try {
    majors = readdirSync('/usr/lib/postgresql').sort((a, b) => Number(b) - Number(a));
  } catch {
    /* not Debian-style */
  }
  const candidates = [...majors.map((m) => `/usr/lib/postgresql/${m}/bin`), '/usr/local/pgsql/bin'];
  const found = candidates.find((d) => executable(join(d, 'initdb')) && executable(join(d, 'postgres')));
  if (found) return found;
  const initdb = which('initdb');
  return initdb && executable(join(dirname(initdb), 'postgres')) ? dirname(initdb) : undefined;
}

/** tools/ferretdb builds the binary into a gitignored dir; FERRETDB_BIN overrides it. */
export function ferretdbBin(): string | undefined {
  if (process.env.FERRETDB_BIN) return executable(process.env.FERRETDB_BIN) ? process.env.FERRETDB_BIN : undefined;
  const built = join(repoRoot, 'tools/ferretdb/bin/ferretdb');
  return executable(built) ? built : which('ferretdb');
}

/**
 * Builds FerretDB from tools/ferretdb when Go is there (once: the binary is cached under tools/ferretdb/bin with a
 * stamp of its sources), so that `npm ci && npm test` runs the MongoDB tests on a fresh machine too. Says what it
 * does and how long it took. Undefined when there is no Go.
 */
function buildFerretDB(): string | undefined {
  const go = which('go') ?? (executable('/usr/local/go/bin/go') ? '/usr/local/go/bin/go' : undefined);
  if (!go || process.env.FERRETDB_BIN) return undefined;
  const t0 = Date.now();
  process.stdout.write(`\nsession-stores: no FerretDB binary; building it with ${go} (once, cached in tools/ferretdb/bin) …\n`);
  execFileSync('bash', [join(repoRoot, '.ci/provision.sh'), 'ferretdb'], {
    stdio: ['ignore', 'inherit', 'inherit'],
    env: { ...process.env, PATH: `${dirname(go)}:${process.env.PATH ?? ''}` },
  });
  process.stdout.write(`session-stores: FerretDB built in ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
  return ferretdbBin();
}

interface Launch {
  kind: Kind;
  what: string;
  dir: string;
  url: (port: number) => string;
  spawn: (port: number) => ServerProcess;
  probe: (url: string) => Promise<string>;
  describe: (probed: string) => string;
  beforeFirstStart?: () => Promise<void>;
}

/**
 * Shared start/stop/restart logic. The first start retries on a new port, because another process may grab
 * the port between freePort() and the server's bind; restarts keep the port so clients can reconnect.
 */
async function launch(l: Launch): Promise<ControllableServer> {
  try {
    await l.beforeFirstStart?.();
  } catch (err) {
    removeDir(l.dir);
    throw err;
  }
  let proc: ServerProcess | undefined;
  let port = 0;
  let probed = '';
  for (let attempt = 1; ; attempt++) {
    port = await freePort();
    proc = l.spawn(port);
    try {
      probed = await waitReady(proc, l.what, () => l.probe(l.url(port)));
      break;
    } catch (err) {
      await proc.stop(1000);
      if (attempt >= 3) {
        removeDir(l.dir);
        throw err;
      }
    }
  }
  const server: ControllableServer = {
    kind: l.kind,
    url: l.url(port),
    source: 'local',
    description: l.describe(probed),
    async stop() {
      await proc?.stop();
    },
    async start() {
      if (proc?.running) return;
      proc = l.spawn(port);
      await waitReady(proc, l.what, () => l.probe(l.url(port)));
    },
    async freeze() {
      proc?.signalTree('SIGSTOP');
    },
    async thaw() {
      proc?.signalTree('SIGCONT');
    },
    async kill() {
      if (!proc?.running) return;
      proc.signalTree('SIGKILL');
      await proc.exited;
    },
    async close() {
      await proc?.stop();
      removeDir(l.dir);
    },
  };
  return server;
}

function missing(kind: Kind, what: string, how: string): never {
  throw new MissingServerError(kind, `no ${what} found for a local ${kind} server; ${how}`);
}

/** A private redis-server; without `persist` nothing is written to disk, which is what most tests want. */
export async function localRedis(opts: { persist?: boolean; extraArgs?: string[] } = {}): Promise<ControllableServer> {
  const bin =
    redisServerBin() ??
    missing('redis', 'redis-server', 'install it (apt-get install redis-server), set REDIS_SERVER_BIN, or set REDIS_URL');
  const version = execFileSync(bin, ['--version'], { encoding: 'utf8' }).match(/v=(\S+)/)?.[1] ?? '?';
  const dir = serverDir('redis');
  const persistence = opts.persist
    ? ['--appendonly', 'yes', '--appendfsync', 'always', '--save', '']
    : ['--appendonly', 'no', '--save', ''];
  return launch({
    kind: 'redis',
    what: 'redis-server',
    dir,
    url: (port) => `redis://127.0.0.1:${port}`,
    spawn: (port) =>
      new ServerProcess(
        bin,
        ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--daemonize', 'no', ...persistence, ...(opts.extraArgs ?? [])],
        { log: join(dir, 'server.log') },
      ),
    probe: probeRedis,
    describe: () => `local redis-server ${version}`,
  });
}

/** The postgres user's ids when we are root, because initdb and postgres refuse to run as root. */
function postgresUser(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  try {
    const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
    const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
    return { uid, gid };
  } catch {
    throw new MissingServerError(
      'postgres',
      'running as root, but there is no "postgres" user to run initdb/postgres as (PostgreSQL refuses root); run the tests as another user or set POSTGRES_URL',
    );
  }
}

/** A private PostgreSQL cluster (trust auth, no fsync: throw-away data, fast). */
export async function localPostgres(): Promise<ControllableServer> {
  const binDir =
    postgresBinDir() ??
    missing(
      'postgres',
      'initdb/postgres binaries',
      'install PostgreSQL (apt-get install postgresql), set POSTGRES_BIN_DIR, or set POSTGRES_URL',
    );
  const user = postgresUser();
  const dir = serverDir('postgres');
  const data = join(dir, 'data');
  const ids = user ? { uid: user.uid, gid: user.gid } : {};
  // LC_ALL=C: initdb fails on machines whose locale env names a locale that is not generated.
  const env = { ...process.env, LC_ALL: 'C', LANG: 'C' };
  return launch({
    kind: 'postgres',
    what: 'postgres',
    dir,
    url: (port) => `postgres://postgres@127.0.0.1:${port}/postgres`,
    beforeFirstStart: async () => {
      if (user) chownSync(dir, user.uid, user.gid);
      await execFileAsync(
        join(binDir, 'initdb'),
        ['-D', data, '-U', 'postgres', '-A', 'trust', '-E', 'UTF8', '--locale=C', '--no-sync', '--no-instructions'],
        { ...ids, env, cwd: dir },
      );
    },
    spawn: (port) =>
      new ServerProcess(
        join(binDir, 'postgres'),
        [
          '-D',
          data,
          '-p',
          String(port),
          '-c',
          'listen_addresses=127.0.0.1',
          '-c',
          `unix_socket_directories=${dir}`,
          '-c',
          'fsync=off',
          '-c',
          'synchronous_commit=off',
          '-c',
          'full_page_writes=off',
          '-c',
          'max_connections=200',
        ],
        // SIGINT is PostgreSQL's "fast" shutdown; SIGTERM would wait for every client to disconnect.
        { log: join(dir, 'server.log'), stopSignal: 'SIGINT', ...ids, env },
      ),
    probe: probePostgres,
    describe: (v) => `local ${v}`,
  });
}

/** The FerretDB version the binary reports, without the leading "v". */
function ferretVersion(bin: string): string {
  try {
    return execFileSync(bin, ['--version'], { encoding: 'utf8' }).match(/v?(\d+\.\d+\.\d+\S*)/)?.[1] ?? '?';
  } catch {
    return '?';
  }
}

/** A private FerretDB on SQLite: the MongoDB-compatible server we can have without Docker. */
export async function localFerretDB(): Promise<ControllableServer> {
  const bin =
    ferretdbBin() ??
    buildFerretDB() ??
    missing(
      'mongo',
      'FerretDB binary, and no Go toolchain to build it',
      'install Go (https://go.dev/dl, or apt-get install golang) and run `bash .ci/provision.sh ferretdb`, set FERRETDB_BIN, or set MONGODB_URL',
    );
  const version = ferretVersion(bin);
  const dir = serverDir('ferretdb');
  const data = ensureDir(join(dir, 'data'));
  return launch({
    kind: 'mongo',
    what: 'ferretdb',
    dir,
    url: (port) => `mongodb://127.0.0.1:${port}/`,
    spawn: (port) =>
      new ServerProcess(
        bin,
        [
          '--handler=sqlite',
          // FerretDB waits 10 s for a busy SQLite file by default; a loaded test machine running 1,000 parallel
          // writes can exceed it (SQLITE_BUSY from the server), so give it as long as an operation may take.
          `--sqlite-url=file:${data}/?_pragma=busy_timeout(30000)`,
          `--listen-addr=127.0.0.1:${port}`,
          `--state-dir=${dir}`,
          '--debug-addr=-',
          '--telemetry=disable',
          '--log-level=error',
        ],
        { log: join(dir, 'server.log'), env: { ...process.env, DO_NOT_TRACK: '1' } },
      ),
    probe: probeMongo,
    describe: () => `local FerretDB ${version} (SQLite)`,
  });
}

/** dynalite's CLI, from the dev dependency; DYNALITE_BIN overrides it. */
function dynaliteCli(): string | undefined {
  if (process.env.DYNALITE_BIN) return process.env.DYNALITE_BIN;
  const cli = join(repoRoot, 'node_modules/dynalite/cli.js');
  try {
    accessSync(cli, constants.R_OK);
    return cli;
  } catch {
    return undefined;
  }
}

/**
 * A private dynalite (a DynamoDB implementation on LevelDB, from npm) as a child process of this Node binary, on a
 * free loopback port. `persist` (default true) keeps the data in LevelDB files, so it survives stop()/start() and a
 * SIGKILL; tables are ACTIVE at once (no CREATING delay).
 */
export async function localDynalite(opts: { persist?: boolean } = {}): Promise<ControllableServer> {
  const cli = dynaliteCli() ?? missing('dynamodb', 'dynalite (node_modules/dynalite)', 'run npm ci, set DYNALITE_BIN, or set DYNAMODB_URL');
  let version = '?';
  try {
    version = (JSON.parse(readFileSync(join(dirname(cli), 'package.json'), 'utf8')) as { version?: string }).version ?? '?';
  } catch {
    /* a DYNALITE_BIN elsewhere */
  }
  const dir = serverDir('dynalite');
  const persist = opts.persist !== false;
  return launch({
    kind: 'dynamodb',
    what: 'dynalite',
    dir,
    url: (port) => `http://127.0.0.1:${port}`,
    spawn: (port) =>
      new ServerProcess(
        process.execPath,
        [
          cli,
          '--host',
          '127.0.0.1',
          '--port',
          String(port),
          ...(persist ? ['--path', join(dir, 'data')] : []),
          '--createTableMs',
          '0',
          '--deleteTableMs',
          '0',
          '--updateTableMs',
          '0',
        ],
        { log: join(dir, 'server.log') },
      ),
    probe: probeDynamoDB,
    describe: () => `local dynalite ${version} (${persist ? 'LevelDB' : 'in memory'})`,
  });
}

/** Waits until every node agrees the cluster is usable; `--cluster create` returns before that. */
export async function waitClusterOk(nodes: { host: string; port: number }[], timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (const n of nodes) {
    const client = new Redis({ host: n.host, port: n.port, lazyConnect: true, maxRetriesPerRequest: 1 });
    client.on('error', () => {});
    try {
      await client.connect();
      while (!/cluster_state:ok/.test(String(await client.cluster('INFO')))) {
        if (Date.now() > deadline) throw new Error(`redis cluster node ${n.host}:${n.port} not cluster_state:ok after ${timeoutMs} ms`);
        await sleep(100);
      }
    } finally {
      client.disconnect();
    }
  }
}

/** Three private cluster-enabled redis-servers joined by `redis-cli --cluster create`, no replicas. */
export async function localRedisCluster(): Promise<RedisClusterInfo & { close(): Promise<void> }> {
  const cli = process.env.REDIS_CLI_BIN ?? which('redis-cli');
  if (!redisServerBin() || !cli) {
    throw new MissingServerError(
      'redis-cluster',
      'no redis-server/redis-cli found for a local Redis Cluster; install redis-server, or set REDIS_CLUSTER_URLS=redis://host:port,... (3 masters)',
    );
  }
  const servers = await Promise.all(
    [0, 1, 2].map(() =>
      localRedis({ extraArgs: ['--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf', '--cluster-node-timeout', '5000'] }),
    ),
  );
  const close = async () => {
    await Promise.all(servers.map((s) => s.close()));
  };
  try {
    const nodes = servers.map((s) => ({ host: '127.0.0.1', port: Number(new URL(s.url).port) }));
    await execFileAsync(
      cli,
      ['--cluster', 'create', ...nodes.map((n) => `${n.host}:${n.port}`), '--cluster-replicas', '0', '--cluster-yes'],
      {
        timeout: 60_000,
      },
    );
    await waitClusterOk(nodes);
    return { nodes, source: 'local', description: `${servers[0]!.description} cluster (3 masters)`, close };
  } catch (err) {
    await close();
    throw err;
  }
}

/** MARIADBD_BIN / MYSQLD_BIN, else mariadbd or mysqld on PATH or in /usr/sbin. */
export function mysqldBin(): { server: string; installDb: string | undefined } | undefined {
  const env = process.env.MARIADBD_BIN ?? process.env.MYSQLD_BIN;
  const server = env ? (executable(env) ? env : undefined) : (which('mariadbd') ?? which('mysqld'));
  if (!server) return undefined;
  return { server, installDb: which('mariadb-install-db') ?? which('mysql_install_db') };
}

/**
 * A private MariaDB (or MySQL) server: a throw-away datadir, a free loopback port, its unix socket in the temp dir,
 * root with an empty password, and no durability settings that cost time (an acknowledged commit still survives a
 * server restart: only an operating system crash could lose it). The URL names no database: tests create their own.
 */
export async function localMysql(): Promise<ControllableServer> {
  const bins =
    mysqldBin() ??
    missing('mysql', 'mariadbd/mysqld binary', 'install it (apt-get install mariadb-server), set MARIADBD_BIN, or set MYSQL_URL');
  const dir = serverDir('mysql');
  const data = join(dir, 'data');
  // mariadbd refuses to run as root unless told to; as another user it runs as that user anyway.
  const user = process.getuid?.() === 0 ? ['--user=root'] : [];
  const mariadb = /mariadbd$/.test(bins.server);
  return launch({
    kind: 'mysql',
    what: mariadb ? 'mariadbd' : 'mysqld',
    dir,
    url: (port) => `mysql://root@127.0.0.1:${port}/`,
    beforeFirstStart: async () => {
      if (mariadb || bins.installDb) {
        const installDb =
          bins.installDb ?? missing('mysql', 'mariadb-install-db', 'install mariadb-server, set MARIADBD_BIN, or set MYSQL_URL');
        await execFileAsync(
          installDb,
          [
            '--no-defaults',
            `--datadir=${data}`,
            ...user,
            '--auth-root-authentication-method=normal',
            '--skip-test-db',
            '--skip-name-resolve',
          ],
          { cwd: dir, timeout: 120_000 },
        );
      } else {
        // MySQL 8 initializes its own datadir.
        await execFileAsync(bins.server, ['--no-defaults', `--datadir=${data}`, ...user, '--initialize-insecure'], {
          cwd: dir,
          timeout: 120_000,
        });
      }
    },
    spawn: (port) =>
      new ServerProcess(
        bins.server,
        [
          '--no-defaults',
          `--datadir=${data}`,
          `--socket=${join(dir, 'sock')}`,
          `--port=${port}`,
          '--bind-address=127.0.0.1',
          ...user,
          `--pid-file=${join(dir, 'server.pid')}`,
          `--tmpdir=${dir}`,
          '--skip-name-resolve',
          '--skip-log-bin',
          '--innodb-flush-log-at-trx-commit=2',
          '--innodb-buffer-pool-size=64M',
          '--max-connections=500',
          ...(mariadb ? [] : ['--mysqlx=OFF']),
        ],
        { log: join(dir, 'server.log') },
      ),
    probe: probeMysql,
    describe: (v) => `local ${v}`,
  });
}

import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';

/** Where the numbers were measured. */
export interface Machine {
  cpu: string;
  cores: number;
  memoryGB: number;
  os: string;
  node: string;
  /** Versions of the libraries measured (installed, not declared). */
  packages: Record<string, string>;
  /** Server per backend, e.g. `redis: "redis 7.0.15 (local)"`, filled as backends run. */
  servers: Record<string, string>;
}

const PACKAGES = [
  'express',
  'express-session',
  'redis',
  'ioredis',
  'pg',
  'mongodb',
  'better-sqlite3',
  'connect-redis',
  'connect-mongo',
  'connect-pg-simple',
  'better-sqlite3-session-store',
  'session-file-store',
  'memorystore',
  'autocannon',
];

function versionOf(name: string): string {
  const require = createRequire(import.meta.url);
  // Walk up from the package's entry to its package.json: some packages do not export ./package.json.
  let dir = require.resolve(name).replace(/\\/g, '/');
  const marker = `/node_modules/${name}/`;
  dir = dir.slice(0, dir.lastIndexOf(marker) + marker.length);
  return (JSON.parse(readFileSync(`${dir}package.json`, 'utf8')) as { version: string }).version;
}

/** Describes this machine and the installed library versions. */
export function describeMachine(): Machine {
  const cpus = os.cpus();
  const packages: Record<string, string> = {};
  for (const p of PACKAGES) {
    try {
      packages[p] = versionOf(p);
    } catch {
      packages[p] = '?';
    }
  }
  return {
    cpu: cpus[0]?.model.trim() ?? 'unknown',
    cores: os.availableParallelism?.() ?? cpus.length,
    memoryGB: Math.round(os.totalmem() / 2 ** 30),
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    node: process.version,
    packages,
    servers: {},
  };
}

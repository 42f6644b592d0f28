/**
 * `npm run bench:at-rest`: what `encryption` and `hashIds` cost on each backend (issue 17). Our store in four modes
 * (plain, encrypted, hashed ids, both) on one server, interleaved: every round measures each mode's `get` and `set`
 * of a 5 KB session with 1 and 64 in flight, in a shuffled order. Per cell: the median of the paired per-round
 * ratios mode ÷ plain (same round), its min–max, and our process's CPU µs per operation (stable under noise).
 *
 *   node --import tsx bench/at-rest.ts [--backend memory,sqlite,file,redis,postgres,mongo,mysql,dynamodb] [--rounds 7] [--duration ms] [--docs]
 *
 * `--docs` replaces the text between `<!-- at-rest:start -->` and `<!-- at-rest:end -->` in docs/benchmarks.md.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { SessionData } from 'express-session';
import { Redis } from 'ioredis';
import { DeleteTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { MongoClient } from 'mongodb';
import mysql from 'mysql2/promise';
import pg from 'pg';
import type { SessionStore } from '../shared/store.js';
import { FileStore } from '../stores/file/index.js';
import { MemoryStore } from '../stores/memory/index.js';
import { DynamoDBStore } from '../stores/dynamodb/index.js';
import { MongoStore } from '../stores/mongo/index.js';
import { MySQLStore } from '../stores/mysql/index.js';
import { PostgresStore } from '../stores/postgres/index.js';
import { RedisStore } from '../stores/redis/index.js';
import { SQLiteStore } from '../stores/sqlite/index.js';
import { dynamoClientConfig } from '../test/servers/probe.js';
import { startSharedServer, type RunningServer } from '../test/servers/shared.js';
import { refresh, sessionOf, sidOf } from './lib/payload.js';
import { median } from './lib/stats.js';

const { values: args } = parseArgs({
  options: {
    backend: { type: 'string' },
    rounds: { type: 'string' },
    duration: { type: 'string' },
    sessions: { type: 'string' },
    docs: { type: 'boolean', default: false },
  },
});
const ROUNDS = Number(args.rounds ?? 7);
const DURATION_MS = Number(args.duration ?? 200);
const SESSIONS = Number(args.sessions ?? 500);
const BACKENDS = (args.backend ?? 'memory,sqlite,file,redis,postgres,mongo,mysql,dynamodb').split(',');

const KEY = Buffer.alloc(32, 3);
const MODES = {
  plain: {},
  encrypted: { encryption: { keys: [KEY] } },
  'hashed ids': { hashIds: true },
  both: { encryption: { keys: [KEY] }, hashIds: true },
} as const;
type Mode = keyof typeof MODES;
type Cell = `${'get' | 'set'} ×${1 | 64}`;
const CELLS: Cell[] = ['get ×1', 'get ×64', 'set ×1', 'set ×64'];

interface Backend {
  name: string;
  open(mode: Mode, ns: string): Promise<SessionStore>;
  close(): Promise<void>;
}

const servers: RunningServer[] = [];
async function server(kind: 'redis' | 'postgres' | 'mongo' | 'mysql' | 'dynamodb'): Promise<string> {
  const s = await startSharedServer(kind);
  servers.push(s);
  return s.url;
}

async function backend(name: string): Promise<Backend> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-at-rest-'));
  const done = async (): Promise<void> => rmSync(dir, { recursive: true, force: true });
  switch (name) {
    case 'memory':
      return { name, open: async (mode) => new MemoryStore({ ...MODES[mode] }), close: done };
    case 'sqlite':
      return {
        name,
        open: async (mode, ns) => new SQLiteStore({ filename: join(dir, 'db.sqlite'), tableName: ns, ...MODES[mode] }),
        close: done,
      };
    case 'file':
      return { name, open: async (mode, ns) => new FileStore({ path: join(dir, ns), reapInterval: -1, ...MODES[mode] }), close: done };
    case 'redis': {
      const client = new Redis(await server('redis'));
      return {
        name,
        open: async (mode, ns) => new RedisStore({ client, prefix: `${ns}:`, ...MODES[mode] }),
        close: async () => void (await client.quit()),
      };
    }
    case 'postgres': {
      const pool = new pg.Pool({ connectionString: await server('postgres'), max: 10 });
      return {
        name,
        open: async (mode, ns) =>
          new PostgresStore({ pool, tableName: ns, createTableIfMissing: true, pruneSessionInterval: false, ...MODES[mode] }),
        close: async () => {
          for (const mode of Object.keys(MODES)) await pool.query(`DROP TABLE IF EXISTS "${nsOf(mode as Mode)}"`);
          await pool.end();
        },
      };
    }
    case 'mongo': {
      const client = new MongoClient(await server('mongo'));
      return {
        name,
        open: async (mode, ns) =>
          new MongoStore({ client, dbName: 'bench_at_rest', collectionName: ns, operationTimeoutMs: 60_000, ...MODES[mode] }),
        close: async () => {
          await client.db('bench_at_rest').dropDatabase();
          await client.close();
        },
      };
    }
    case 'mysql': {
      const url = new URL(await server('mysql'));
      const admin = await mysql.createConnection({ uri: url.toString() });
      await admin.query('CREATE DATABASE IF NOT EXISTS bench_at_rest');
      await admin.end();
      url.pathname = '/bench_at_rest';
      const pool = mysql.createPool({ uri: url.toString() });
      return {
        name,
        open: async (mode, ns) => new MySQLStore({ client: pool, schema: { tableName: ns }, clearExpired: false, ...MODES[mode] }),
        close: async () => {
          await pool.query('DROP DATABASE IF EXISTS bench_at_rest');
          await pool.end();
        },
      };
    }
    case 'dynamodb': {
      const client = new DynamoDBClient(dynamoClientConfig(await server('dynamodb')));
      return {
        name,
        open: async (mode, ns) => new DynamoDBStore({ client, table: ns, createTable: true, ...MODES[mode] }),
        close: async () => {
          for (const mode of Object.keys(MODES))
            await client.send(new DeleteTableCommand({ TableName: nsOf(mode as Mode) })).catch(() => {});
          client.destroy();
        },
      };
    }
    default:
      throw new Error(`unknown backend ${name}`);
  }
}

const nsOf = (mode: Mode): string => `at_rest_${mode.replace(/\W/g, '_')}`;

/** Runs `op` on `concurrency` workers for DURATION_MS; ops/s and our process's CPU µs per op. */
async function measure(concurrency: number, op: (i: number) => Promise<unknown>): Promise<{ rate: number; cpuUs: number }> {
  let count = 0;
  const cpu = process.cpuUsage();
  const start = performance.now();
  const end = start + DURATION_MS;
  await Promise.all(
    Array.from({ length: concurrency }, async (_, w) => {
      for (let i = w; performance.now() < end; i += concurrency) {
        await op(i % SESSIONS);
        count++;
      }
    }),
  );
  const elapsed = performance.now() - start;
  const used = process.cpuUsage(cpu);
  return { rate: (count / elapsed) * 1000, cpuUs: (used.user + used.system) / count };
}

function shuffle<T>(xs: T[]): T[] {
  for (let i = xs.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [xs[i], xs[j]] = [xs[j]!, xs[i]!];
  }
  return xs;
}

interface Row {
  backend: string;
  mode: Mode;
  cell: Cell;
  ratio: number;
  min: number;
  max: number;
  cpuUs: number;
  plainCpuUs: number;
}

async function run(name: string): Promise<Row[]> {
  const b = await backend(name);
  const stores = new Map<Mode, SessionStore>();
  const sessions: SessionData[] = Array.from({ length: SESSIONS }, (_, i) => sessionOf('large', i));
  try {
    for (const mode of Object.keys(MODES) as Mode[]) {
      const store = await b.open(mode, nsOf(mode));
      await store.ready();
      await store.clear().catch(() => {});
      for (let i = 0; i < SESSIONS; i++) await store.set(sidOf('large', i), refresh(sessions[i]!));
      stores.set(mode, store);
    }
    const rates = new Map<string, number[]>();
    const cpus = new Map<string, number[]>();
    for (let round = 0; round < ROUNDS; round++) {
      for (const cell of CELLS) {
        const [op, width] = cell.split(' ×') as ['get' | 'set', string];
        for (const mode of shuffle(Object.keys(MODES) as Mode[])) {
          const store = stores.get(mode)!;
          const r = await measure(Number(width), (i) =>
            op === 'get' ? store.get(sidOf('large', i)) : store.set(sidOf('large', i), refresh(sessions[i]!)),
          );
          const key = `${cell}|${mode}`;
          (rates.get(key) ?? rates.set(key, []).get(key)!).push(r.rate);
          (cpus.get(key) ?? cpus.set(key, []).get(key)!).push(r.cpuUs);
        }
      }
    }
    const rows: Row[] = [];
    for (const cell of CELLS) {
      const plain = rates.get(`${cell}|plain`)!;
      for (const mode of (Object.keys(MODES) as Mode[]).filter((m) => m !== 'plain')) {
        const ratios = rates.get(`${cell}|${mode}`)!.map((r, i) => r / plain[i]!);
        rows.push({
          backend: name,
          mode,
          cell,
          ratio: median(ratios),
          min: Math.min(...ratios),
          max: Math.max(...ratios),
          cpuUs: median(cpus.get(`${cell}|${mode}`)!),
          plainCpuUs: median(cpus.get(`${cell}|plain`)!),
        });
      }
    }
    return rows;
  } finally {
    for (const store of stores.values()) {
      await store.clear().catch(() => {});
      await store.close();
    }
    await b.close();
  }
}

const loadBefore = loadavg()[0]!;
const rows: Row[] = [];
for (const name of BACKENDS) {
  process.stderr.write(`[at-rest] ${name}…\n`);
  rows.push(...(await run(name)));
}
const loadAfter = loadavg()[0]!;
for (const s of servers) await s.close();

const pct = (x: number): string => `${x >= 1 ? '+' : '−'}${Math.abs((x - 1) * 100).toFixed(0)}%`;
const lines = [
  `Throughput of each mode ÷ plain, median of ${ROUNDS} paired rounds (min–max), a 5 KB session; CPU µs per operation of`,
  `the benchmark process (plain → mode). Load average ${loadBefore.toFixed(2)} before, ${loadAfter.toFixed(2)} after, on ${process.platform} Node ${process.version}.`,
  '',
  '| backend | mode | ' + CELLS.join(' | ') + ' |',
  '|---|---|' + CELLS.map(() => '--:').join('|') + '|',
];
for (const name of BACKENDS) {
  for (const mode of ['encrypted', 'hashed ids', 'both'] as Mode[]) {
    const cells = CELLS.map((cell) => {
      const r = rows.find((x) => x.backend === name && x.mode === mode && x.cell === cell)!;
      return `${r.ratio.toFixed(2)} (${r.min.toFixed(2)}–${r.max.toFixed(2)}) · ${r.plainCpuUs.toFixed(0)}→${r.cpuUs.toFixed(0)} µs`;
    });
    lines.push(`| ${name} | ${mode} | ${cells.join(' | ')} |`);
  }
}
const table = lines.join('\n');
console.log(table);
console.log(
  `\nthroughput cost per backend and mode (geomean of the cells): ${BACKENDS.map((n) => `${n}: ${(['encrypted', 'hashed ids', 'both'] as Mode[]).map((m) => `${m} ${pct(Math.exp(rows.filter((r) => r.backend === n && r.mode === m).reduce((a, r) => a + Math.log(r.ratio), 0) / CELLS.length))}`).join(', ')}`).join('; ')}`,
);
if (args.docs) {
  const file = join(import.meta.dirname, '..', 'docs', 'benchmarks.md');
  const doc = readFileSync(file, 'utf8');
  const start = '<!-- at-rest:start -->';
  const end = '<!-- at-rest:end -->';
  const body = `${start}\n${table}\n${end}`;
  writeFileSync(
    file,
    doc.includes(start)
      ? doc.replace(new RegExp(`${start}[\\s\\S]*?${end}`), body)
      : `${doc.trimEnd()}\n\n## Encryption and hashed ids\n\n${body}\n`,
  );
}

import { type ChildProcess, fork } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import type { Backend, Role } from '../lib/contender.js';
import { forEachParallel } from '../lib/measure.js';
import { namespace } from '../lib/micro.js';
import type { AppConfig, AppStats } from './app.js';

const require = createRequire(import.meta.url);
interface AutocannonResult {
  requests: { average: number; total: number };
  latency: { p50: number; p99: number };
  duration: number;
  non2xx: number;
  errors: number;
  timeouts: number;
}
interface RequestData {
  method: string;
  path: string;
  headers?: Record<string, string>;
}
const autocannon = require('autocannon') as (opts: object) => Promise<AutocannonResult>;

/** Load settings, the same for every contender. */
export interface E2ESettings {
  rounds: number;
  /** Seconds of load per page, per contender, per round. */
  durationS: number;
  warmupS: number;
  /** Concurrent keep-alive connections of autocannon. */
  connections: number;
  /** Logged-in users whose cookies the load cycles through. */
  users: number;
  /** touchAfter (s) of the extra "ours, lazy touch" row. */
  touchAfter: number;
}

/** The pages: read = get + touch, write = get + set. */
export type Page = 'read' | 'write';

/** One round of one page for one app. */
export interface E2EResult {
  rps: number;
  /** Latency in milliseconds. */
  p50: number;
  p99: number;
  /** Failed requests (non-2xx, errors, timeouts): must be 0. */
  failed: number;
  /** The app process's CPU time (user + system) per request, µs. */
  cpuUsPerReq: number;
}

/** Per-round results of one contender on one page, and its app's memory after all rounds. */
export interface E2ERow {
  contender: string;
  role: Role;
  page: Page;
  rounds: E2EResult[];
  rssMB: number;
  /** Requests of logged-in users that found no session or failed in the store (whole run): must be 0. */
  misses: number;
}

interface App {
  name: string;
  role: Role;
  child: ChildProcess;
  port: number;
  cookies: string[];
}

const APP = fileURLToPath(new URL('./app.ts', import.meta.url));

function request<T>(child: ChildProcess, type: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const onMessage = (m: { type: string } & Record<string, unknown>) => {
      if (m.type !== type) return;
      child.off('exit', onExit);
      child.off('message', onMessage);
      resolve(m as T);
    };
    const onExit = (code: number | null) => reject(new Error(`e2e app exited with ${code} before '${type}'`));
    child.on('message', onMessage);
    child.once('exit', onExit);
    if (type !== 'ready') child.send({ type });
  });
}

async function startApp(cfg: AppConfig, role: Role, name: string, users: number): Promise<App> {
  const child = fork(APP, [], {
    execArgv: ['--import', 'tsx'],
    env: { ...process.env, BENCH_APP: JSON.stringify(cfg) },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const app: App = { name, role, child, port: 0, cookies: [] };
  try {
    app.port = (await request<{ port: number }>(child, 'ready')).port;
    app.cookies = new Array<string>(users);
    await forEachParallel(0, users, 16, async (u) => {
      const res = await fetch(`http://127.0.0.1:${app.port}/login?u=${u}`, { method: 'POST' });
      const cookie = res.headers.get('set-cookie')?.split(';')[0];
      if (!res.ok || !cookie) throw new Error(`login failed on ${name}: ${res.status}`);
      app.cookies[u] = cookie;
    });
  } catch (err) {
    child.kill();
    throw err;
  }
  return app;
}

async function stopApp(app: App): Promise<void> {
  if (app.child.exitCode !== null) return;
  const exited = new Promise((resolve) => app.child.once('exit', resolve));
  app.child.send({ type: 'close' });
  const timer = setTimeout(() => app.child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

const cpuOf = async (app: App) => (await request<{ us: number }>(app.child, 'cpu')).us;

async function load(app: App, page: Page, s: E2ESettings, durationS: number): Promise<E2EResult> {
  let i = 0;
  const cpu0 = await cpuOf(app);
  const r = await autocannon({
    url: `http://127.0.0.1:${app.port}`,
    connections: s.connections,
    duration: durationS,
    requests: [
      {
        method: page === 'read' ? 'GET' : 'POST',
        path: `/${page}`,
        setupRequest: (req: RequestData) => ({ ...req, headers: { ...req.headers, cookie: app.cookies[i++ % app.cookies.length]! } }),
      },
    ],
  });
  const cpuUs = (await cpuOf(app)) - cpu0;
  return {
    rps: r.requests.total / r.duration,
    p50: r.latency.p50,
    p99: r.latency.p99,
    failed: r.non2xx + r.errors + r.timeouts,
    cpuUsPerReq: r.requests.total > 0 ? cpuUs / r.requests.total : NaN,
  };
}

/**
 * The end-to-end benchmark of one backend: one app process per contender (plus ours with lazy touch), all
 * started first and loaded in turn from this process with autocannon over loopback, round after round, the
 * order rotating. Each app's RSS is read after its last round.
 */
export async function runE2E(backend: Backend, url: string | undefined, s: E2ESettings, log: (msg: string) => void): Promise<E2ERow[]> {
  const ours = backend.contenders.find((c) => c.role === 'ours')!;
  const entries = [
    ...backend.contenders.map((c) => ({ contender: c.name, label: c.name, role: c.role, touchAfter: undefined as number | undefined })),
    { contender: ours.name, label: `${ours.name}, touchAfter ${s.touchAfter} s`, role: 'ours' as Role, touchAfter: s.touchAfter },
  ];
  const apps: App[] = [];
  try {
    // Started together (their start-up is mostly loading TypeScript); failures surface after all have settled.
    const started = await Promise.allSettled(
      entries.map((e, i) => {
        const cfg: AppConfig = {
          backend: backend.name,
          contender: e.contender,
          url,
          ns: namespace(`${backend.name}_e2e`, i),
          touchAfter: e.touchAfter,
        };
        return startApp(cfg, e.role, e.label, s.users);
      }),
    );
    for (const r of started) if (r.status === 'fulfilled') apps.push(r.value);
    const failure = started.find((r) => r.status === 'rejected');
    if (failure) throw failure.reason;
    log(`  e2e: ${apps.length} apps up, ${s.users} users logged in on each`);
    const pages: Page[] = ['read', 'write'];
    const rows: E2ERow[] = pages.flatMap((page) =>
      apps.map((a) => ({ contender: a.name, role: a.role, page, rounds: [], rssMB: NaN, misses: 0 })),
    );
    for (let round = s.warmupS > 0 ? -1 : 0; round < s.rounds; round++) {
      for (const page of pages) {
        for (let j = 0; j < apps.length; j++) {
          const app = apps[(j + Math.max(0, round)) % apps.length]!;
          const result = await load(app, page, s, round < 0 ? s.warmupS : s.durationS);
          if (round >= 0) rows.find((r) => r.page === page && r.contender === app.name)!.rounds.push(result);
        }
      }
      if (round >= 0) log(`  e2e round ${round + 1}/${s.rounds} done`);
    }
    for (const app of apps) {
      const { stats } = await request<{ stats: AppStats }>(app.child, 'stats');
      for (const row of rows.filter((r) => r.contender === app.name)) {
        row.rssMB = stats.rss / 2 ** 20;
        row.misses = stats.misses + stats.errors;
      }
    }
    return rows;
  } finally {
    await Promise.all(apps.map(stopApp));
  }
}

// Child-process plumbing for the local servers: ports, temp dirs, and making sure nothing outlives the tests.
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, readdirSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync, chmodSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Asks the kernel for a free loopback port; the tiny race with other processes is retried by the callers. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

/** Promise-based delay for polling loops. */
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let base: string | undefined;
/**
 * One temp dir per process holds every server's data, logs and the list of live process groups that the
 * watchdog reads; it is world-traversable because PostgreSQL runs as another user when we are root.
 */
export function serverDir(name: string): string {
  if (!base) {
    base = mkdtempSync(join(tmpdir(), `session-stores-${process.pid}-`));
    chmodSync(base, 0o755);
    startWatchdog();
  }
  const dir = mkdtempSync(join(base, `${name}-`));
  chmodSync(dir, 0o755);
  return dir;
}

interface Live {
  pgid: number;
  signal: NodeJS.Signals;
}
const live = new Map<number, Live>();

// Only called once a server was spawned, i.e. after serverDir() created `base`.
const listFile = () => join(base!, 'pgids');

function writeList(): void {
  writeFileSync(listFile(), [...live.values()].map((l) => `${l.pgid} ${l.signal.slice(3)}\n`).join(''));
}

/**
 * A detached shell that outlives us: if this process dies without running its teardown (SIGKILL, a worker
 * killed by the runner, a crash), it kills the process groups still listed and removes the temp dir.
 */
function startWatchdog(): void {
  const script = `while kill -0 ${process.pid} 2>/dev/null; do sleep 1; done
[ -f "$1" ] && while read g s; do kill -s "$s" -- "-$g" 2>/dev/null; done < "$1"
sleep 2; rm -rf "$2"`;
  const wd = spawn('sh', ['-c', script, 'watchdog', listFile(), base!], { detached: true, stdio: 'ignore' });
  wd.unref();
}

function killLive(): void {
  for (const l of live.values()) {
    try {
      process.kill(-l.pgid, l.signal);
    } catch {
      /* already gone */
    }
  }
}
process.once('exit', killLive);

/**
 * Vitest ends its fork workers with SIGTERM, which by default skips 'exit' hooks; without this, servers a
 * worker started would live on until the watchdog's next check. Only where nobody else handles SIGTERM.
 */
function exitOnSigterm(): void {
  if (process.listenerCount('SIGTERM') > 0) return;
  process.once('SIGTERM', () => process.exit(143));
}

export interface SpawnOpts {
  /** Log file for stdout and stderr, so that a server that fails to start can say why. */
  log: string;
  /** Signal that shuts the server down cleanly (PostgreSQL wants SIGINT for a fast shutdown). */
  stopSignal?: NodeJS.Signals;
  uid?: number;
  gid?: number;
  env?: NodeJS.ProcessEnv;
}

/** A server process in its own process group, so that stopping it also stops anything it forked. */
export class ServerProcess {
  readonly child: ChildProcess;
  readonly exited: Promise<number | null>;
  private readonly signal: NodeJS.Signals;

  constructor(
    cmd: string,
    args: string[],
    readonly opts: SpawnOpts,
  ) {
    this.signal = opts.stopSignal ?? 'SIGTERM';
    const fd = openSync(opts.log, 'a');
    try {
      this.child = spawn(cmd, args, {
        detached: true,
        stdio: ['ignore', fd, fd],
        uid: opts.uid,
        gid: opts.gid,
        env: opts.env ?? process.env,
      });
    } finally {
      closeSync(fd);
    }
    this.exited = new Promise((resolve) => {
      this.child.once('exit', (code) => resolve(code));
      this.child.once('error', () => resolve(-1));
    });
    const pid = this.child.pid;
    if (pid) {
      live.set(pid, { pgid: pid, signal: this.signal });
      writeList();
      exitOnSigterm();
      void this.exited.then(() => {
        live.delete(pid);
        writeList();
      });
    }
    this.child.unref();
  }

  /** False once the process has exited, so callers never signal a pid that may have been reused. */
  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Last lines of the server's log, for error messages. */
  logTail(lines = 15): string {
    try {
      return readFileSync(this.opts.log, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
    } catch {
      return '';
    }
  }

  /**
   * Sends `signal` to the server and every process it forked (SIGSTOP / SIGCONT freeze and thaw it). The process
   * group is not enough: PostgreSQL's backends each call setsid().
   */
  signalTree(signal: NodeJS.Signals): void {
    if (!this.running || !this.child.pid) return;
    for (const pid of [this.child.pid, ...descendants(this.child.pid)]) {
      try {
        process.kill(pid, signal);
      } catch {
        /* exited meanwhile */
      }
    }
  }

  /** Clean shutdown first; a server that ignores it for `graceMs` gets SIGKILL (whole group). */
  async stop(graceMs = 10_000): Promise<void> {
    if (!this.running || !this.child.pid) return;
    const pgid = this.child.pid;
    try {
      this.signalTree('SIGCONT'); // a frozen server cannot handle the stop signal
      process.kill(pgid, this.signal);
    } catch {
      return;
    }
    const timer = setTimeout(() => {
      try {
        process.kill(-pgid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }, graceMs);
    await this.exited;
    clearTimeout(timer);
    // Anything the server forked and left behind goes too.
    try {
      process.kill(-pgid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
}

/**
 * Polls `probe` until it succeeds; fails early with the server's log when the process dies, because a
 * server that cannot start never becomes ready and waiting out the timeout would hide the reason.
 */
export async function waitReady<T>(proc: ServerProcess, what: string, probe: () => Promise<T>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    if (!proc.running) throw new Error(`${what} exited during startup:\n${proc.logTail()}`);
    try {
      return await probe();
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) {
      await proc.stop(1000);
      throw new Error(`${what} not ready after ${timeoutMs} ms (${String(last)}):\n${proc.logTail()}`);
    }
    await sleep(100);
  }
}

/** Removes a server's temp dir; ignores errors because a dir already gone is fine at teardown. */
export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

/** mkdir -p that returns the path, for inline use in argument lists. */
export function ensureDir(dir: string): string {
  mkdirSync(dir, { recursive: true });
  return dir;
}

/** Retries `probe` until it succeeds or `timeoutMs` passes (for servers we did not spawn ourselves). */
export async function poll<T>(probe: () => Promise<T>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await probe();
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await sleep(200);
    }
  }
}

/** Every descendant of `pid`, read from /proc (Linux). */
function descendants(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      // "pid (comm) state ppid …": comm may contain spaces and parentheses, so parse after the last ')'.
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(entry)]);
    } catch {
      /* gone */
    }
  }
  const out: number[] = [];
  const walk = (p: number): void => {
    for (const c of children.get(p) ?? []) {
      out.push(c);
      walk(c);
    }
  };
  walk(pid);
  return out;
}

import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

/** Memory of a process holding N sessions in one in-process store. */
export interface RssResult {
  contender: string;
  sessions: number;
  /** RSS after filling (and a full GC), MiB. */
  rssMB: number;
  /** Growth of RSS from the empty store, MiB. */
  growthMB: number;
  heapUsedMB: number;
}

const CHILD = fileURLToPath(new URL('./rss-child.ts', import.meta.url));

/** Fills the contender's store with `sessions` sessions in a fresh process and reads that process's memory. */
export async function measureRss(backend: string, contender: string, sessions: number): Promise<RssResult> {
  const { stdout } = await promisify(execFile)(
    process.execPath,
    ['--expose-gc', '--max-old-space-size=8192', '--import', 'tsx', CHILD, backend, contender, String(sessions)],
    { maxBuffer: 1 << 20, timeout: 15 * 60_000 },
  );
  const m = JSON.parse(stdout.trim().split('\n').pop()!) as { rss: number; heapUsed: number; before: number };
  const mb = (x: number) => x / 2 ** 20;
  return { contender, sessions, rssMB: mb(m.rss), growthMB: mb(m.rss - m.before), heapUsedMB: mb(m.heapUsed) };
}

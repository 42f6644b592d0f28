import { mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A fresh directory under the OS temp dir for one contender's files; `remove()` deletes it. */
export function scratchDir(ns: string): { dir: string; remove(): Promise<void> } {
  const dir = join(process.env.BENCH_TMPDIR ?? tmpdir(), `session-stores-bench`, ns);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  return { dir, remove: async () => rmSync(dir, { recursive: true, force: true }) };
}

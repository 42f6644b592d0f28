/**
 * The migration journal: which sessions `migrate` wrote to the target, and what it wrote (a fingerprint of the
 * session and its expiry). It is what makes a re-run converge without resurrecting anything: a session the
 * source no longer has is deleted from the target only when the journal says we wrote it and the target still
 * holds exactly that; and a session the target no longer has although our copy had not expired yet was deleted
 * there (a logout after the switch), so it is not copied again.
 *
 * A JSON-lines file, appended to and never rewritten while a run is going: intents (`i`) are written *before*
 * the writes of a batch and commits (`c`) after them, so a process killed at any point leaves a journal that
 * knows every session it may have written. A torn last line (killed mid-append) is ignored. Compacted at the end
 * of a run (written to a temporary file, then renamed).
 */
import { createHash } from 'node:crypto';
import { appendFileSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

/** What the journal remembers of one session. */
export interface JournalEntry {
  /** Fingerprint of the session text we wrote (see {@link fingerprint}). */
  fp: string;
  /** The expiry we wrote (epoch ms), or null for a session without `cookie.expires`. */
  expiresAt: number | null;
  /** The write is known to have succeeded (false: it was about to happen when the process stopped). */
  committed: boolean;
}

type Line =
  | { run: number; from: string; to: string }
  | { fin: number }
  | { i: Array<[string, string, number | null]> }
  | { c: string[] }
  | { d: string[] }
  | { e: Array<[string, string, number | null, 0 | 1]>; runs?: number[] };

/** A short fingerprint of a session's text. */
export function fingerprint(text: string): string {
  return createHash('sha256').update(text).digest('base64url').slice(0, 22);
}

/** The journal of one migration (one source and target). `path` null: kept in memory only (`--no-journal`). */
export class Journal {
  readonly entries = new Map<string, JournalEntry>();
  /** Start times of earlier runs that completed, oldest first (for `--since last`; a run killed half-way does not count). */
  readonly runs: number[] = [];

  constructor(readonly path: string | null) {
    if (path === null || !existsSync(path)) return;
    for (const raw of readFileSync(path, 'utf8').split('\n')) {
      if (!raw) continue;
      let line: Line;
      try {
        line = JSON.parse(raw) as Line;
      } catch {
        continue; // a torn last line: the process was killed while appending it
      }
      this.#apply(line);
    }
  }

  /** Start time of the last completed run, or undefined. */
  get lastRun(): number | undefined {
    return this.runs.at(-1);
  }

  /** Records the start of a run. */
  start(run: number, from: string, to: string): void {
    this.#append([{ run, from, to }]);
  }

  /** Records that the run started at `run` completed: its start becomes what `--since last` means. */
  finish(run: number): void {
    this.#append([{ fin: run }]);
    this.runs.push(run);
  }

  /** Before writing: the sessions about to be written, with what. */
  intend(items: Array<[sid: string, fp: string, expiresAt: number | null]>): void {
    if (items.length === 0) return;
    this.#append([{ i: items }]);
    for (const [sid, fp, expiresAt] of items) this.entries.set(sid, { fp, expiresAt, committed: false });
  }

  /** After writing: the sessions whose write succeeded (also: sessions found already equal in the target). */
  commit(sids: string[]): void {
    if (sids.length === 0) return;
    this.#append([{ c: sids }]);
    for (const sid of sids) {
      const e = this.entries.get(sid);
      if (e) e.committed = true;
    }
  }

  /** Adopt sessions found identical in the target: as if we had written them. */
  adopt(items: Array<[sid: string, fp: string, expiresAt: number | null]>): void {
    this.intend(items);
    this.commit(items.map(([sid]) => sid));
  }

  /** Forget sessions (deleted from the target, or no longer ours to manage). */
  drop(sids: string[]): void {
    if (sids.length === 0) return;
    this.#append([{ d: sids }]);
    for (const sid of sids) this.entries.delete(sid);
  }

  /** Rewrites the file with the current entries only. */
  compact(): void {
    if (this.path === null) return;
    const lines: Line[] = [];
    const all = [...this.entries].map(([sid, e]): [string, string, number | null, 0 | 1] => [sid, e.fp, e.expiresAt, e.committed ? 1 : 0]);
    for (let i = 0; i < all.length || i === 0; i += 5000)
      lines.push({ e: all.slice(i, i + 5000), ...(i === 0 ? { runs: this.runs } : {}) });
    const tmp = `${this.path}.tmp-${process.pid}`;
    writeFileSync(tmp, lines.map((l) => `${JSON.stringify(l)}\n`).join(''));
    renameSync(tmp, this.path);
  }

  #append(lines: Line[]): void {
    if (this.path === null) return;
    mkdirSync(dirname(this.path), { recursive: true });
    appendFileSync(this.path, lines.map((l) => `${JSON.stringify(l)}\n`).join(''));
  }

  #apply(line: Line): void {
    if ('run' in line) return;
    if ('fin' in line) this.runs.push(line.fin);
    else if ('i' in line) for (const [sid, fp, expiresAt] of line.i) this.entries.set(sid, { fp, expiresAt, committed: false });
    else if ('c' in line) {
      for (const sid of line.c) {
        const e = this.entries.get(sid);
        if (e) e.committed = true;
      }
    } else if ('d' in line) for (const sid of line.d) this.entries.delete(sid);
    else if ('e' in line) {
      if (line.runs) this.runs.push(...line.runs);
      for (const [sid, fp, expiresAt, committed] of line.e) this.entries.set(sid, { fp, expiresAt, committed: committed === 1 });
    }
  }
}

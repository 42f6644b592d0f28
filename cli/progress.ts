/**
 * Progress of a long pass over sessions: on a TTY a bar redrawn in place (done/total, sessions/s, ETA); otherwise
 * (a pipe, a CI log) a plain line every `intervalMs`, so logs stay readable.
 */

/** Where progress goes: a stream with `write` and, on a terminal, `isTTY` and `columns`. */
export interface ProgressStream {
  write(text: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

/** Reports progress of `total` items to a stream. */
export class Progress {
  readonly #out: ProgressStream;
  readonly #label: string;
  readonly #total: number;
  readonly #intervalMs: number;
  readonly #started: number;
  readonly #now: () => number;
  #lastPrint = 0;
  #drawn = false;

  /**
   * @param intervalMs how often a plain line is printed when not on a TTY (a TTY bar redraws at most every 100 ms)
   */
  constructor(out: ProgressStream, label: string, total: number, intervalMs = 2000, now: () => number = Date.now) {
    this.#out = out;
    this.#label = label;
    this.#total = total;
    this.#intervalMs = intervalMs;
    this.#now = now;
    this.#started = now();
  }

  /** Call as items complete; prints when due. */
  update(done: number): void {
    const now = this.#now();
    const tty = this.#out.isTTY === true;
    if (now - this.#lastPrint < (tty ? 100 : this.#intervalMs)) return;
    this.#lastPrint = now;
    this.#print(done, now);
  }

  /** Prints the final state (and ends the TTY line). */
  finish(done: number): void {
    this.#print(done, this.#now());
    if (this.#drawn) this.#out.write('\n');
    this.#drawn = false;
  }

  #print(done: number, now: number): void {
    const elapsed = Math.max(now - this.#started, 1);
    const rate = (done * 1000) / elapsed;
    const left = this.#total - done;
    const eta = rate > 0 && left > 0 ? duration((left / rate) * 1000) : done >= this.#total ? '0s' : '?';
    const pct = this.#total > 0 ? Math.floor((done * 100) / this.#total) : 100;
    const counts = `${done.toLocaleString('en-US')}/${this.#total.toLocaleString('en-US')}`;
    const stats = `${pct}% ${counts} ${Math.round(rate).toLocaleString('en-US')} sessions/s ETA ${eta}`;
    if (this.#out.isTTY === true) {
      const width = Math.max(10, Math.min(40, (this.#out.columns ?? 80) - stats.length - this.#label.length - 6));
      const filled = this.#total > 0 ? Math.round((width * done) / this.#total) : width;
      this.#out.write(`\r${this.#label} [${'█'.repeat(filled)}${'░'.repeat(width - filled)}] ${stats}\x1b[K`);
      this.#drawn = true;
    } else {
      this.#out.write(`${this.#label}: ${stats}\n`);
    }
  }
}

/** `1h02m`, `3m05s`, `12s`. */
export function duration(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

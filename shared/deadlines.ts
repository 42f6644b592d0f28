import { ErrorCode, SessionStoreError } from './errors.js';

interface Pending {
  at: number;
  reject: (err: Error) => void;
  label: string;
}

/**
 * Bounds operations in time with one timer per store instead of one per operation: pending operations sit in a
 * set with their deadline, and a single unref'd interval (a tenth of the bound, at least 10 ms) fails those past
 * it with `SESSION_STORE_TIMEOUT`. The operation itself cannot be cancelled; its late result is ignored, and
 * its late failure is handled, so it never becomes an unhandled rejection.
 */
export class Deadlines {
  readonly #pending = new Set<Pending>();
  readonly #tickMs: number;
  #timer: NodeJS.Timeout | undefined;

  /**
   * @param timeoutMs the bound; 0 disables it
   * @param onTimeout called (after the operation was failed) with what timed out
   * @param prefix what the timeout's message names before the operation's label (the store's name)
   */
  constructor(
    readonly timeoutMs: number,
    private readonly onTimeout: (label: string) => void = () => {},
    private readonly prefix = '',
  ) {
    this.#tickMs = Math.min(250, Math.max(10, Math.round(timeoutMs / 10)));
  }

  /** Runs `op`, failing with `SESSION_STORE_TIMEOUT` when it has not settled within the bound. */
  run<T>(label: string, op: () => Promise<T>): Promise<T> {
    if (this.timeoutMs === 0) return op();
    return new Promise<T>((resolve, reject) => {
      const entry: Pending = { at: Date.now() + this.timeoutMs, reject, label };
      let running: Promise<T>;
      try {
        running = op();
      } catch (err) {
        reject(err as Error);
        return;
      }
      this.#pending.add(entry);
      this.#timer ??= this.#arm();
      running.then(
        (value) => {
          this.#pending.delete(entry);
          resolve(value);
        },
        (err: unknown) => {
          this.#pending.delete(entry);
          reject(err as Error);
        },
      );
    });
  }

  /** Stops the timer and forgets pending operations (after close(), when nothing waits for them any more). */
  clear(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
    this.#pending.clear();
  }

  #arm(): NodeJS.Timeout {
    const timer = setInterval(() => this.#sweep(), this.#tickMs);
    timer.unref();
    return timer;
  }

  #sweep(): void {
    const now = Date.now();
    for (const entry of this.#pending) {
      if (entry.at > now) continue;
      this.#pending.delete(entry);
      entry.reject(new SessionStoreError(ErrorCode.TIMEOUT, `${this.prefix}${entry.label} did not complete within ${this.timeoutMs} ms`));
      this.onTimeout(entry.label);
    }
    if (this.#pending.size === 0) {
      clearInterval(this.#timer);
      this.#timer = undefined;
    }
  }
}

import { ErrorCode, SessionStoreError } from './errors.js';

interface Pending {
  /** When it times out, on the monotonic clock (`performance.now()`). */
  at: number;
  /** The operation's promise's reject, until it settles. */
  reject: (err: Error) => void;
  label: string;
  /** Settled (or timed out): nothing to do when the sweep reaches it. */
  done: boolean;
}

/**
 * Bounds operations in time with one timer per store instead of one per operation. Every operation gets the same
 * bound, so deadlines come in the order operations start: pending operations wait in a queue, and a single unref'd
 * interval (a tenth of the bound, at least 10 ms) fails those past their deadline with `SESSION_STORE_TIMEOUT`
 * and drops settled ones from its front. (A queue rather than a `Set`: adding and deleting a fresh object in a
 * `Set` costs more than a fast database operation.) The queue holds at most the operations started since the
 * oldest one still pending, which is at most the bound's worth. The operation itself cannot be cancelled; its late
 * result is ignored, and its late failure is handled, so it never becomes an unhandled rejection.
 */
export class Deadlines {
  #queue: Pending[] = [];
  /** Index of the queue's front. */
  #head = 0;
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
      let running: Promise<T>;
      try {
        running = op();
      } catch (err) {
        reject(err as Error);
        return;
      }
      const entry: Pending = { at: performance.now() + this.timeoutMs, reject, label, done: false };
      this.#push(entry);
      running.then(
        (value) => {
          settled(entry);
          resolve(value);
        },
        (err: unknown) => {
          settled(entry);
          reject(err as Error);
        },
      );
    });
  }

  /** Stops the timer and forgets pending operations (after close(), when nothing waits for them any more). */
  clear(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
    this.#queue = [];
    this.#head = 0;
  }

  /**
   * Queues `entry`, first dropping settled operations from the front: operations mostly settle in the order they
   * started, so the queue stays about as long as the operations in flight, and settled entries die young (kept
   * until the next sweep, a fast store's quarter second of operations would reach the old generation).
   */
  #push(entry: Pending): void {
    const queue = this.#queue;
    let head = this.#head;
    while (head < queue.length && queue[head]!.done) head++;
    this.#advance(head);
    this.#queue.push(entry);
    this.#timer ??= this.#arm();
  }

  /**
   * Makes `head` the queue's front: a queue with nothing left starts over; behind an operation still pending (a slow
   * one), the passed front is dropped now and then (a copy of what is left). Returns whether nothing is left.
   */
  #advance(head: number): boolean {
    const queue = this.#queue;
    if (head >= queue.length) {
      queue.length = 0;
      this.#head = 0;
      return true;
    }
    if (head > 1024 && head * 2 > queue.length) {
      this.#queue = queue.slice(head);
      head = 0;
    }
    this.#head = head;
    return false;
  }

  #arm(): NodeJS.Timeout {
    const timer = setInterval(() => this.#sweep(), this.#tickMs);
    timer.unref();
    return timer;
  }

  #sweep(): void {
    const now = performance.now();
    const queue = this.#queue;
    let head = this.#head;
    const expired: Pending[] = [];
    for (; head < queue.length; head++) {
      const entry = queue[head]!;
      if (entry.done) continue;
      if (entry.at > now) break;
      expired.push(entry);
    }
    if (this.#advance(head)) {
      // Nothing pending: stop the timer until the next operation.
      clearInterval(this.#timer);
      this.#timer = undefined;
    }
    // Failed once the queue is in order again: what a rejection or onTimeout starts may queue operations.
    for (const entry of expired) {
      const reject = entry.reject;
      settled(entry);
      reject(new SessionStoreError(ErrorCode.TIMEOUT, `${this.prefix}${entry.label} did not complete within ${this.timeoutMs} ms`));
      this.onTimeout(entry.label);
    }
  }
}

function ignore(): void {}

/** Marks `entry` settled and lets go of its promise (a settled entry may wait in the queue behind a slow one). */
function settled(entry: Pending): void {
  entry.done = true;
  entry.reject = ignore;
}

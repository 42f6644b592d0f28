import { setMaxListeners } from 'node:events';

/**
 * Abort signals for requests bounded by `timeoutMs`, one per time slot instead of one per request.
 *
 * `AbortSignal.timeout()` per request cost ~15 µs of CPU each (a timer and a signal to create and collect), more
 * than the rest of the store's own work on a request. Requests started in the same slot (a quarter of the timeout,
 * at most 100 ms) share one controller, aborted one timeout after the slot ends: every request is cancelled no
 * sooner than `timeoutMs` after it started and at most one slot later. The operation itself fails at `timeoutMs`
 * (the base's operation timeout); the abort is what frees the socket of a request that hangs. The SDK removes its
 * listener when a request ends, so a signal holds at most the requests of its slot still in flight.
 */
export class AbortSlots {
  readonly #timeoutMs: number;
  readonly #slotMs: number;
  #controller: AbortController | null = null;
  #slotEnds = 0;

  /** `timeoutMs` > 0. */
  constructor(timeoutMs: number) {
    this.#timeoutMs = timeoutMs;
    this.#slotMs = Math.max(1, Math.min(100, Math.floor(timeoutMs / 4)));
  }

  /** The signal for a request starting now: aborted between `timeoutMs` and `timeoutMs` + one slot from now. */
  signal(): AbortSignal {
    const now = performance.now();
    if (this.#controller === null || now >= this.#slotEnds) {
      const controller = new AbortController();
      // Any number of requests may listen at once: no "possible EventTarget memory leak" warning.
      setMaxListeners(0, controller.signal);
      this.#controller = controller;
      this.#slotEnds = now + this.#slotMs;
      const timer = setTimeout(() => {
        controller.abort(new DOMException(`The operation was aborted due to timeout`, 'TimeoutError'));
      }, this.#slotMs + this.#timeoutMs);
      timer.unref();
    }
    return this.#controller.signal;
  }
}

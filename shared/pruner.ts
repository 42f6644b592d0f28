import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { Scheduler } from './scheduler.js';

/**
 * Owns pruning for a store: one pass at a time (a `prune()` issued while a pass runs joins it), the jittered
 * timer, and a way for `close()` to stop and wait for a running pass. A pass iterates the backend's `_prune`
 * generator, which yields how many sessions each bounded batch deleted; the pass yields to the event loop
 * between batches and stops after the current batch once the store closes (the generator's `finally` blocks run,
 * so a backend can hold a lock for exactly one pass).
 */
export class Pruner {
  #pass: Promise<number> | undefined;
  #scheduler: Scheduler | undefined;
  #stopped = false;

  /**
   * @param batches starts one pass: yields the count deleted per batch
   * @param onError receives failures of timer-driven passes
   * @param closing whether the store is closing: a pass stops after its current batch
   */
  constructor(
    private readonly batches: () => AsyncIterable<number>,
    private readonly onError: (err: unknown) => void,
    private readonly closing: () => boolean,
  ) {}

  /** Runs a pass now, or joins the one running; resolves how many sessions it deleted. */
  run(): Promise<number> {
    this.#pass ??= this.#runPass().finally(() => {
      this.#pass = undefined;
    });
    return this.#pass;
  }

  /** Starts the timer (once; never after {@link stop}); `delay` turns the interval into each pause (default: jittered). */
  schedule(intervalMs: number, delay?: (intervalMs: number) => number): void {
    if (this.#scheduler || this.#stopped) return;
    this.#scheduler = new Scheduler(intervalMs, () => this.run(), this.onError, delay);
  }

  /** Whether the timer runs. */
  get scheduled(): boolean {
    return this.#scheduler !== undefined;
  }

  /** Stops the timer and the running pass (after its current batch); resolves once that pass has finished. */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#scheduler?.stop();
    this.#scheduler = undefined;
    await this.#pass?.catch(() => {});
  }

  async #runPass(): Promise<number> {
    let total = 0;
    for await (const deleted of this.batches()) {
      total += deleted;
      if (this.#stopped || this.closing()) break;
      await yieldToEventLoop();
    }
    return total;
  }
}

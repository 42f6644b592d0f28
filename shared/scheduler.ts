/** The default pause between runs: a random 50–150% of the interval. */
export const jittered = (intervalMs: number, random: () => number = Math.random): number => intervalMs * (0.5 + random());

/**
 * Runs `task` again and again, waiting `delay(intervalMs)` — by default a jittered 50–150% of `intervalMs` —
 * between the end of one run and the start of the next, so that a fleet of processes started together does not prune in lockstep. Runs never
 * overlap, the timer is `unref`'d (it never keeps the process alive), and a failing run does not stop the
 * schedule: its error goes to `onError`.
 */
export class Scheduler {
  #timer: NodeJS.Timeout | undefined;
  #stopped = false;

  constructor(
    private readonly intervalMs: number,
    private readonly task: () => Promise<unknown>,
    private readonly onError: (err: unknown) => void,
    private readonly delay: (intervalMs: number) => number = jittered,
  ) {
    this.#schedule();
  }

  #schedule(): void {
    if (this.#stopped) return;
    const delay = Math.max(1, Math.round(this.delay(this.intervalMs)));
    this.#timer = setTimeout(() => {
      this.task()
        .catch(this.onError)
        .finally(() => this.#schedule());
    }, delay);
    this.#timer.unref();
  }

  /** Stops the schedule; a run in progress finishes but no new one starts. */
  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
  }
}

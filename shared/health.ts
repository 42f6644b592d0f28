/**
 * Decides when a store says `'disconnect'` and `'connect'` from what its operations see. A timeout or a
 * connection error only makes the store *suspect* the database: it pings it (on a fresh connection where the
 * backend can) and reports it down only if the ping fails too, so a slow query or a saturated pool — a degraded
 * database, not a dead one — never makes express-session drop every user's session. While down, it pings every
 * `intervalMs` (express-session sends no requests to a disconnected store, so nothing else would notice the
 * database coming back) and reports it up at the first answer.
 */
export class Health {
  #probing: Promise<void> | undefined;
  #timer: NodeJS.Timeout | undefined;
  #stopped = false;
  /** Increments each time the database comes back: failures of operations started before are old news. */
  epoch = 0;

  /**
   * @param ping answers when the database does; rejects (or times out) otherwise
   * @param report told each time the state flips
   * @param intervalMs pause between pings while down
   */
  constructor(
    private readonly ping: () => Promise<void>,
    private readonly report: (up: boolean) => void,
    private readonly intervalMs: number,
  ) {}

  /** Something went wrong: ping, and report down if the ping fails. Never rejects. */
  suspect(): Promise<void> {
    if (this.#stopped) return Promise.resolve();
    this.#probing ??= this.#probe().finally(() => {
      this.#probing = undefined;
    });
    return this.#probing;
  }

  /** An operation failed in a way that leaves no doubt (connection refused or reset): report down, keep pinging. */
  down(): void {
    if (this.#stopped || this.#timer !== undefined) return;
    this.report(false);
    this.#schedule();
  }

  /** The database answered an operation: report up (once) and stop pinging. */
  up(): void {
    if (this.#timer === undefined) return;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.epoch++;
    this.report(true);
  }

  /** Stops pinging for good (the store is closing). */
  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  async #probe(): Promise<void> {
    let alive = true;
    try {
      await this.ping();
    } catch {
      alive = false;
    }
    if (this.#stopped) return;
    if (alive) {
      this.up();
      return;
    }
    if (this.#timer === undefined) this.report(false);
    this.#schedule();
  }

  #schedule(): void {
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => void this.suspect(), this.intervalMs);
    this.#timer.unref();
  }
}

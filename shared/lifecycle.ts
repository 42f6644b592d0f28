import { ErrorCode, SessionStoreError, backendError } from './errors.js';

const enum State {
  Opening,
  Open,
  Closing,
  Closed,
}

/**
 * Open, in-flight and close bookkeeping for a store, as abstract-level does it: the store opens itself on the
 * next tick (after every constructor has run), operations issued before that wait for it, a failed open fails
 * them with the reason as `cause` and is tried again by the next operation, and `close()` refuses new work, waits
 * for the operations in flight and for the open, then shuts down once.
 */
export class Lifecycle {
  #state = State.Opening;
  #opening: Promise<void> | undefined;
  #inflight = 0;
  #idle: (() => void) | undefined;
  #closing: Promise<void> | undefined;

  /**
   * @param name the backend's name, for messages
   * @param open opens the backend (the store's `_open`, then its background work)
   * @param onOpenError told of each failed open (the store emits `'error'`)
   */
  constructor(
    private readonly name: string,
    private readonly open: () => Promise<void>,
    private readonly onOpenError: (err: SessionStoreError) => void,
  ) {
    // Not now: the subclass constructors have not run yet.
    process.nextTick(() => {
      if (this.#state === State.Opening) this.ready().catch(() => {});
    });
  }

  /** Whether operations may run without waiting. */
  get isOpen(): boolean {
    return this.#state === State.Open;
  }

  /** Whether close() has been called. */
  get isClosed(): boolean {
    return this.#state >= State.Closing;
  }

  /** Resolves once open (opening now if needed); rejects with the open's failure, or `CLOSED`. */
  ready(): Promise<void> {
    if (this.#state === State.Open) return Promise.resolve();
    if (this.#state !== State.Opening) return Promise.reject(this.closedError());
    this.#opening ??= this.#open();
    return this.#opening;
  }

  /** Throws `CLOSED` once close() was called. */
  assertNotClosed(): void {
    if (this.#state >= State.Closing) throw this.closedError();
  }

  /** Registers an operation; call {@link leave} when it settles. Waits for the open when needed. */
  async enter(): Promise<void> {
    this.assertNotClosed();
    this.#inflight++;
    if (this.#state === State.Open) return;
    try {
      await this.ready();
    } catch (err) {
      this.leave();
      throw err;
    }
  }

  /** Synchronous {@link enter} for an open store (the hot path); returns false when the caller must `await enter()`. */
  enterOpen(): boolean {
    if (this.#state !== State.Open) return false;
    this.#inflight++;
    return true;
  }

  leave(): void {
    if (--this.#inflight === 0) this.#idle?.();
  }

  /** Refuses new operations, waits for those in flight and for the open, then runs `shutdown` once. */
  close(shutdown: () => Promise<void>): Promise<void> {
    this.#closing ??= this.#close(shutdown);
    return this.#closing;
  }

  closedError(): SessionStoreError {
    return new SessionStoreError(ErrorCode.CLOSED, `the ${this.name} store is closed`);
  }

  async #open(): Promise<void> {
    try {
      await this.open();
      if (this.#state === State.Opening) this.#state = State.Open;
    } catch (err) {
      this.#opening = undefined; // the next operation tries again: the database may be back by then
      const error = backendError(err, `${this.name} open`);
      this.onOpenError(error);
      throw error;
    }
  }

  async #close(shutdown: () => Promise<void>): Promise<void> {
    this.#state = State.Closing;
    if (this.#inflight > 0) await new Promise<void>((resolve) => (this.#idle = resolve));
    await this.#opening?.catch(() => {});
    try {
      await shutdown();
    } finally {
      this.#state = State.Closed;
    }
  }
}

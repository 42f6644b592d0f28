/** A Node-style callback, as express-session passes them. */
export type Callback<T = void> = (err: Error | null, value?: T) => void;

/**
 * Returns `promise`, and when a callback is given also reports the outcome to it, exactly once and never
 * synchronously (from the promise's reaction, so always after the caller has returned). If the callback throws,
 * the exception is rethrown on a tick of its own: it surfaces as an ordinary uncaught exception (the Node
 * convention for callbacks) instead of being swallowed, turned into an unhandled rejection, or fed back into the
 * callback a second time.
 *
 * The returned promise is always handled when a callback is given, so callers that ignore it (as
 * express-session does) never cause an unhandled rejection.
 */
export function settle<T>(promise: Promise<T>, callback?: Callback<T>): Promise<T> {
  if (typeof callback === 'function') {
    promise.then(
      (value) => report(callback, null, value),
      (err: Error) => report(callback, err),
    );
  }
  return promise;
}

function report<T>(callback: Callback<T>, err: Error | null, value?: T): void {
  try {
    callback(err, value);
  } catch (thrown) {
    process.nextTick(rethrow, thrown);
  }
}

function rethrow(err: unknown): never {
  throw err;
}

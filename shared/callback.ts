/** A Node-style callback, as express-session passes them. */
export type Callback<T = void> = (err: Error | null, value?: T) => void;

/**
 * Returns `promise`, and when a callback is given also reports the outcome to it, exactly once and never
 * synchronously. The callback runs on its own tick, outside the promise chain: if it throws, the exception
 * surfaces as an ordinary uncaught exception (the Node convention for callbacks) instead of being swallowed,
 * turned into an unhandled rejection, or fed back into the callback a second time.
 *
 * The returned promise is always handled when a callback is given, so callers that ignore it (as
 * express-session does) never cause an unhandled rejection.
 */
export function settle<T>(promise: Promise<T>, callback?: Callback<T>): Promise<T> {
  if (typeof callback === 'function') {
    promise.then(
      (value) => process.nextTick(callback, null, value),
      (err: Error) => process.nextTick(callback, err),
    );
  }
  return promise;
}

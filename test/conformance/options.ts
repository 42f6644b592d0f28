import type { Store, SessionData } from 'express-session';

/**
 * Hints the suite passes to {@link ConformanceOptions.factory}. A store may ignore any of them; the
 * matching {@link Capabilities} flag tells the suite whether it may rely on one.
 */
export interface FactoryHints {
  /** Default TTL in seconds (may be fractional) or a function of the session returning seconds. */
  ttl?: number | ((session: SessionData) => number);
  /** Lazy touch window in seconds: touches that move the expiry by less than this may be skipped. */
  touchAfter?: number;
  /** The store's touch() should succeed without doing anything. */
  disableTouch?: boolean;
  /** Stores created with different namespaces on the same backend must not see each other's sessions. */
  namespace?: string;
}

/**
 * What a store can do. Every test declares the capabilities it needs; a test whose needs are not met is
 * skipped, so third-party stores can run the same suite and produce an honest compatibility matrix.
 */
export interface Capabilities {
  /** Has `touch(sid, session, cb)`. */
  touch: boolean;
  /** Has `all(cb)` (object keyed by sid, or array). */
  all: boolean;
  /** Has `length(cb)`. */
  length: boolean;
  /** Has `ids(cb)`. */
  ids: boolean;
  /** Has `clear(cb)`. */
  clear: boolean;
  /** Has `close(cb?)`. */
  close: boolean;
  /** The factory honours the `ttl` hint (number and function). */
  ttlOption: boolean;
  /** The factory honours the `touchAfter` hint (lazy touch). */
  touchAfter: boolean;
  /** The factory honours the `disableTouch` hint. */
  disableTouch: boolean;
  /** The factory honours `namespace`: two stores with different namespaces share a backend but are isolated. */
  namespaces: boolean;
  /** Expiry is enforced to the millisecond (not rounded to seconds). */
  msPrecision: boolean;
  /** Bad input is rejected with `SessionStoreError` codes (`SESSION_STORE_*`); false for third-party stores. */
  sessionStoreErrors: boolean;
  /** Every method also returns a promise of its result. */
  promises: boolean;
}

/** Options of {@link conformance} and of every group function. */
export interface ConformanceOptions {
  /** The runner's test function (`it` / `test`); its `.skip` is used for unmet capabilities when present. */
  test: (name: string, fn: () => Promise<void> | void) => unknown;
  /** The runner's `describe`, to group tests; without it, test names are prefixed with the group name. */
  describe?: (name: string, fn: () => void) => unknown;
  /** Returns a fresh, isolated, empty store. Called once or more per test. */
  factory: (opts?: FactoryHints) => Promise<Store> | Store;
  /** Releases a store after a test. Default: `store.close()` when the store has it and the test did not close it. */
  teardown?: (store: Store) => Promise<void> | void;
  /**
   * Overrides of the detected capabilities. A capability given here is decided when tests are registered
   * (unmet → `test.skip`); one left out is detected per test from the store (unmet → the runner's runtime skip).
   */
  capabilities?: Partial<Capabilities>;
  /** Top-level describe name (only used when `describe` is given). */
  name?: string;
  /**
   * Tests this store is known to fail (full name including group, e.g. `'payloads: circular session …'`, or a
   * RegExp). Such a test passes while it keeps failing and fails once the store is fixed, so the list stays true.
   */
  knownFailures?: Array<string | RegExp>;
}

/** The capability list of a store that implements the session-stores contract (`store.supports`). */
interface Supports {
  touch?: boolean;
  all?: boolean;
  length?: boolean;
  ids?: boolean;
  clear?: boolean;
  lazyTouch?: boolean;
  namespaces?: boolean;
  msPrecision?: boolean;
  disableTouch?: boolean;
}

/**
 * Capabilities of a live store: `opts.capabilities` first, then `store.supports` (our stores), then which
 * methods exist. Options the factory honours cannot be seen from outside, so third-party stores default to
 * false for those; ms precision defaults to true because express-session itself relies on it.
 */
export function resolveCapabilities(store: Store, overrides: Partial<Capabilities> = {}): Capabilities {
  const has = (method: string): boolean => typeof (store as unknown as Record<string, unknown>)[method] === 'function';
  const supports = (store as unknown as { supports?: Supports }).supports;
  const ours = typeof supports === 'object' && supports !== null;
  const s: Supports = ours ? supports : {};
  const detected: Capabilities = {
    touch: s.touch ?? has('touch'),
    all: s.all ?? has('all'),
    length: s.length ?? has('length'),
    ids: s.ids ?? has('ids'),
    clear: s.clear ?? has('clear'),
    close: has('close'),
    ttlOption: ours,
    touchAfter: s.lazyTouch ?? false,
    disableTouch: s.disableTouch ?? ours,
    // A single in-process store is trivially isolated, so claiming it proves nothing: opt in explicitly.
    namespaces: s.namespaces ?? false,
    msPrecision: s.msPrecision ?? true,
    sessionStoreErrors: ours,
    promises: ours,
  };
  return { ...detected, ...overrides };
}

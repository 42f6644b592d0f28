import type { Store, SessionData } from 'express-session';
import type { StoreCapabilities } from '../shared/types.js';

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
  /**
   * The session property that names its owner (session-stores' `owner` option), for the `owners` group. A store
   * made with it should say `supports.owners`.
   */
  owner?: string;
  /**
   * Encrypt at rest with these keys (session-stores' `encryption` option), for the `atRest` group. A store made with
   * it should say `supports.encrypted`.
   */
  encryption?: { keys: Array<string | Uint8Array> };
  /** Store sessions under hashed sids (session-stores' `hashIds` option); the store should say `supports.hashedIds`. */
  hashIds?: boolean;
}

/**
 * The backend's raw storage, as an attacker with a copy of the database (or write access to it) sees it: the
 * `atRest` group checks through it that no sid and no session data is stored in the clear, and tampers with it.
 */
export interface RawStorage {
  /** Every session record the store keeps in its backend (its namespace only): the key and the stored value as text. */
  entries(store: Store): Promise<Array<[key: string, value: string]>>;
  /** Replaces the stored value under `key` with `value` (text as `entries` gave it), keeping its expiry. */
  write(store: Store, key: string, value: string): Promise<void>;
}

/**
 * What a store can do, in the vocabulary of session-stores' `store.supports` (see `StoreCapabilities`), plus three
 * facts about the *factory*: whether it passes the `ttl`, `touchAfter` and `disableTouch` hints on to the store.
 * Every test declares the capabilities it needs; a test whose needs are not met is skipped, so third-party
 * stores run the same suite and produce an honest compatibility matrix.
 */
export interface Capabilities extends StoreCapabilities {
  /** The factory honours the `ttl` hint (number and function). */
  ttlOption: boolean;
  /** The factory honours the `touchAfter` hint (lazy touch). */
  touchAfter: boolean;
  /** The factory honours the `disableTouch` hint. */
  disableTouch: boolean;
  /** The factory honours the `encryption` and `hashIds` hints (see {@link FactoryHints}). */
  atRest: boolean;
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
   * Calls `clear()` on every store the suite made, before its teardown, so a run leaves no sessions behind. Only
   * stores with namespaces (`supports.namespaces` or `capabilities.namespaces`) are cleared: on any other store
   * `clear()` could delete sessions the suite did not write. The CLI sets it. Default false.
   */
  clearAfter?: boolean;
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
  /** The backend's raw storage, for the `atRest` group (skipped without it). */
  raw?: RawStorage;
}

/**
 * Capabilities of a live store made with `hints`: `overrides` first (what a store module declares), then the
 * store's own `supports` (stores built on session-stores), then what can be seen from outside (which methods
 * exist). Whether the factory honoured a hint is read from the store it made: `store.ttl` equals the `ttl` hint,
 * `supports.lazyTouch` / `supports.touch` follow `touchAfter` / `disableTouch`. Without such evidence a hint
 * counts as ignored, so a test never fails because a factory dropped a hint.
 */
export function resolveCapabilities(store: Store, overrides: Partial<Capabilities> = {}, hints: FactoryHints = {}): Capabilities {
  const view = store as unknown as Record<string, unknown> & { supports?: Partial<StoreCapabilities> };
  const has = (method: string): boolean => typeof view[method] === 'function';
  const s = typeof view.supports === 'object' && view.supports !== null ? view.supports : undefined;
  const detected: Capabilities = {
    touch: s?.touch ?? has('touch'),
    lazyTouch: s?.lazyTouch ?? false,
    nativeExpiry: s?.nativeExpiry ?? false,
    msPrecision: s?.msPrecision ?? true,
    all: s?.all ?? has('all'),
    ids: s?.ids ?? has('ids'),
    length: s?.length ?? has('length'),
    clear: s?.clear ?? has('clear'),
    prune: s?.prune ?? has('prune'),
    close: s?.close ?? has('close'),
    // A single in-process store is trivially isolated, so claiming it proves nothing: opt in explicitly.
    namespaces: s?.namespaces ?? false,
    promises: s?.promises ?? false,
    sessionStoreErrors: s?.sessionStoreErrors ?? false,
    // Logout must be final for every store: only a store that says it was configured otherwise is excused.
    revocation: s?.revocation ?? true,
    owners: s?.owners ?? false,
    encrypted: s?.encrypted ?? false,
    hashedIds: s?.hashedIds ?? false,
    ttlOption: hints.ttl !== undefined && 'ttl' in view && view.ttl === hints.ttl,
    touchAfter: hints.touchAfter !== undefined && hints.touchAfter > 0 && s?.lazyTouch === true,
    disableTouch: hints.disableTouch === true && s !== undefined && s.touch === false,
    atRest:
      hints.encryption !== undefined && s?.encrypted === true && (hints.hashIds === true ? s.hashedIds === true : s.hashedIds !== true),
  };
  return { ...detected, ...overrides };
}

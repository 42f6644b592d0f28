/**
 * The public express-session store API as `migrate` and `inspect` use it, for any store: ours (callbacks and
 * promises) and third-party ones (callbacks only). Nothing here reaches below `get`, `set`, `destroy`, `ids`,
 * `all` and `length`.
 */
import type { SessionData, Store } from 'express-session';
import { cookieExpiry } from '../shared/expiry.js';

type Method = 'get' | 'set' | 'destroy' | 'ids' | 'all' | 'length';

/**
 * Calls `store[method](...args, callback)` and resolves with the callback's value. A promise the method may
 * also return is observed (never an unhandled rejection); an `ENOENT` error from `get` means "no session", as
 * express-session treats it (session-file-store reports missing sessions that way).
 */
export function call<T>(store: Store, method: Method, ...args: unknown[]): Promise<T> {
  const fn = (store as unknown as Record<string, unknown>)[method];
  if (typeof fn !== 'function') return Promise.reject(new Error(`the store has no ${method}() method`));
  return new Promise<T>((resolve, reject) => {
    let settled = false;
    const callback = (err: unknown, value: unknown): void => {
      if (settled) return;
      settled = true;
      if (err && !(method === 'get' && (err as { code?: unknown }).code === 'ENOENT')) reject(err);
      else resolve((err ? null : value) as T);
    };
    try {
      const out = (fn as (...a: unknown[]) => unknown).call(store, ...args, callback);
      if (out && typeof (out as Promise<unknown>).then === 'function') {
        (out as Promise<unknown>).then(
          () => {},
          (err: unknown) => callback(err, undefined),
        );
      }
    } catch (err) {
      callback(err, undefined);
    }
  });
}

/** `get(sid)`: the session, or null. */
export async function getSession(store: Store, sid: string): Promise<SessionData | null> {
  const value = await call<SessionData | null | undefined>(store, 'get', sid);
  return value ?? null;
}

/** How a store lists its sessions through the public API, best first; `none` when it cannot. */
export function listing(store: Store): 'ids' | 'all' | 'none' {
  const s = store as unknown as { ids?: unknown; all?: unknown; supports?: { ids?: boolean; all?: boolean } };
  // Our stores say what works with the options they were given; others are taken at their word.
  if (typeof s.ids === 'function' && s.supports?.ids !== false) return 'ids';
  if (typeof s.all === 'function' && s.supports?.all !== false) return 'all';
  return 'none';
}

/**
 * Every sid the store lists: `ids()` when it has one, else the keys of `all()` (a map, or a list of sessions with
 * `id`, as connect-redis returns). Each sid once.
 * @throws Error when the store has neither
 */
export async function listIds(store: Store): Promise<string[]> {
  const how = listing(store);
  if (how === 'none') throw new Error('the store has neither ids() nor all(): its sessions cannot be listed');
  if (how === 'ids') return [...new Set(await call<string[]>(store, 'ids'))];
  const all = await call<unknown>(store, 'all');
  if (Array.isArray(all)) {
    const ids = all.map((s) => (s as { id?: unknown })?.id);
    if (ids.some((id) => typeof id !== 'string')) {
      // connect-mongo's all() is such a list: the sessions cannot be told apart, let alone copied.
      throw new Error("the store's all() returns sessions without their sids: open its data through a store URL instead");
    }
    return [...new Set(ids as string[])];
  }
  return all && typeof all === 'object' ? Object.keys(all) : [];
}

/** The session's expiry (its `cookie.expires`) in epoch ms, or null when its cookie has none. */
export function expiryOf(session: SessionData): number | null {
  return cookieExpiry(session);
}

/** `cookie.originalMaxAge` in ms when it is a positive number (express-session's sliding lifetime). */
export function maxAgeOf(session: SessionData): number | null {
  const ms = (session as { cookie?: { originalMaxAge?: unknown } }).cookie?.originalMaxAge;
  return typeof ms === 'number' && Number.isFinite(ms) && ms > 0 ? ms : null;
}

/**
 * When the session was last saved or touched, inferred from its cookie: express-session sets
 * `cookie.expires = now + originalMaxAge` at every request (`req.session.touch()`), so `expires − originalMaxAge`
 * is the time of the last request that wrote it. Null when the cookie has no expiry or no `originalMaxAge`.
 */
export function lastWriteOf(session: SessionData): number | null {
  const expires = expiryOf(session);
  const maxAge = maxAgeOf(session);
  return expires === null || maxAge === null ? null : expires - maxAge;
}

/**
 * The session as text for comparison: its JSON (a `Date` and the ISO string a JSON store gives back serialize
 * the same), so two stores holding the same session give the same bytes.
 */
export function sessionText(session: SessionData): string {
  return JSON.stringify(session);
}

/** Runs `work` on every item with at most `limit` in flight; resolves when all have settled. */
export async function eachLimited<T>(items: readonly T[], limit: number, work: (item: T, index: number) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      await work(items[i]!, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

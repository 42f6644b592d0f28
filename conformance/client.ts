import { AssertionError } from 'node:assert/strict';
import type { Store } from 'express-session';
import type { Need } from './registry.js';
import { sess, show, sid } from './util.js';

/** Store methods the suite calls. */
export type Method = 'get' | 'set' | 'destroy' | 'touch' | 'all' | 'length' | 'ids' | 'clear' | 'close';

/**
 * One call of each store method the suite checks generically (callbacks, behaviour after close), with the
 * capabilities it needs and its arguments given the sid of an existing session.
 */
export const METHOD_CALLS: Array<[method: Method, needs: Need[], args: (existing: string) => unknown[]]> = [
  ['get', [], (id) => [id]],
  ['set', [], () => [sid(), sess({ v: 1 })]],
  ['destroy', [], (id) => [id]],
  ['touch', ['touch'], (id) => [id, sess({ v: 1 })]],
  ['all', ['all'], () => []],
  ['length', ['length'], () => []],
  ['ids', ['ids'], () => []],
  ['clear', ['clear'], () => []],
];

/** What one callback-style call did. */
export interface Outcome {
  /** First callback argument, or what the method threw synchronously. */
  err: unknown;
  /** Second callback argument. */
  value: unknown;
  /** The method threw instead of calling back. */
  threw: boolean;
  /** The callback ran before the method returned. */
  sync: boolean;
}

/** How long a call may go without calling back before the suite says so (runners time out later or never). */
const CALLBACK_TIMEOUT_MS = 30_000;

/**
 * Calls a store the way express-session does (node callbacks) and turns each call into a promise, so tests
 * read top to bottom. It records callbacks that fire more than once; the test fails on them at teardown,
 * because a second callback makes express-session call `next()` twice.
 */
export class Client {
  /** Contract breaches seen after the call that caused them had already resolved. */
  readonly problems: string[] = [];
  /** close() was called through this client, so teardown must not close again. */
  closed = false;

  /** @param store the store under test */
  constructor(readonly store: Store) {}

  /** Calls `method(...args, cb)`; resolves with what happened and never rejects for store errors. */
  attempt(method: Method, ...args: unknown[]): Promise<Outcome> {
    const fn = (this.store as unknown as Record<string, unknown>)[method];
    if (typeof fn !== 'function') throw new AssertionError({ message: `store has no ${method}() method` });
    if (method === 'close') this.closed = true;
    return new Promise((resolve, reject) => {
      let calls = 0;
      let returned = false;
      const timer = setTimeout(() => reject(new AssertionError({ message: `${method}() never called back` })), CALLBACK_TIMEOUT_MS);
      timer.unref?.();
      const callback = (err: unknown, value: unknown): void => {
        calls += 1;
        if (calls > 1) {
          this.problems.push(`${method}() called its callback ${calls} times`);
          return;
        }
        clearTimeout(timer);
        resolve({ err: err ?? null, value, threw: false, sync: !returned });
      };
      try {
        (fn as (...a: unknown[]) => unknown).call(this.store, ...args, callback);
      } catch (err) {
        clearTimeout(timer);
        resolve({ err, value: undefined, threw: true, sync: true });
      }
      returned = true;
    });
  }

  /** Calls `method` and returns its result; fails the test with a one-line message if it errors. */
  async call(method: Method, ...args: unknown[]): Promise<unknown> {
    const out = await this.attempt(method, ...args);
    if (out.threw) throw new AssertionError({ message: `${method}() threw synchronously: ${show(out.err)}` });
    if (out.err) throw new AssertionError({ message: `${method}() called back with an error: ${show(out.err)}` });
    return out.value;
  }

  /**
   * `get(sid)` via callback. An error whose `code` is `'ENOENT'` counts as "no session": express-session itself
   * treats it so (session-file-store reports missing sessions that way).
   */
  async get(sid: unknown): Promise<unknown> {
    const out = await this.attempt('get', sid);
    if (!out.threw && out.err && (out.err as { code?: unknown }).code === 'ENOENT') return null;
    if (out.threw) throw new AssertionError({ message: `get() threw synchronously: ${show(out.err)}` });
    if (out.err) throw new AssertionError({ message: `get() called back with an error: ${show(out.err)}` });
    return out.value;
  }
  /** `set(sid, session)` via callback. */
  async set(sid: unknown, session: unknown): Promise<void> {
    await this.call('set', sid, session);
  }
  /** `touch(sid, session)` via callback. */
  async touch(sid: unknown, session: unknown): Promise<void> {
    await this.call('touch', sid, session);
  }
  /** `destroy(sid)` via callback. */
  async destroy(sid: unknown): Promise<void> {
    await this.call('destroy', sid);
  }
  /** `all()` via callback. */
  all(): Promise<unknown> {
    return this.call('all');
  }
  /** `length()` via callback. */
  length(): Promise<unknown> {
    return this.call('length');
  }
  /** `ids()` via callback. */
  ids(): Promise<unknown> {
    return this.call('ids');
  }
  /** `clear()` via callback. */
  async clear(): Promise<void> {
    await this.call('clear');
  }
  /** `close()` via callback. */
  async close(): Promise<void> {
    await this.call('close');
  }
}

/**
 * What the suite infers about a store must not make it fail tests for things the store did not do: whole-second
 * TTLs for stores without millisecond precision, and `disableTouch` only when the factory's hint made the
 * difference. Runs the suite's own runner on small stores written like third-party ones.
 */
import { describe, expect, it } from 'vitest';
import session from 'express-session';
import type { SessionData } from 'express-session';
import { runConformance, type Report } from '../conformance/runner.js';
import type { FactoryHints } from '../conformance/options.js';
import { MemoryStore } from '../stores/memory/index.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Cb = (err?: unknown, value?: any) => void;

/**
 * Keeps whole seconds, as Redis `EX` does: a fractional ttl is an error (connect-redis reports Redis's "value is
 * not an integer"), expiries are rounded up to the second.
 */
class WholeSecondStore extends session.Store {
  private readonly map = new Map<string, { json: string; until: number }>();
  constructor(readonly ttl?: number | ((s: SessionData) => number)) {
    super();
  }
  get(sid: string, cb: Cb): void {
    const hit = this.map.get(sid);
    setImmediate(cb, null, hit && hit.until > Date.now() ? JSON.parse(hit.json) : null);
  }
  set(sid: string, sess: SessionData, cb: Cb): void {
    const expires = sess.cookie?.expires;
    const ttl = expires
      ? (new Date(expires).getTime() - Date.now()) / 1000
      : typeof this.ttl === 'function'
        ? this.ttl(sess)
        : (this.ttl ?? 86400);
    const seconds = expires ? Math.ceil(ttl) : ttl;
    if (!Number.isInteger(seconds)) return void setImmediate(cb, new Error('ERR value is not an integer or out of range'));
    if (seconds <= 0) this.map.delete(sid);
    else this.map.set(sid, { json: JSON.stringify(sess), until: Date.now() + seconds * 1000 });
    setImmediate(cb, null);
  }
  destroy(sid: string, cb: Cb): void {
    this.map.delete(sid);
    setImmediate(cb, null);
  }
}

/** Declares `supports.touch = false` whatever the hints, and has no touch(): it cannot honour disableTouch. */
class NoTouchStore extends session.MemoryStore {
  readonly supports = { touch: false };
}
Object.defineProperty(NoTouchStore.prototype, 'touch', { value: undefined });

const failures = (report: Report): string[] => report.tests.filter((t) => t.status === 'failed').map((t) => `${t.name}: ${t.reason}`);

describe('capability inference', () => {
  it('expiry tests use whole-second ttls for a store that declares msPrecision: false', async () => {
    const report = await runConformance({
      factory: (hints?: FactoryHints) => new WholeSecondStore(hints?.ttl),
      capabilities: { msPrecision: false, ttlOption: true },
      groups: ['expiry'],
    });
    expect(failures(report)).toEqual([]);
    const ran = report.tests.filter((t) => t.status === 'passed').map((t) => t.name);
    expect(ran).toEqual(
      expect.arrayContaining([
        'cookie.expires in the future wins over a short default ttl',
        'a browser-session cookie (expires null) expires after the default ttl',
        'a ttl function decides per session',
      ]),
    );
  }, 60_000);

  it("the README's factory, which drops the disableTouch hint, skips the disableTouch test on our MemoryStore", async () => {
    const report = await runConformance({ factory: (hints?: FactoryHints) => new MemoryStore({ ttl: hints?.ttl }), groups: ['touch'] });
    expect(failures(report)).toEqual([]);
    expect(report.tests).toContainEqual(
      expect.objectContaining({
        name: 'disableTouch makes touch() a successful no-op',
        status: 'skipped',
        reason: expect.stringContaining('disableTouch'),
      }),
    );
  });

  it('a factory that honours disableTouch runs the test', async () => {
    const report = await runConformance({
      factory: (hints?: FactoryHints) => new MemoryStore({ ttl: hints?.ttl, disableTouch: hints?.disableTouch }),
      groups: ['touch'],
    });
    expect(report.tests).toContainEqual(
      expect.objectContaining({ name: 'disableTouch makes touch() a successful no-op', status: 'passed' }),
    );
  });

  it('a store that never supports touch is not taken to honour disableTouch', async () => {
    const report = await runConformance({ factory: () => new NoTouchStore(), groups: ['touch'] });
    expect(failures(report)).toEqual([]);
    expect(report.tests).toContainEqual(
      expect.objectContaining({ name: 'disableTouch makes touch() a successful no-op', status: 'skipped' }),
    );
  });
});

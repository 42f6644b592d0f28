/**
 * memorystore, as its README shows it: `require('memorystore')(session)` with a `checkPeriod`. Its `ttl` is in
 * milliseconds and, as a function, takes `(options, sess, sid)`; the suite's hint (seconds, `(sess)`) is
 * translated to that documented option.
 */
import session from 'express-session';
import memorystore from 'memorystore';
import type { Capabilities, FactoryHints } from '../../../conformance/options.js';

const MemoryStore = memorystore(session);

export const name = 'memorystore';
export const backend = 'in-process memory (lru-cache)';

export const capabilities: Partial<Capabilities> = {
  ttlOption: true,
  touchAfter: false,
  disableTouch: false,
  namespaces: false,
};

export default function factory(hints: FactoryHints = {}): session.Store {
  const { ttl } = hints;
  return new MemoryStore({
    checkPeriod: 86_400_000,
    ttl:
      ttl === undefined
        ? undefined
        : typeof ttl === 'number'
          ? ttl * 1000
          : (_options: unknown, sess: session.SessionData) => ttl(sess) * 1000,
  });
}

/** The `checkPeriod` interval keeps the process alive until stopped; memorystore has no close(). */
export function teardown(store: session.Store): void {
  (store as unknown as { stopInterval(): void }).stopInterval();
}

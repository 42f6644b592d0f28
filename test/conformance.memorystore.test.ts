/**
 * The conformance suite against express-session's own MemoryStore: the reference the contract was measured on,
 * so every failure here is either a bug in the suite or a documented gap in MemoryStore.
 */
import { describe, it } from 'vitest';
import session from 'express-session';
import { conformance } from '../conformance/index.js';

conformance({
  name: 'express-session MemoryStore',
  test: it,
  describe,
  factory: () => new session.MemoryStore(),
  capabilities: {
    sessionStoreErrors: false,
    promises: false,
    namespaces: false,
    ttlOption: false,
    touchAfter: false,
    disableTouch: false,
  },
  knownFailures: [
    // MemoryStore.set() calls JSON.stringify synchronously, so an unserializable session throws out of set()
    // instead of reaching the callback (inside express-session that is a throw from res.end()).
    'payloads: a circular session fails cleanly',
    'payloads: a BigInt session fails cleanly',
    // No tombstones: a late write after destroy() brings the session back (every incumbent store does this).
    /^revocation: (a set|a touch|a destroyed sid|over HTTP)/,
  ],
});

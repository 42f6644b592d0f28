/**
 * express-session's built-in MemoryStore, as its README shows it: `new session.MemoryStore()`. It takes no
 * options, so it honours none of the suite's hints.
 */
import session from 'express-session';
import type { Capabilities } from '../../../conformance/options.js';

export const name = 'express-session MemoryStore';
export const backend = 'in-process memory';

export const capabilities: Partial<Capabilities> = {
  ttlOption: false,
  touchAfter: false,
  disableTouch: false,
  namespaces: false,
};

export default function factory(): session.Store {
  return new session.MemoryStore();
}

/**
 * session-file-store, as its README sets it up: `require('session-file-store')(session)` with `path` and `ttl`
 * (seconds, a number only). A namespace is a directory, its documented way to keep stores apart. `logFn` is
 * silenced so that its retry messages do not flood the report.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import session from 'express-session';
import sessionFileStore from 'session-file-store';
import type { Capabilities, FactoryHints } from '../../../conformance/options.js';

const FileStore = sessionFileStore(session);
const root = mkdtempSync(join(tmpdir(), 'session-file-store-'));
let counter = 0;

export const name = 'session-file-store';
export const backend = 'local file system';

export const capabilities: Partial<Capabilities> = {
  ttlOption: false,
  touchAfter: false,
  disableTouch: false,
  namespaces: true,
};

export default function factory(hints: FactoryHints = {}): session.Store {
  return new FileStore({
    path: join(root, encodeURIComponent(hints.namespace ?? `s${++counter}`)),
    ttl: typeof hints.ttl === 'number' ? hints.ttl : undefined,
    logFn: () => {},
  });
}

export function cleanup(): void {
  rmSync(root, { recursive: true, force: true });
}

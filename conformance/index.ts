/**
 * The session-stores conformance suite: one set of tests for every express-session store, ours or not.
 *
 * ```ts
 * import { describe, it } from 'vitest';
 * import { conformance } from 'session-stores/conformance';
 * conformance({ test: it, describe, factory: () => new MyStore() });
 * ```
 *
 * It imports no test runner and asserts with `node:assert/strict`, so it runs under vitest, node:test and mocha.
 * @packageDocumentation
 */
import type { ConformanceOptions } from './options.js';
import { basic } from './basic.js';
import { expiry } from './expiry.js';
import { touch } from './touch.js';
import { bulk } from './bulk.js';
import { isolation } from './isolation.js';
import { hostileIds } from './hostile-ids.js';
import { payloads } from './payloads.js';
import { concurrency } from './concurrency.js';
import { callbacks } from './callbacks.js';
import { lifecycle } from './lifecycle.js';
import { integration } from './integration.js';
import { revocation } from './revocation.js';
import { owners } from './owners.js';
import { frameworks } from './frameworks.js';
import { atRest } from './at-rest.js';

export type { Capabilities, ConformanceOptions, FactoryHints, RawStorage } from './options.js';
export { resolveCapabilities } from './options.js';
export { runConformance, groupNames, type RunOptions, type Report, type TestResult, type GroupSummary } from './runner.js';
export { loadStoreModule, type StoreModule } from './load.js';
export {
  basic,
  expiry,
  touch,
  bulk,
  isolation,
  hostileIds,
  payloads,
  concurrency,
  callbacks,
  lifecycle,
  integration,
  revocation,
  owners,
  frameworks,
  atRest,
};

/** Every group by name, for running a subset: `groups.basic(opts)`. */
export const groups: Record<string, (opts: ConformanceOptions) => void> = {
  basic,
  expiry,
  touch,
  bulk,
  isolation,
  hostileIds,
  payloads,
  concurrency,
  callbacks,
  lifecycle,
  integration,
  revocation,
  owners,
  frameworks,
  atRest,
};

/** Registers every group, inside `describe(opts.name)` when the runner's `describe` is given. */
export function conformance(opts: ConformanceOptions): void {
  const all = (): void => {
    for (const register of Object.values(groups)) register(opts);
  };
  if (opts.describe) opts.describe(opts.name ?? 'session store conformance', all);
  else all();
}

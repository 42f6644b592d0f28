import { AssertionError } from 'node:assert/strict';
import type { Store } from 'express-session';
import { Client } from './client.js';
import { resolveCapabilities, type Capabilities, type ConformanceOptions, type FactoryHints } from './options.js';

/** What a test body receives. */
export interface TestContext {
  /** The store made for this test. */
  store: Store;
  /** Callback-style access to {@link TestContext.store}. */
  client: Client;
  /** Capabilities of {@link TestContext.store}. */
  caps: Capabilities;
  /** Makes another store (e.g. in another namespace), torn down with the test. */
  open: (hints?: FactoryHints) => Promise<Client>;
}

/** Name of a capability a test may need. */
export type Need = keyof Capabilities;

/** Capabilities that depend on the factory passing a hint on, and the hint's name. */
const HINTED: Partial<Record<Need, string>> = {
  ttlOption: 'ttl',
  touchAfter: 'touchAfter',
  disableTouch: 'disableTouch',
  owners: 'owner',
  atRest: 'encryption',
};

/**
 * Thrown while a test sets up to say it cannot run here (a need discovered unmet, a framework that is not
 * installed): the test is reported as skipped with this message as the reason, not as failed.
 */
export class Unmet extends Error {}

/** Registers one test of the current group. `hints` are passed to the factory for the test's main store. */
export type Define = (name: string, needs: Need[], body: (ctx: TestContext) => Promise<void>, hints?: FactoryHints) => void;

type Runnable = (name: string, fn: (...args: unknown[]) => unknown) => unknown;

/**
 * Registers a group: inside `describe(groupName)` when the runner gave one, else with `groupName: ` prefixed
 * to each test name so reports stay readable under plain `test`.
 */
export function group(opts: ConformanceOptions, groupName: string, body: (define: Define) => void): void {
  const prefix = opts.describe ? '' : `${groupName}: `;
  const define: Define = (name, needs, fn, hints) => register(opts, `${groupName}: ${name}`, prefix + name, needs, fn, hints);
  if (opts.describe) opts.describe(groupName, () => body(define));
  else body(define);
}

function register(
  opts: ConformanceOptions,
  fullName: string,
  name: string,
  needs: Need[],
  body: (ctx: TestContext) => Promise<void>,
  hints: FactoryHints | undefined,
): void {
  const test = opts.test as unknown as Runnable & { skip?: Runnable };
  // Capabilities given up front are known now: report the test as skipped rather than as a vacuous pass.
  if (needs.some((need) => opts.capabilities?.[need] === false)) {
    if (typeof test.skip === 'function') test.skip(name, () => {});
    return;
  }
  const expectFailure = (opts.knownFailures ?? []).some((k) => (typeof k === 'string' ? k === fullName : k.test(fullName)));
  // A plain function (not an arrow) with rest parameters: mocha passes its context as `this` and, seeing
  // length 0, no `done`; vitest and node:test pass their context as the first argument.
  test(name, async function (this: unknown, ...args: unknown[]) {
    const skipped = await run(opts, needs, body, hints, expectFailure);
    if (skipped !== null) skipAtRuntime(this, args[0], skipped);
  });
}

/** Runs one test with its stores; returns why it could not run (then it did not), or null. */
async function run(
  opts: ConformanceOptions,
  needs: Need[],
  body: (ctx: TestContext) => Promise<void>,
  hints: FactoryHints | undefined,
  expectFailure: boolean,
): Promise<string | null> {
  const clients: Client[] = [];
  const namespaces = new Map<string, string>();
  const open = async (h?: FactoryHints): Promise<Client> => {
    const client = new Client(await opts.factory(h));
    clients.push(client);
    // A store that names its namespace shows whether the factory passed the hint on: two hints, one namespace,
    // means it did not, and isolation tests would only test the factory.
    const named = (client.store as unknown as { namespace?: unknown }).namespace;
    if (h?.namespace !== undefined && typeof named === 'string' && opts.capabilities?.namespaces === undefined) {
      for (const [hint, seen] of namespaces)
        if (seen === named && hint !== h.namespace) throw new Unmet('store lacks: namespaces (the factory ignores the namespace hint)');
      namespaces.set(h.namespace, named);
    }
    return client;
  };
  let failure: unknown = null;
  let skipped: string | null = null;
  try {
    const client = await open(hints);
    const caps = resolveCapabilities(client.store, opts.capabilities, hints);
    // A store that reports no touch support whatever the hint (no touch() at all) did not honour disableTouch:
    // the hint must make the difference, so compare with a store made without it.
    if (caps.disableTouch && hints?.disableTouch && opts.capabilities?.disableTouch === undefined) {
      const plain = await open({ ...hints, disableTouch: undefined });
      if (!resolveCapabilities(plain.store, opts.capabilities).touch) caps.disableTouch = false;
    }
    const missing = needs
      .filter((need) => !caps[need])
      .map((need) => (hints && HINTED[need] ? `${need} (the factory ignores the ${HINTED[need]} hint)` : need));
    if (missing.length > 0) skipped = `store lacks: ${missing.join(', ')}`;
    else {
      await body({ store: client.store, client, caps, open });
      // Second callbacks usually arrive a tick later.
      await new Promise((resolve) => setImmediate(resolve));
      const problems = clients.flatMap((c) => c.problems);
      if (problems.length > 0) throw new AssertionError({ message: problems[0] as string });
    }
  } catch (err) {
    if (err instanceof Unmet) skipped = err.message;
    else failure = err;
  } finally {
    for (const client of clients) {
      try {
        await tearDown(opts, client);
      } catch (err) {
        failure ??= err;
      }
    }
  }
  if (skipped !== null) return skipped;
  if (expectFailure) {
    if (failure === null) throw new AssertionError({ message: 'passed, but is listed in knownFailures: remove it' });
    return null;
  }
  if (failure !== null) throw failure;
  return null;
}

/** How long `clear()` before teardown may take; a store that does not call back is left as it is. */
const CLEAR_TIMEOUT_MS = 5_000;

/**
 * Releases one store: with `clearAfter`, first `clear()` (a namespaced store only, unless the test closed it),
 * then the module's `teardown`, else `close()` unless the test closed it.
 */
export async function tearDown(opts: Pick<ConformanceOptions, 'teardown' | 'clearAfter' | 'capabilities'>, client: Client): Promise<void> {
  if (opts.clearAfter && !client.closed) {
    const caps = resolveCapabilities(client.store, opts.capabilities);
    // Without namespaces, clear() may delete sessions the suite did not write.
    if (caps.clear && caps.namespaces) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        client.attempt('clear').catch(() => undefined),
        new Promise((resolve) => (timer = setTimeout(resolve, CLEAR_TIMEOUT_MS))),
      ]);
      clearTimeout(timer);
    }
  }
  if (opts.teardown) return opts.teardown(client.store);
  const close = (client.store as unknown as { close?: () => unknown }).close;
  if (client.closed || typeof close !== 'function') return;
  // No callback: third-party close() signatures vary; await it only if it returns a promise.
  const result = close.call(client.store);
  if (result && typeof (result as PromiseLike<unknown>).then === 'function') await result;
}

/** Marks a running test skipped with whatever skip the runner's context offers (vitest, node:test, mocha). */
function skipAtRuntime(self: unknown, first: unknown, reason: string): void {
  for (const ctx of [first, self]) {
    const skip = (ctx as { skip?: unknown } | null | undefined)?.skip;
    // vitest's context is itself a function, node:test's an object, mocha's is `this`.
    if ((typeof ctx === 'object' || typeof ctx === 'function') && ctx !== null && typeof skip === 'function') {
      skip.call(ctx, reason);
      return;
    }
  }
}

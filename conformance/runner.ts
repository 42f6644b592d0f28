/**
 * A tiny test runner for the suite, so it can run without vitest/mocha: the CLI and the compatibility matrix use
 * it. It collects the tests the groups register through `test`/`describe`, runs them one at a time with a
 * timeout, and returns a {@link Report}.
 */
import type { Capabilities, ConformanceOptions } from './options.js';
import { groups } from './index.js';
import { Client } from './client.js';
import { closeApps } from './http-app.js';
import { tearDown } from './registry.js';
import { show } from './util.js';

/**
 * Tests of one group that may time out before the rest of the group is not run: a store that never calls back
 * would otherwise make every test wait its full timeout.
 */
const TIMEOUTS_PER_GROUP = 3;

/** Options of {@link runConformance}: the suite's options without the runner functions, plus run controls. */
export interface RunOptions extends Omit<ConformanceOptions, 'test' | 'describe'> {
  /** Only these groups (`basic`, `touch`, `hostile-ids` or `hostileIds` …). Default: all. */
  groups?: string[];
  /** Per-test limit in milliseconds (default 20 000); a test past it fails and the run moves on. */
  timeoutMs?: number;
  /** Stop at the first failure. */
  bail?: boolean;
  /** Called after each test, for progress output. */
  onResult?: (result: TestResult) => void;
}

/** Outcome of one test. */
export interface TestResult {
  /** Group name, e.g. `touch`. */
  group: string;
  /** Test name within the group. */
  name: string;
  status: 'passed' | 'failed' | 'skipped';
  /** Failed: the one-line reason. Skipped: why (`store lacks: touch`). */
  reason?: string;
  /** Listed in `knownFailures`: `passed` means it still fails as expected. */
  knownFailure?: boolean;
  durationMs: number;
}

/** Counts of one group. */
export interface GroupSummary {
  name: string;
  passed: number;
  failed: number;
  skipped: number;
  total: number;
}

/** What {@link runConformance} returns; also the CLI's `--json` output. */
export interface Report {
  /** `opts.name`, or `store`. */
  name: string;
  /** No test failed, nothing was thrown outside a test, and the run was not cut short. */
  ok: boolean;
  passed: number;
  failed: number;
  skipped: number;
  total: number;
  durationMs: number;
  /** `--bail` stopped the run; tests after the first failure are not in the report. */
  bailed: boolean;
  groups: GroupSummary[];
  tests: TestResult[];
  /** Errors thrown asynchronously between tests (they cannot be pinned on one test). */
  uncaught: string[];
}

/** Thrown by the context's `skip()`, which is how the suite skips a test whose needs it discovers at run time. */
class Skip extends Error {}

interface Collected {
  group: string;
  name: string;
  fn?: (...args: unknown[]) => unknown;
  skipReason?: string;
}

const normalize = (name: string): string => name.toLowerCase().replace(/[^a-z0-9]/g, '');

/**
 * Names accepted by {@link RunOptions.groups}. A function, not a constant: index.ts re-exports this module, so
 * `groups` (defined there) is not initialized yet while this module is evaluated.
 */
export function groupNames(): string[] {
  return Object.keys(groups);
}

/**
 * Runs the conformance suite against `opts.factory` and reports every test. Never throws for a failing store;
 * throws only for unusable input, before any test runs: an unknown group, or a factory that throws or does not
 * return a store (an object with `get`, `set` and `destroy`). Tests run sequentially; an error thrown
 * asynchronously while a test runs fails that test instead of crashing the process. Once
 * {@link TIMEOUTS_PER_GROUP} tests of a group time out, the rest of the group is skipped with one reason. The
 * suite's own HTTP servers are closed before it returns, so handles still open afterwards are the store's.
 */
export async function runConformance(opts: RunOptions): Promise<Report> {
  const started = performance.now();
  const { groups: only, timeoutMs = 20_000, bail = false, onResult, ...suite } = opts;
  const selected = selectGroups(only);
  await checkFactory(suite, timeoutMs);

  // Tests skipped at registration (capability declared false) reach `test.skip` without their needs; the suite
  // has just read the failing capability, so a read-tracking view of the declarations names it.
  let lastFalse: string | undefined;
  const capabilities =
    suite.capabilities &&
    new Proxy(suite.capabilities, {
      get(target, key) {
        const value = Reflect.get(target, key) as unknown;
        if (value === false && typeof key === 'string') lastFalse = key;
        return value;
      },
    });

  const collected: Collected[] = [];
  let current = '';
  const describe = (name: string, fn: () => void): void => {
    const outer = current;
    current = name;
    try {
      fn();
    } finally {
      current = outer;
    }
  };
  const test = Object.assign((name: string, fn: (...args: unknown[]) => unknown) => void collected.push({ group: current, name, fn }), {
    skip: (name: string) =>
      void collected.push({ group: current, name, skipReason: `store lacks: ${lastFalse ?? 'a declared capability'}` }),
  });
  for (const register of selected) register({ ...suite, capabilities: capabilities as Partial<Capabilities> | undefined, test, describe });

  const isKnown = (fullName: string): boolean =>
    (suite.knownFailures ?? []).some((k) => (typeof k === 'string' ? k === fullName : k.test(fullName)));

  // Stores that throw from a callback or reject without a handler would otherwise kill the process.
  const uncaught: string[] = [];
  let failCurrent: ((err: unknown) => void) | undefined;
  const onUncaught = (err: unknown): void => {
    if (failCurrent) failCurrent(err);
    else uncaught.push(oneLine(err));
  };
  process.on('uncaughtException', onUncaught);
  process.on('unhandledRejection', onUncaught);

  const tests: TestResult[] = [];
  const timeouts = new Map<string, number>();
  let bailed = false;
  try {
    for (const t of collected) {
      const t0 = performance.now();
      const result: TestResult = { group: t.group, name: t.name, status: 'passed', durationMs: 0 };
      if (isKnown(`${t.group}: ${t.name}`)) result.knownFailure = true;
      const timedOut = timeouts.get(t.group) ?? 0;
      if (timedOut >= TIMEOUTS_PER_GROUP) {
        result.status = 'skipped';
        result.reason = `not run: ${timedOut} tests of this group timed out (the store does not call back)`;
      } else if (t.skipReason !== undefined) {
        result.status = 'skipped';
        result.reason = t.skipReason;
      } else {
        let timer: NodeJS.Timeout | undefined;
        try {
          // The context's skip() is what registry.ts calls for needs discovered at run time.
          const ctx = {
            skip: (reason?: string) => {
              throw new Skip(reason ?? 'skipped');
            },
          };
          await Promise.race([
            Promise.resolve().then(() => t.fn!.call(ctx, ctx)),
            new Promise((_, reject) => {
              failCurrent = reject;
              timer = setTimeout(() => reject(new Error(`timed out after ${timeoutMs} ms`)), timeoutMs);
            }),
          ]);
        } catch (err) {
          result.status = err instanceof Skip ? 'skipped' : 'failed';
          result.reason = err instanceof Skip ? err.message : oneLine(err);
        } finally {
          clearTimeout(timer);
          failCurrent = undefined;
        }
      }
      result.durationMs = Math.round(performance.now() - t0);
      if (result.status === 'failed' && /^timed out after|never called back/.test(result.reason ?? '')) timeouts.set(t.group, timedOut + 1);
      tests.push(result);
      onResult?.(result);
      if (bail && result.status === 'failed') {
        bailed = tests.length < collected.length;
        break;
      }
    }
    // Late callbacks and rejections of the last test surface a tick or two after it.
    await new Promise((resolve) => setTimeout(resolve, 10));
  } finally {
    // Apps of tests that timed out are still listening.
    await closeApps();
    process.off('uncaughtException', onUncaught);
    process.off('unhandledRejection', onUncaught);
  }

  const count = (list: TestResult[], status: TestResult['status']): number => list.filter((r) => r.status === status).length;
  const summaries = [...new Set(tests.map((r) => r.group))].map((name) => {
    const list = tests.filter((r) => r.group === name);
    return { name, passed: count(list, 'passed'), failed: count(list, 'failed'), skipped: count(list, 'skipped'), total: list.length };
  });
  const failed = count(tests, 'failed');
  return {
    name: suite.name ?? 'store',
    ok: failed === 0 && uncaught.length === 0 && !bailed,
    passed: count(tests, 'passed'),
    failed,
    skipped: count(tests, 'skipped'),
    total: tests.length,
    durationMs: Math.round(performance.now() - started),
    bailed,
    groups: summaries,
    tests,
    uncaught,
  };
}

/**
 * Makes one store before any test runs and releases it: a factory that throws or returns something that is not
 * a store would otherwise fail every test with the same error.
 */
async function checkFactory(suite: Omit<RunOptions, 'groups' | 'timeoutMs' | 'bail' | 'onResult'>, timeoutMs: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  let store: unknown;
  try {
    store = await Promise.race([
      Promise.resolve().then(() => suite.factory()),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no store after ${timeoutMs} ms`)), timeoutMs);
      }),
    ]);
  } catch (err) {
    throw new Error(`the factory failed: ${oneLine(err)}`);
  } finally {
    clearTimeout(timer);
  }
  const view = store as Record<string, unknown> | null;
  const missing = ['get', 'set', 'destroy'].filter((m) => typeof view?.[m] !== 'function');
  if (typeof store !== 'object' || store === null || missing.length > 0) {
    const what = typeof store === 'object' && store !== null ? `an object without ${missing.join(', ')}()` : show(store);
    throw new Error(`the factory did not return a store (it returned ${what}); a store has get(), set() and destroy()`);
  }
  try {
    await tearDown(suite, new Client(store as ConstructorParameters<typeof Client>[0]));
  } catch {
    // The tests tear down their own stores and report failures there.
  }
}

function selectGroups(only: string[] | undefined): Array<(opts: ConformanceOptions) => void> {
  if (!only || only.length === 0) return Object.values(groups);
  return only.map((name) => {
    const key = groupNames().find((g) => normalize(g) === normalize(name));
    if (!key) throw new Error(`unknown group "${name}"; groups: ${groupNames().join(', ')}`);
    return groups[key]!;
  });
}

/**
 * An error as one line: assertion messages as they are (the suite writes them to be read), other errors with
 * their name, since "Error: connect ECONNREFUSED" says more than the message alone.
 */
export function oneLine(err: unknown): string {
  let text: string;
  if (err instanceof Error) text = err.name === 'AssertionError' || err.name === 'Error' ? err.message : `${err.name}: ${err.message}`;
  else text = String(err);
  // Node appends a multi-line diff to assertion messages; the suite's message already says what differs.
  text = text.split(/\n\s*\+ actual - expected/)[0]!;
  text = text.replace(/\s+/g, ' ').trim();
  return text.length > 240 ? `${text.slice(0, 239)}…` : text;
}

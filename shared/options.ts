import { ErrorCode, SessionStoreError } from './errors.js';

/**
 * Option handling for every store, in one place: each store declares its options (with a check per option),
 * the names its incumbent used for them (with their units), and incumbent names it accepts on purpose without
 * effect. {@link resolveOptions} applies one rule to all of them, at construction:
 *
 * - a value of the wrong type or range is a `SESSION_STORE_INVALID_OPTION` error naming the option;
 * - an alias is converted to the store's own name and unit (`reapInterval: 60` → `pruneIntervalMs: 60000`);
 * - the same setting given under two names must agree, else it is an error naming both;
 * - an unknown name is an error that lists the close matches (`chekPeriod` → did you mean `checkPeriod`?).
 *
 * `undefined` means "not given" everywhere, so `{ ttl: hints?.ttl }` is fine.
 */

/** Checks one option value and returns it normalized; throws {@link invalid} otherwise. */
export type Check = (value: unknown, name: string) => unknown;

/** An incumbent's name for one of the store's options, with the conversion from its unit. */
export interface Alias {
  /** The store's own option name. */
  to: string;
  /** Converts the incumbent's value (already known not to be undefined) into the store's unit. */
  convert: (value: unknown, name: string) => unknown;
}

/** What a store accepts. */
export interface OptionSpec {
  /** The store's own options: name → check. */
  options: Record<string, Check>;
  /** Incumbents' names: name → alias. */
  aliases?: Record<string, Alias>;
  /** Incumbents' names accepted on purpose and ignored, with the reason (documented in the store's docs). */
  ignored?: Record<string, string>;
}

/** The error of a bad option. */
export function invalid(message: string): SessionStoreError {
  return new SessionStoreError(ErrorCode.INVALID_OPTION, message);
}

/** Merges option specs (the shared one and a store's); later entries win. */
export function mergeSpecs(...specs: OptionSpec[]): OptionSpec {
  return {
    options: Object.assign({}, ...specs.map((s) => s.options)),
    aliases: Object.assign({}, ...specs.map((s) => s.aliases ?? {})),
    ignored: Object.assign({}, ...specs.map((s) => s.ignored ?? {})),
  };
}

/**
 * Validates `input` against `spec` and returns the options under the store's own names, aliases converted.
 * @throws SessionStoreError `SESSION_STORE_INVALID_OPTION`
 */
export function resolveOptions<T extends object>(input: unknown, spec: OptionSpec): T {
  if (input === undefined || input === null) return {} as T;
  if (typeof input !== 'object' || Array.isArray(input)) throw invalid(`options must be an object, got ${describe(input)}`);
  const out: Record<string, unknown> = {};
  const givenAs: Record<string, string> = {};
  const set = (target: string, value: unknown, name: string): void => {
    if (value === undefined) return;
    if (target in out && !same(out[target], value)) {
      throw invalid(`${givenAs[target]} and ${name} set the same option to different values; pass only one of them`);
    }
    out[target] = value;
    givenAs[target] ??= name;
  };
  const aliases = spec.aliases ?? {};
  const ignored = spec.ignored ?? {};
  // Own names first, so an alias that disagrees is reported against the store's name.
  for (const [name, value] of Object.entries(input)) {
    if (value === undefined || !Object.hasOwn(spec.options, name)) continue;
    set(name, spec.options[name]!(value, name), name);
  }
  for (const [name, value] of Object.entries(input)) {
    if (value === undefined || Object.hasOwn(spec.options, name)) continue;
    if (Object.hasOwn(aliases, name)) {
      const alias = aliases[name]!;
      const converted = alias.convert(value, name);
      set(alias.to, spec.options[alias.to] ? spec.options[alias.to]!(converted, name) : converted, name);
    } else if (!Object.hasOwn(ignored, name)) {
      throw unknownOption(name, [...Object.keys(spec.options), ...Object.keys(aliases), ...Object.keys(ignored)]);
    }
  }
  return out as T;
}

/**
 * Refuses a key of a nested option object (`encryption`, `hashIds`) that is not in `known`, like an unknown
 * top-level option: `SESSION_STORE_INVALID_OPTION` naming `path.key` and its close matches.
 */
export function assertKnownKeys(value: object, known: readonly string[], path: string): void {
  for (const name of Object.keys(value)) {
    if (!known.includes(name))
      throw unknownOption(
        `${path}.${name}`,
        known.map((k) => `${path}.${k}`),
      );
  }
}

function unknownOption(name: string, known: string[]): SessionStoreError {
  const close = known.filter((k) => k.toLowerCase() === name.toLowerCase() || distance(k.toLowerCase(), name.toLowerCase()) <= 2);
  const hint = close.length > 0 ? `; did you mean ${close.map((c) => `"${c}"`).join(' or ')}?` : '';
  return invalid(`unknown option "${name}"${hint}`);
}

/** Levenshtein distance, for "did you mean". */
function distance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      row[j] = Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = row;
  }
  return prev[b.length]!;
}

function same(a: unknown, b: unknown): boolean {
  return a === b || (Number.isNaN(a) && Number.isNaN(b));
}

/** One line naming a value's type, for error messages (never the value: it may be a secret). */
export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') return `a string of length ${value.length}`;
  if (typeof value === 'number') return Number.isFinite(value) ? 'a number out of range' : String(value);
  return typeof value;
}

// --- checks ------------------------------------------------------------------------------------------------

/** A finite number >= `min` (and <= `max`), optionally an integer. */
export function num(min: number, { max = Infinity, integer = false } = {}): Check {
  return (value, name) => {
    if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max || (integer && !Number.isInteger(value))) {
      const range = max === Infinity ? `>= ${min}` : `from ${min} to ${max}`;
      throw invalid(`${name} must be ${integer ? 'an integer' : 'a number'} ${range}, got ${describe(value)}`);
    }
    return value;
  };
}

/** An interval in ms, or `false` / `0` for "never": normalized to a positive number or `false`. */
export const intervalMs: Check = (value, name) => {
  if (value === false || value === 0) return false;
  return num(1)(value, name);
};

export const bool: Check = (value, name) => {
  if (typeof value !== 'boolean') throw invalid(`${name} must be a boolean, got ${describe(value)}`);
  return value;
};

/** A string, non-empty unless `allowEmpty`. */
export function str({ allowEmpty = false } = {}): Check {
  return (value, name) => {
    if (typeof value !== 'string' || (!allowEmpty && value.length === 0)) {
      throw invalid(`${name} must be a ${allowEmpty ? '' : 'non-empty '}string, got ${describe(value)}`);
    }
    return value;
  };
}

export const fn: Check = (value, name) => {
  if (typeof value !== 'function') throw invalid(`${name} must be a function, got ${describe(value)}`);
  return value;
};

/** A plain object (anything non-null of type object but an array). */
export const obj: Check = (value, name) => {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw invalid(`${name} must be an object, got ${describe(value)}`);
  return value;
};

/** One of `values`. */
export function oneOf(...values: readonly unknown[]): Check {
  return (value, name) => {
    if (!values.includes(value))
      throw invalid(`${name} must be one of ${values.map((v) => JSON.stringify(v)).join(', ')}, got ${describe(value)}`);
    return value;
  };
}

/** Accepts whatever the first check that does not throw accepts; otherwise throws the last error. */
export function either(...checks: Check[]): Check {
  return (value, name) => {
    let last: unknown;
    for (const check of checks) {
      try {
        return check(value, name);
      } catch (err) {
        last = err;
      }
    }
    throw last;
  };
}

/** Anything (the store checks it itself, e.g. a client it recognises by shape). */
export const any: Check = (value) => value;

// --- alias conversions ---------------------------------------------------------------------------------------

/** An alias whose value is in `factor` ms units (seconds: 1000, minutes: 60000); `false` / `0` pass as "never". */
export function scaled(to: string, factor: number, { disabledBy = [false, 0] as unknown[] } = {}): Alias {
  return {
    to,
    convert: (value, name) => {
      if (disabledBy.includes(value)) return false;
      return Math.round((num(0)(value, name) as number) * factor) || false;
    },
  };
}

/** An alias with the same meaning and unit. */
export function renamed(to: string): Alias {
  return { to, convert: (value) => value };
}

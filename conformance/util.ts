import { randomBytes } from 'node:crypto';
import type { SessionData } from 'express-session';

/** A namespace name no earlier run can have left data in. */
export function freshNamespace(label: string): string {
  return `${label}-${randomBytes(6).toString('hex')}`;
}

/** A plain session as express-session hands it to a store (after `toJSON`), plus extra data. */
export type Sess = SessionData & Record<string, unknown>;

/** Minutes ahead: far enough that no test run crosses it. */
export const FUTURE_MS = 60 * 60 * 1000;

/** A random sid, unique per call, in the alphabet express-session's default `genid` uses. */
export function sid(label = 's'): string {
  return `${label}-${randomBytes(12).toString('base64url')}`;
}

/**
 * A session whose cookie expires at `expires` (epoch ms; `null` for a browser-session cookie). `expires`
 * is a `Date`, as `Cookie#toJSON` gives it, so stores see the same types as under express-session.
 */
export function sess(data: Record<string, unknown> = {}, expires: number | null = Date.now() + FUTURE_MS): Sess {
  const cookie = {
    originalMaxAge: expires === null ? null : Math.max(0, expires - Date.now()),
    expires: expires === null ? null : new Date(expires),
    httpOnly: true,
    path: '/',
  };
  return { cookie, ...data } as unknown as Sess;
}

/** The JSON view of a value: what a store is expected to give back (Dates become ISO strings). */
export function json<T>(value: T): unknown {
  return value === undefined ? undefined : JSON.parse(JSON.stringify(value));
}

/** `cookie.expires` of a stored session in epoch ms, whether the store returns a Date or an ISO string. */
export function expiresOf(session: unknown): number | null {
  const raw = (session as { cookie?: { expires?: unknown } } | null | undefined)?.cookie?.expires;
  if (raw === null || raw === undefined) return null;
  return new Date(raw as string | Date).getTime();
}

/** Resolves after `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Waits until the wall clock is past `epochMs` (plus a margin), for the few tests that must cross an expiry. */
export async function sleepUntilPast(epochMs: number, marginMs = 5): Promise<void> {
  const left = epochMs + marginMs - Date.now();
  if (left > 0) await sleep(left);
}

/**
 * How far ahead to set an expiry that a test then waits out: a few ms when the store is ms-precise, else long
 * enough to survive rounding up to whole seconds.
 */
export function shortExpiry(msPrecision: boolean): { expires: number; passed: number } {
  const now = Date.now();
  return msPrecision ? { expires: now + 20, passed: now + 30 } : { expires: now + 1000, passed: now + 2100 };
}

/** `err.code` when the error has one. */
export function codeOf(err: unknown): unknown {
  return typeof err === 'object' && err !== null ? (err as { code?: unknown }).code : undefined;
}

/**
 * `all()` results as sessions keyed by sid when the store returns an object, or as a list when it returns an
 * array (the README of express-session says array, its MemoryStore returns an object; both are in use).
 */
export function allEntries(result: unknown): { byId: Map<string, unknown> | null; list: unknown[] } {
  if (Array.isArray(result)) return { byId: null, list: result };
  if (typeof result === 'object' && result !== null) {
    const byId = new Map(Object.entries(result));
    return { byId, list: [...byId.values()] };
  }
  return { byId: null, list: [] };
}

/** The `mark` data field of each session in an `all()` result, sorted: shape-independent comparison. */
export function marksOf(result: unknown): unknown[] {
  return allEntries(result)
    .list.map((s) => (s as { mark?: unknown } | null)?.mark)
    .sort();
}

/** One line naming a value, for assertion messages. */
export function show(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…(${value.length})` : value);
  if (typeof value === 'bigint') return `${value}n`;
  if (value instanceof Error) return `${value.name}: ${value.message}`;
  try {
    const text = JSON.stringify(value);
    return text === undefined ? String(value) : text.length > 60 ? `${text.slice(0, 60)}…` : text;
  } catch {
    return Object.prototype.toString.call(value);
  }
}

/** No session: what `get()` of a missing, expired or destroyed sid gives (null, or undefined from some stores). */
export function absent(value: unknown): boolean {
  return value === null || value === undefined;
}

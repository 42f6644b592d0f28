import type { SessionData } from 'express-session';
import { ErrorCode, SessionStoreError } from './errors.js';
import type { Ttl } from './types.js';

/**
 * The latest expiry any store keeps: 9999-12-31T23:59:59.999Z. Every backend can hold it exactly (an ISO string
 * still has its fixed four-digit shape, PostgreSQL and MySQL timestamps, BSON Dates, Redis `PXAT`, JSON numbers),
 * and no real session needs more. A later expiry (a `ttl` of `Infinity` or 1e300 seconds, a cookie dated after
 * year 9999) is rejected with `SESSION_STORE_INVALID_SESSION` before anything is written, rather than
 * acknowledged and then lost.
 */
export const MAX_EXPIRY_MS = Date.UTC(9999, 11, 31, 23, 59, 59, 999);

/**
 * The absolute expiry of `session` in epoch milliseconds: its `cookie.expires` when set (a `Date`, or the ISO
 * string a deserialized session carries), else `now` plus the default TTL in seconds.
 * @throws SessionStoreError `INVALID_OPTION` when a ttl function returns a non-number, `INVALID_SESSION` when the
 * expiry is later than {@link MAX_EXPIRY_MS}
 */
export function resolveExpiry(session: SessionData, ttl: Ttl, now: number): number {
  const fromCookie = cookieExpiry(session);
  if (fromCookie !== null) return bounded(fromCookie);
  const seconds = typeof ttl === 'function' ? ttl(session) : ttl;
  if (typeof seconds !== 'number' || Number.isNaN(seconds)) {
    throw new SessionStoreError(ErrorCode.INVALID_OPTION, `the ttl function returned ${String(seconds)}, not a number of seconds`);
  }
  return bounded(now + Math.round(seconds * 1000));
}

function bounded(expiresAt: number): number {
  if (!(expiresAt <= MAX_EXPIRY_MS)) {
    throw new SessionStoreError(
      ErrorCode.INVALID_SESSION,
      `the session would expire after ${new Date(MAX_EXPIRY_MS).toISOString()}, the latest expiry a store keeps`,
    );
  }
  return expiresAt;
}

/** `cookie.expires` in epoch ms, or null when the cookie has none (a browser-session cookie) or it is unreadable. */
export function cookieExpiry(session: SessionData): number | null {
  const expires: unknown = (session as { cookie?: { expires?: unknown } }).cookie?.expires;
  if (expires === null || expires === undefined || expires === false) return null;
  const ms =
    expires instanceof Date
      ? expires.getTime()
      : typeof expires === 'string' || typeof expires === 'number'
        ? new Date(expires).getTime()
        : NaN;
  return Number.isFinite(ms) ? ms : null;
}

const DAY_MS = 86_400_000;
const TWO_DIGITS = Array.from({ length: 60 }, (_, i) => String(i).padStart(2, '0'));
const THREE_DIGITS = Array.from({ length: 1000 }, (_, i) => String(i).padStart(3, '0'));
/** Day number → its `YYYY-MM-DDT` (a few days are live at once: today's and those sessions expire on). */
const dayPrefixes = new Map<number, string>();

/**
 * `new Date(ms).toISOString()`, the same text, without the Date: the date part of a day is formatted once and
 * kept, the time of day is put together from tables. Expiries are formatted on every read (the cookie patch) and
 * on every write of the stores that keep ISO text, where `toISOString()` costs more than parsing a small session.
 * @throws RangeError for an invalid time value, as `toISOString()` does
 */
export function isoString(ms: number): string {
  const day = Math.floor(ms / DAY_MS);
  let prefix = dayPrefixes.get(day);
  if (prefix === undefined || !Number.isInteger(ms)) {
    const iso = new Date(ms).toISOString();
    // Years outside 0000–9999 (±YYYYYY) and fractional ms (truncated by Date) are not cached.
    if (iso.length !== 24 || !Number.isInteger(ms)) return iso;
    if (dayPrefixes.size >= 64) dayPrefixes.clear();
    dayPrefixes.set(day, iso.slice(0, 11));
    return iso;
  }
  let t = ms - day * DAY_MS;
  const millis = t % 1000;
  t = (t - millis) / 1000;
  const seconds = t % 60;
  t = (t - seconds) / 60;
  const minutes = t % 60;
  return `${prefix}${TWO_DIGITS[(t - minutes) / 60]}:${TWO_DIGITS[minutes]}:${TWO_DIGITS[seconds]}.${THREE_DIGITS[millis]}Z`;
}

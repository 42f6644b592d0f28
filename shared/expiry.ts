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

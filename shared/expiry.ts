import type { SessionData } from 'express-session';
import { ErrorCode, SessionStoreError } from './errors.js';
import type { Ttl } from './types.js';

/**
 * The absolute expiry of `session` in epoch milliseconds: its `cookie.expires` when set (a `Date`, or the ISO
 * string a deserialized session carries), else `now` plus the default TTL in seconds.
 */
export function resolveExpiry(session: SessionData, ttl: Ttl, now: number): number {
  const fromCookie = cookieExpiry(session);
  if (fromCookie !== null) return fromCookie;
  const seconds = typeof ttl === 'function' ? ttl(session) : ttl;
  if (typeof seconds !== 'number' || Number.isNaN(seconds)) {
    throw new SessionStoreError(ErrorCode.INVALID_OPTION, `the ttl function returned ${String(seconds)}, not a number of seconds`);
  }
  return now + Math.round(seconds * 1000);
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

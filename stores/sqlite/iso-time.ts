import { isoString } from '../../shared/expiry.js';

/**
 * The latest instant whose ISO string keeps the fixed `YYYY-MM-DDTHH:MM:SS.sssZ` shape. Later dates become
 * `+010000-…`, which sorts *before* every four-digit year as text and would read as long expired.
 */
export const MAX_ISO_MS = Date.UTC(9999, 11, 31, 23, 59, 59, 999);

/**
 * Epoch ms → the `expire` text better-sqlite3-session-store writes (`Date#toISOString()`). Strings of this fixed
 * shape order like the instants they name, so SQL compares them as plain text and can use an index.
 */
export function toIso(ms: number): string {
  return isoString(Math.min(Math.max(ms, 0), MAX_ISO_MS));
}

/** Stored `expire` text → epoch ms. An unreadable value counts as long expired rather than as eternal. */
export function fromIso(value: unknown): number {
  const ms = typeof value === 'string' ? Date.parse(value) : NaN;
  return Number.isFinite(ms) ? ms : 0;
}

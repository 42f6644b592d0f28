import type { Filter } from 'mongodb';
import type { MongoSessionPayload } from './options.js';

/**
 * One session as connect-mongo lays it out, so either store reads what the other wrote. `expires` is a BSON
 * Date (millisecond precision); connect-mongo adds `lastModified` when `touchAfter` is set, and `createdAt` /
 * `updatedAt` with `timestamps`. A destroyed session is a tombstone `{ _id, session: null, expires }` until its
 * revocation window ends (see `MongoStore`).
 */
export interface SessionDocument {
  _id: string;
  session: MongoSessionPayload;
  expires?: Date;
  lastModified?: Date;
  createdAt?: Date;
  updatedAt?: Date;
  /** The owner id (the store's `owner` option); absent for sessions without one and for tombstones. */
  owner?: string;
}

/** `expires` in epoch ms; a document without one never expires (connect-mongo reads it that way too). */
export function expiryOf(doc: Pick<SessionDocument, 'expires'>): number | null {
  if (doc.expires === undefined || doc.expires === null) return null;
  const ms = new Date(doc.expires).getTime();
  return Number.isFinite(ms) ? ms : null;
}

/**
 * Unexpired sessions at `now`, counting documents without `expires` as unexpired (as `expiryOf` and connect-mongo
 * do), tombstones excluded.
 */
export function unexpired(now: number): Filter<SessionDocument> {
  return { session: { $ne: null }, $or: [{ expires: { $gt: new Date(now) } }, { expires: { $exists: false } }] };
}

/** What a guarded write may replace: anything but a tombstone that has not expired yet at `now`. */
export function replaceable(now: number): Filter<SessionDocument> {
  return { $or: [{ session: { $ne: null } }, { expires: { $lte: new Date(now) } }] };
}

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

import type { MongoSessionPayload } from './options.js';

/**
 * One session as connect-mongo lays it out, so either store reads what the other wrote. `expires` is a BSON
 * Date (millisecond precision); connect-mongo adds `lastModified` when `touchAfter` is set, and `createdAt` /
 * `updatedAt` with `timestamps`.
 */
export interface SessionDocument {
  _id: string;
  session: MongoSessionPayload;
  expires?: Date;
  lastModified?: Date;
  createdAt?: Date;
  updatedAt?: Date;
}

import type { Collection, Filter, UpdateFilter, WriteConcernSettings } from 'mongodb';
import { type SessionDocument, replaceable } from './document.js';

/** An upsert that loses a race on the _id index is retried this many times in all. */
const UPSERT_ATTEMPTS = 3;
/**
 * Attempts of a guarded upsert: its filter skips a tombstone, so the upsert's insert then fails on the _id index.
 * A second failure means a tombstone (a race loser's second attempt finds the winner's session and updates it).
 */
export const GUARDED_ATTEMPTS = 2;

/** Where and how a store writes: its collection, the write concern it was given, connect-mongo's `timestamps`. */
export interface WriteTarget {
  collection: Collection<SessionDocument>;
  writeConcern: WriteConcernSettings | undefined;
  timestamps: boolean;
}

/**
 * What a `set()` did, named as connect-mongo's event for it: created or updated the document; or `'refused'`, a
 * guarded write that met a tombstone whose revocation window has not ended.
 */
export type WriteOutcome = 'create' | 'update' | 'refused';

/** Writes the document `_id` as one upsert of `update` (guarded: its filter skips an unexpired tombstone). */
export async function upsert(
  target: WriteTarget,
  _id: string,
  update: UpdateFilter<SessionDocument>,
  now: number,
  guarded: boolean,
): Promise<WriteOutcome> {
  const filter: Filter<SessionDocument> = guarded ? { _id, ...replaceable(now) } : { _id };
  const attempts = guarded ? GUARDED_ATTEMPTS : UPSERT_ATTEMPTS;
  for (let attempt = 1; ; attempt++) {
    try {
      const result = await target.collection.updateOne(filter, update, { upsert: true, writeConcern: target.writeConcern });
      return result.upsertedCount > 0 ? 'create' : 'update';
    } catch (err) {
      // Two upserts of a new sid racing: both miss, both insert, one loses on the _id index. MongoDB retries
      // that itself since 4.2 (only for a filter on _id alone); FerretDB does not. Again, the loser finds the
      // winner's document and updates it. A guarded upsert that still collides met a tombstone: refused.
      if (!isDuplicateKey(err)) throw err;
      if (attempt >= attempts) {
        if (guarded) return 'refused';
        throw err;
      }
    }
  }
}

/** Replaces the document `_id`, in one upsert, by a tombstone that expires at `until` (the end of the window). */
export async function writeTombstone(target: WriteTarget, _id: string, until: number): Promise<void> {
  // One replace: the session (and its owner field) becomes a tombstone that expires with the window.
  const tombstone = { session: null, expires: new Date(until) } as unknown as SessionDocument;
  for (let attempt = 1; ; attempt++) {
    try {
      await target.collection.replaceOne({ _id }, tombstone, { upsert: true, writeConcern: target.writeConcern });
      return;
    } catch (err) {
      // A concurrent upsert inserted the sid first: replace what it wrote.
      if (!isDuplicateKey(err) || attempt >= UPSERT_ATTEMPTS) throw err;
    }
  }
}

/** Whether `err` is a duplicate key error (E11000) on the `_id` index. */
export function isDuplicateKey(err: unknown): boolean {
  return (err as { code?: unknown } | null)?.code === 11000;
}

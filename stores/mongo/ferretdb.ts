import type { MongoClient, UpdateFilter } from 'mongodb';
import { type SessionDocument, expiryOf } from './document.js';
import { type WriteOutcome, type WriteTarget, isDuplicateKey } from './writes.js';

/**
 * What differs on FerretDB v1: it pushes only `{ _id }` filters down to SQLite (a guarded upsert that inserts would
 * scan the table), and an update reads the document, then rewrites it whole without a condition, so two updates of
 * one document can lose one of them (a touch could write back a session a destroy just replaced by a tombstone).
 * There, MongoStore's guarded writes read first ({@link readThenWrite}), and its writes run one at a time per sid in
 * this process (a `KeyedQueue`).
 */

/** Whether the server is FerretDB (its buildInfo says so); false when buildInfo is not allowed. */
export async function isFerretDB(client: MongoClient): Promise<boolean> {
  try {
    return 'ferretdbVersion' in (await client.db('admin').command({ buildInfo: 1 }));
  } catch {
    return false;
  }
}

/**
 * The guarded write on FerretDB: reads the document by `_id`, then inserts it (none there) or updates it by `_id`
 * (a session, or a tombstone whose window has ended), and refuses an unexpired tombstone. Every step is served by
 * the `_id` index; the guarded update MongoDB gets (`{ _id, ...replaceable }`) would scan the whole collection on
 * FerretDB v1, and did on every re-save (set 5 KB: 0.19x connect-mongo's single upsert). Two round trips; the
 * check and the write are not atomic across processes, and neither is FerretDB v1's own conditional update (see
 * above). A document inserted or deleted between them (another process, pruning, clear) sends the write round
 * again.
 * @param fields the document's fields (`$set` of `update`)
 * @param update the update the upsert would make; its `$setOnInsert` is left out of the update step
 */
export async function readThenWrite(
  target: WriteTarget,
  _id: string,
  fields: Partial<SessionDocument>,
  update: UpdateFilter<SessionDocument>,
  now: number,
): Promise<WriteOutcome> {
  const { collection, writeConcern } = target;
  const { $setOnInsert: _, ...change } = update;
  for (let attempt = 1; attempt <= FERRET_ATTEMPTS; attempt++) {
    const current = await collection.findOne({ _id }, { projection: { session: 1, expires: 1 } });
    if (current) {
      // replaceable(now), checked here: a session, or a tombstone that has expired.
      const expires = expiryOf(current);
      if (current.session == null && !(expires !== null && expires <= now)) return 'refused';
      if ((await collection.updateOne({ _id }, change, { writeConcern })).matchedCount > 0) return 'update';
      continue; // deleted since it was read
    }
    const doc = { _id, ...fields } as SessionDocument;
    if (target.timestamps) doc.createdAt = doc.updatedAt = new Date(now);
    try {
      await collection.insertOne(doc, { writeConcern });
      return 'create';
    } catch (err) {
      if (!isDuplicateKey(err)) throw err; // inserted since it was read: read it again
    }
  }
  return 'refused';
}

/** Rounds of {@link readThenWrite} before it gives up on a document that keeps changing under it. */
const FERRET_ATTEMPTS = 3;

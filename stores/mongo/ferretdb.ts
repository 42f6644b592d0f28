import type { MongoClient, UpdateFilter } from 'mongodb';
import { type SessionDocument, replaceable } from './document.js';
import { GUARDED_ATTEMPTS, type WriteOutcome, type WriteTarget, isDuplicateKey } from './writes.js';

/**
 * What differs on FerretDB v1: it pushes only `{ _id }` filters down to SQLite (a guarded upsert that inserts would
 * scan the table), and an update reads the document, then rewrites it whole without a condition, so two updates of
 * one document can lose one of them (a touch could write back a session a destroy just replaced by a tombstone).
 * There, MongoStore's guarded writes insert first ({@link insertThenUpdate}), and its writes run one at a time per
 * sid in this process (a `KeyedQueue`).
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
 * The guarded write on FerretDB: an insert (a new session, the common case, found by the `_id` index), else the
 * guarded update without upsert, which matches nothing on an unexpired tombstone (refused). Two steps, each
 * atomic; a document deleted between them (pruned, cleared) is inserted again on the next attempt.
 * @param fields the document's fields (`$set` of `update`)
 * @param update the update the upsert would make; its `$setOnInsert` is left out of the update step
 */
export async function insertThenUpdate(
  target: WriteTarget,
  _id: string,
  fields: Partial<SessionDocument>,
  update: UpdateFilter<SessionDocument>,
  now: number,
): Promise<WriteOutcome> {
  const { collection, writeConcern } = target;
  const doc = { _id, ...fields } as SessionDocument;
  if (target.timestamps) doc.createdAt = doc.updatedAt = new Date(now);
  for (let attempt = 1; attempt <= GUARDED_ATTEMPTS; attempt++) {
    try {
      await collection.insertOne(doc, { writeConcern });
      return 'create';
    } catch (err) {
      if (!isDuplicateKey(err)) throw err;
    }
    const { $setOnInsert: _, ...change } = update;
    const result = await collection.updateOne({ _id, ...replaceable(now) }, change, { writeConcern });
    if (result.matchedCount > 0) return 'update';
    const current = await collection.findOne({ _id }, { projection: { session: 1, expires: 1 } });
    if (current) return 'refused'; // an unexpired tombstone
  }
  return 'refused';
}

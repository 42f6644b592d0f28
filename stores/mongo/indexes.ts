import type { Collection } from 'mongodb';
import type { SessionDocument } from './document.js';

/** What `autoRemove: 'native'` ended up with. */
export type ExpiryIndexOutcome =
  /** The server keeps a TTL index on `expires` and deletes expired sessions itself. */
  | { ttl: true }
  /** The server refused TTL indexes (e.g. FerretDB): the store must prune. `error` is set only for unexpected failures. */
  | { ttl: false; error?: unknown };

/** Name of the index on `owner`, created only with the `owner` option. */
const OWNER_INDEX = 'owner_1';

/** Ensures the index `owner_1` on `owner` that `sessionsOf()` queries (the store creates it only with the `owner` option). */
export async function ensureOwnerIndex(collection: Collection<SessionDocument>): Promise<void> {
  await collection.createIndex({ owner: 1 }, { name: OWNER_INDEX });
}

/** MongoDB's NotImplemented / CommandNotSupported codes: what TTL-less MongoDB-compatible servers answer. */
const UNSUPPORTED_CODES = new Set([115, 238]);

/**
 * Ensures the `{ expires: 1 }` TTL index connect-mongo creates (same key, same name, `expireAfterSeconds: 0`,
 * so an index connect-mongo made is reused as is). When the server rejects TTL indexes, an ordinary index on
 * `expires` is created instead so that pruning stays cheap. Never rejects.
 */
export async function ensureExpiryIndex(collection: Collection<SessionDocument>, isClosed: () => boolean): Promise<ExpiryIndexOutcome> {
  try {
    await collection.createIndex({ expires: 1 }, { expireAfterSeconds: 0 });
    return { ttl: true };
  } catch (err) {
    if (isClosed()) return { ttl: false };
    const expected = isUnsupported(err);
    try {
      if (expected) await collection.createIndex({ expires: 1 });
    } catch {
      // Only a speed-up for pruning: sessions are still filtered and pruned without it.
    }
    return expected ? { ttl: false } : { ttl: false, error: err };
  }
}

function isUnsupported(err: unknown): boolean {
  const { code, codeName, message } = (err ?? {}) as { code?: unknown; codeName?: unknown; message?: unknown };
  if (typeof code === 'number' && UNSUPPORTED_CODES.has(code)) return true;
  if (codeName === 'NotImplemented' || codeName === 'CommandNotSupported') return true;
  return typeof message === 'string' && /not (yet )?(implemented|supported)/i.test(message);
}

import type { SessionData } from 'express-session';
import type { Document } from 'mongodb';
import { type Serializer, jsonPayloadSerializer } from '../../shared/serializer.js';
import type { MongoSessionPayload, MongoStoreOptions } from './options.js';

// A Date, as JSON.stringify's replacer sees it (already a string), marked so the reviver can make it a Date again.
const DATE = '$__session_stores_date';

/**
 * The `stringify: false` encoding: the session as a document, with exactly the data `JSON.stringify` would keep
 * (a circular or BigInt session fails as SERIALIZE_FAILED), except that `Date` values stay BSON Dates — user data
 * and `cookie.expires` alike — and read back as `Date`s, as connect-mongo's `stringify: false` stores them. The
 * result shares nothing with the live session.
 *
 * BSON and the server restrict documents where JSON does not: MongoDB rejects field names starting with `$` in
 * some positions, and FerretDB also rejects field names containing `.` and arrays nested directly in arrays.
 * Sessions holding such data need the default `stringify: true`.
 */
export const documentSerializer: Serializer<Document> = {
  stringify(session: SessionData): Document {
    const text = JSON.stringify(session, function (this: Record<string, unknown>, key, value: unknown) {
      return this[key] instanceof Date ? { [DATE]: value } : value;
    });
    const doc = JSON.parse(text, (_key, value: unknown) => {
      const marked = value as Record<string, unknown> | null;
      return typeof marked === 'object' && marked !== null && typeof marked[DATE] === 'string' && Object.keys(marked).length === 1
        ? new Date(marked[DATE])
        : value;
    }) as Document;
    const cookie = doc.cookie as { expires?: unknown } | undefined;
    // A cookie.expires that arrives as text (a session read back from JSON) is stored as a Date all the same.
    if (cookie && typeof cookie.expires === 'string') cookie.expires = new Date(cookie.expires);
    return doc;
  },
  parse(stored: Document): SessionData {
    // A string here was written by a `stringify: true` store sharing the collection: read it rather than lose it.
    return (typeof stored === 'string' ? JSON.parse(stored) : stored) as SessionData;
  },
};

/**
 * connect-mongo's default encoding: `JSON.stringify(session)`. A document found in `session` (written with
 * `stringify: false`) is read as is, so switching `stringify` logs nobody out.
 */
export const stringSerializer: Serializer<MongoSessionPayload> = jsonPayloadSerializer;

/** The serializer the options ask for: `serializer`, else connect-mongo's `serialize`/`unserialize`, else `stringify`. */
export function resolveSerializer(options: MongoStoreOptions): Serializer<MongoSessionPayload> {
  if (options.serializer) return options.serializer;
  if (options.serialize || options.unserialize) {
    return {
      stringify: options.serialize ?? documentSerializer.stringify,
      parse: options.unserialize ?? ((payload) => payload as SessionData),
    };
  }
  return options.stringify === false ? (documentSerializer as Serializer<MongoSessionPayload>) : stringSerializer;
}

import type { SessionData } from 'express-session';
import type { Document } from 'mongodb';
import { type Serializer, jsonPayloadSerializer } from '../../shared/serializer.js';
import type { MongoSessionPayload, MongoStoreOptions } from './options.js';

/**
 * The `stringify: false` encoding: the session as a document, with exactly the data `JSON.stringify` would keep
 * (what every other store and layout keeps, so a session reads back the same whatever the layout; a circular or
 * BigInt session fails as SERIALIZE_FAILED), except `cookie.expires`, stored as a BSON Date as connect-mongo's
 * `stringify: false` stores it. The result shares nothing with the live session.
 *
 * BSON and the server restrict documents where JSON does not: MongoDB rejects field names starting with `$` in
 * some positions, and FerretDB also rejects field names containing `.` and arrays nested directly in arrays.
 * Sessions holding such data need the default `stringify: true`.
 */
export const documentSerializer: Serializer<Document> = {
  stringify(session: SessionData): Document {
    const doc = JSON.parse(JSON.stringify(session)) as Document;
    const cookie = doc.cookie as { expires?: unknown } | undefined;
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

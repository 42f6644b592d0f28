import type { SessionData } from 'express-session';

/**
 * Turns a session into what the backend stores and back. The default is JSON, the format every store we replace
 * writes, so their data stays readable in both directions. `stringify` receives the live express-session
 * `Session`; use `JSON.stringify` semantics (it calls `cookie.toJSON()` and skips non-enumerable fields).
 */
export interface Serializer<Stored = string> {
  stringify(session: SessionData): Stored;
  parse(stored: Stored): SessionData;
}

/** The global `JSON` object itself (as connect-redis' default `serializer`): the incumbents' format. */
export const jsonSerializer: Serializer<string> = JSON as unknown as Serializer<string>;

/** A JSON text, or a session a backend has already parsed (a document, a file it read as an object). */
export type JsonPayload = string | Record<string, unknown>;

/**
 * JSON for backends whose records may also arrive already parsed: writes `JSON.stringify(session)`, reads a
 * string with `JSON.parse` and takes an object as it is (MongoDB's `stringify: false` documents, FileStore's
 * files, which the file format parses once to find its envelope).
 */
export const jsonPayloadSerializer: Serializer<JsonPayload> = {
  stringify: (session) => JSON.stringify(session),
  parse: (stored) => (typeof stored === 'string' ? JSON.parse(stored) : stored) as SessionData,
};

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

/** `JSON.stringify` / `JSON.parse`: the incumbents' format. */
export const jsonSerializer: Serializer<string> = {
  stringify: (session) => JSON.stringify(session),
  parse: (stored) => JSON.parse(stored) as SessionData,
};

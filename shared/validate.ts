import type { SessionData } from 'express-session';
import { ErrorCode, SessionStoreError } from './errors.js';
import { describe } from './options.js';

// C0 controls and DEL: they break file names, log lines and some wire protocols, and no sid generator emits them.
const CONTROL_CHARS = /[\u0000-\u001f\u007f]/;

/** Throws `SESSION_STORE_INVALID_SID` unless `sid` is a non-empty, well-formed string of sane length. */
export function assertSid(sid: unknown, maxLength: number, maxBytes = Infinity): asserts sid is string {
  if (typeof sid !== 'string' || sid.length === 0) {
    throw new SessionStoreError(ErrorCode.INVALID_SID, `sid must be a non-empty string, got ${describe(sid)}`);
  }
  if (sid.length > maxLength) {
    throw new SessionStoreError(ErrorCode.INVALID_SID, `sid is ${sid.length} characters long; the limit is ${maxLength}`);
  }
  // Only long sids can exceed a byte limit: at most 3 UTF-8 bytes per UTF-16 code unit.
  if (sid.length * 3 > maxBytes && Buffer.byteLength(sid, 'utf8') > maxBytes) {
    throw new SessionStoreError(
      ErrorCode.INVALID_SID,
      `sid is ${Buffer.byteLength(sid, 'utf8')} bytes long in UTF-8; this store indexes at most ${maxBytes}`,
    );
  }
  if (CONTROL_CHARS.test(sid)) {
    throw new SessionStoreError(ErrorCode.INVALID_SID, 'sid contains control characters');
  }
  // A lone surrogate has no UTF-8 encoding: two different sids would reach the database as the same bytes.
  if (!sid.isWellFormed()) {
    throw new SessionStoreError(ErrorCode.INVALID_SID, 'sid contains a lone UTF-16 surrogate');
  }
}

/** Throws `SESSION_STORE_INVALID_SESSION` unless `session` is an object. */
export function assertSession(session: unknown): asserts session is SessionData {
  if (session === null || typeof session !== 'object' || Array.isArray(session)) {
    throw new SessionStoreError(ErrorCode.INVALID_SESSION, `session must be an object, got ${describe(session)}`);
  }
}

import type { SessionData } from 'express-session';
import { ErrorCode, SessionStoreError } from './errors.js';
import { cookieExpiry } from './expiry.js';
import type { Serializer } from './serializer.js';
import type { StoredRecord } from './types.js';

/**
 * Sessions to records and back: the serializer, its failures as typed errors, and `cookie.expires` aligned with
 * the stored expiry on the way out (so a touched session reads back touched). The only place a session's
 * encoding is handled; backends see the serializer's output only.
 */
export class Codec<Stored> {
  constructor(
    private readonly serializer: Serializer<Stored>,
    private readonly onDecodeError: 'miss' | 'error',
    private readonly report: (err: SessionStoreError) => void,
  ) {}

  /** @throws SessionStoreError `SERIALIZE_FAILED` */
  encode(session: SessionData): Stored {
    let data: Stored;
    try {
      data = this.serializer.stringify(session);
    } catch (cause) {
      throw new SessionStoreError(
        ErrorCode.SERIALIZE_FAILED,
        `the session could not be serialized: ${(cause as Error)?.message ?? cause}`,
        {
          cause,
        },
      );
    }
    if (data === undefined) throw new SessionStoreError(ErrorCode.SERIALIZE_FAILED, 'the serializer returned undefined');
    return data;
  }

  /**
   * The session of `record`, or null when it cannot be decoded: then `'miss'` reports the error (an `'error'`
   * event) and `'error'` throws `DECODE_FAILED`.
   */
  decode(sid: string, record: StoredRecord<Stored>, onError = this.onDecodeError): SessionData | null {
    let session: unknown;
    let cause: unknown;
    try {
      session = this.serializer.parse(record.data);
    } catch (err) {
      cause = err;
    }
    if (session === null || typeof session !== 'object' || Array.isArray(session)) {
      const err = new SessionStoreError(
        ErrorCode.DECODE_FAILED,
        `the stored session ${JSON.stringify(sid.slice(0, 64))} could not be decoded`,
        {
          cause,
        },
      );
      if (onError === 'error') throw err;
      this.report(err);
      return null;
    }
    const data = session as SessionData;
    if (record.expiresAt !== null && cookieExpiry(data) !== null) {
      const cookie = data.cookie as unknown as { expires: string | Date };
      // The type the serializer gave back (a Date from a document store, else the ISO text JSON carries).
      cookie.expires = cookie.expires instanceof Date ? new Date(record.expiresAt) : new Date(record.expiresAt).toISOString();
    }
    return data;
  }
}

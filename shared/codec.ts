import type { SessionData } from 'express-session';
import { ErrorCode, SessionStoreError } from './errors.js';
import { cookieExpiry, isoString } from './expiry.js';
import { type Encryption, isSealed, type SealedRecord } from './encryption.js';
import type { HashedIds } from './hashed-ids.js';
import { type Serializer, jsonPayloadSerializer, jsonSerializer } from './serializer.js';
import type { StoredRecord } from './types.js';

/**
 * Sessions to records and back: the serializer, its failures as typed errors, and `cookie.expires` aligned with
 * the stored expiry on the way out (so a touched session reads back touched). The only place a session's
 * encoding is handled; backends see the serializer's output only. With encryption, the session's JSON is sealed
 * for its sid and the serializer stores the sealed record instead (see {@link Encryption}).
 */
export class Codec<Stored> {
  constructor(
    private readonly serializer: Serializer<Stored>,
    private readonly onDecodeError: 'miss' | 'error',
    private readonly report: (err: SessionStoreError) => void,
    private readonly encryption?: Encryption,
    private readonly hashed?: HashedIds,
  ) {
    this.#json =
      encryption !== undefined && (serializer === (jsonSerializer as unknown) || serializer === (jsonPayloadSerializer as unknown));
  }

  /**
   * Encryption with a JSON serializer: sealed records are written and read without a JSON pass over the sealed text
   * (without encryption there is no sealed record to look for, and reads go straight to the serializer).
   */
  readonly #json: boolean;

  /**
   * @param key the key the record is stored under: with hashed ids and encryption, the sid is sealed into the
   * record for that key, so that `all()` and `ids()` can give it back
   * @throws SessionStoreError `SERIALIZE_FAILED`
   */
  encode(sid: string, session: SessionData, key = sid): Stored {
    let data: Stored;
    try {
      data = this.encryption ? this.#seal(sid, session, key) : this.serializer.stringify(session);
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
    return this.#decode(record, onError, () => sid)?.session ?? null;
  }

  /**
   * For listings: the sid that the record stored under `key` belongs to, and its session. With hashed ids the sid
   * is known only from the record (sealed in it, with encryption): `sid` is undefined for a record that does not
   * say, and a record whose sealed sid fails authentication is not decoded. Without hashed ids, `sid` is `key`.
   */
  entry(
    key: string,
    record: StoredRecord<Stored>,
    onError: 'miss' | 'error' = 'miss',
  ): { sid: string | undefined; session: SessionData } | null {
    return this.#decode(record, onError, (parsed) => this.#sidOf(key, parsed));
  }

  #decode(
    record: StoredRecord<Stored>,
    onError: 'miss' | 'error',
    sidOf: (parsed: unknown) => string | undefined,
  ): { sid: string | undefined; session: SessionData } | null {
    let session: unknown;
    let cause: unknown;
    let sid: string | undefined;
    try {
      const parsed = (this.#json && parseSealedJson(record.data)) || this.serializer.parse(record.data);
      sid = sidOf(parsed);
      session = this.#unseal(sid, parsed);
    } catch (err) {
      cause = err;
      session = undefined;
    }
    if (session === null || typeof session !== 'object' || Array.isArray(session)) {
      const name = sid === undefined ? 'a stored session' : `the stored session ${JSON.stringify(sid.slice(0, 64))}`;
      const err = new SessionStoreError(ErrorCode.DECODE_FAILED, `${name} could not be decoded`, { cause });
      if (onError === 'error') throw err;
      this.report(err);
      return null;
    }
    const data = session as SessionData;
    if (record.expiresAt !== null) {
      const cookie = (data as { cookie?: { expires?: unknown } }).cookie;
      const expires = cookie?.expires;
      if (typeof expires === 'string') {
        // The ISO text JSON carries; a session read back untouched already says the stored expiry.
        const iso = isoString(record.expiresAt);
        if (expires !== iso && cookieExpiry(data) !== null) cookie!.expires = iso;
      } else if (cookieExpiry(data) !== null) {
        // A Date from a document store stays a Date.
        cookie!.expires = expires instanceof Date ? new Date(record.expiresAt) : isoString(record.expiresAt);
      }
    }
    return { sid, session: data };
  }

  /** The sid of a parsed record stored under `key` (see {@link entry}). */
  #sidOf(key: string, parsed: unknown): string | undefined {
    if (!this.hashed) return key;
    if (isSealed(parsed) && typeof parsed.id === 'string') return this.encryption?.open(key, parsed.id);
    // Migrating from plain sids: a record that names no sid was stored under the sid itself.
    return this.hashed.migrate ? key : undefined;
  }

  /**
   * The record that stands for `session` when encryption is on: its JSON sealed for `sid`, plus its cookie, through
   * the serializer. With the JSON serializers the record's JSON is written directly (the same text
   * `JSON.stringify` gives): a sealed string needs no escaping, and the cookie's JSON is used as it is, instead of
   * scanning the whole sealed text again.
   */
  #seal(sid: string, session: SessionData, key: string): Stored {
    const sealed = this.encryption!.seal(sid, JSON.stringify(session));
    // Sealed for the key it is stored under: moved to another key, it no longer authenticates.
    const id = key === sid ? undefined : this.encryption!.seal(key, sid);
    // The cookie's JSON view (a Cookie's toJSON), without parsing the whole session back.
    const cookie = JSON.stringify((session as { cookie?: unknown }).cookie) as string | undefined;
    if (this.#json) {
      return `{"sealed":"${sealed}"${id === undefined ? '' : `,"id":"${id}"`}${cookie === undefined ? '' : `,"cookie":${cookie}`}}` as Stored;
    }
    const record: SealedRecord = { sealed };
    if (id !== undefined) record.id = id;
    if (cookie !== undefined) record.cookie = JSON.parse(cookie) as unknown;
    return this.serializer.stringify(record as unknown as SessionData);
  }

  /** The session a parsed record holds: decrypted when sealed; plaintext only where encryption allows it. */
  #unseal(sid: string | undefined, parsed: unknown): unknown {
    if (isSealed(parsed)) {
      if (!this.encryption) throw new Error('the record is encrypted and the store has no encryption keys');
      if (sid === undefined) throw new Error('the record does not say which sid it belongs to');
      return JSON.parse(this.encryption.open(sid, parsed.sealed));
    }
    if (this.encryption && !this.encryption.allowPlaintext) {
      throw new Error('the record is not encrypted (set encryption.allowPlaintext while migrating)');
    }
    return parsed;
  }
}

const SEALED_PREFIX = '{"sealed":"';
const ID_FIELD = ',"id":"';

/**
 * The sealed string (and sealed sid) of a JSON record that {@link Codec} wrote, read without parsing the record:
 * its sealed text is most of it, and the rest (the cookie in clear) is not needed to open it. Anything else
 * (another layout, a parsed object, a plaintext session) gives undefined, for the serializer to parse.
 */
export function parseSealedJson(data: unknown): SealedRecord | undefined {
  if (typeof data !== 'string' || !data.startsWith(SEALED_PREFIX) || !data.endsWith('}')) return undefined;
  const end = data.indexOf('"', SEALED_PREFIX.length);
  if (end < 0) return undefined;
  const sealed = data.slice(SEALED_PREFIX.length, end);
  // An escape (never in what seal() writes) is left to JSON.parse.
  if (sealed.includes('\\')) return undefined;
  if (!data.startsWith(ID_FIELD, end + 1)) return { sealed };
  const idEnd = data.indexOf('"', end + 1 + ID_FIELD.length);
  if (idEnd < 0) return undefined;
  const id = data.slice(end + 1 + ID_FIELD.length, idEnd);
  return id.includes('\\') ? undefined : { sealed, id };
}

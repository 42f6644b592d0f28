import type { SessionData } from 'express-session';
import { isoString } from '../../shared/expiry.js';
import type { Sealer } from '../../shared/kruptein.js';
import type { Ttl } from '../../shared/types.js';

/**
 * The file format, and session-file-store's expiry rule that goes with it. session-file-store writes
 * `JSON.stringify({ ...session, __lastAccess })` and computes the expiry when reading:
 * `__lastAccess + (cookie.originalMaxAge || ttl)` (sliding). We write the same object and append our exact expiry:
 *
 * ```json
 * {"cookie":{…},"n":1,"__lastAccess":1767225600000,"__expires":1767229200000,"__writtenAt":1767225600000}
 * ```
 *
 * session-file-store ignores the extra fields, but it copies them along when it rewrites a session it loaded
 * (express-session keeps every property), with a fresh `__lastAccess`. So `__expires` is trusted only while
 * `__writtenAt === __lastAccess` (nobody else rewrote the file); otherwise session-file-store's own rule applies.
 * `__sid` holds the sid of hashed file names.
 *
 * With a custom serializer (whose output need not be a JSON object), the payload is wrapped instead:
 * `{"__payload":"<serialized>","__lastAccess":…,"__expires":…,"__writtenAt":…}`.
 *
 * A file that parses but has no `__lastAccess` was written by neither store (a `package.json` in a shared
 * directory): it is not a session, so it is never returned, listed or deleted.
 *
 * A **tombstone** (revocation) is a file holding JSON `null` (through the custom `encoder` when there is one), whose
 * mtime is the end of its revocation window: session-file-store reads it as an expired session (no session).
 *
 * With session-file-store's `secret`, every file (tombstones included) is the text above encrypted in its kruptein
 * format (see `shared/kruptein.ts`).
 */

/** A parsed session file. */
export interface SessionFile {
  /** The session object without envelope fields (with a custom serializer, the wrapper's rest). */
  session: Record<string, unknown>;
  /** The serialized payload of a wrapped (custom serializer) file. */
  payload: string | undefined;
  /** `__lastAccess`. */
  lastAccess: number;
  /** Our exact expiry, only when the file was last written by us. */
  expires: number | undefined;
  /** `__sid`, stored in files with hashed names. */
  sid: unknown;
}

/**
 * What a file holds: a session, text that is not JSON (`'damaged'`), JSON that is no session (`'foreign'`), or
 * JSON `null`: a tombstone left by `destroy()` with revocation on (`'tombstone'`; it lasts until the file's mtime).
 */
export type ParsedFile = SessionFile | 'damaged' | 'foreign' | 'tombstone';

/** The text of a session file. `merge`: `data` is a JSON object text (default serializer) to splice into. */
export function composeFile(data: string, expiresAt: number, now: number, merge: boolean, sid?: string): string {
  let envelope = `"__lastAccess":${now},"__expires":${expiresAt},"__writtenAt":${now}`;
  if (sid !== undefined) envelope += `,"__sid":${JSON.stringify(sid)}`;
  if (!merge) return `{"__payload":${JSON.stringify(data)},${envelope}}`;
  // `data` comes from JSON.stringify of an object: insert before its closing brace instead of re-encoding it.
  return data === '{}' ? `{${envelope}}` : `${data.slice(0, -1)},${envelope}}`;
}

/** The text of a session file holding the already-parsed `file`, with a new expiry (a touch). */
export function recomposeFile(file: SessionFile, wrapped: boolean, expiresAt: number, now: number, sid?: string): string {
  const cookie = file.session.cookie as { expires?: unknown } | undefined;
  // Keep the stored cookie in step for session-file-store and human readers (our reads patch it anyway).
  if (!wrapped && cookie && typeof cookie === 'object' && cookie.expires != null) cookie.expires = isoString(expiresAt);
  const data = wrapped && file.payload !== undefined ? file.payload : JSON.stringify(file.session);
  return composeFile(data, expiresAt, now, !wrapped, sid);
}

/** Whether `data` can be spliced into by {@link composeFile} (JSON.stringify output of an object). */
export function isObjectText(data: string): boolean {
  return data.length >= 2 && data.charCodeAt(0) === 123 /* { */ && data.charCodeAt(data.length - 1) === 125; /* } */
}

/**
 * Parses a session file. `wrapped`: the store uses a custom serializer (take `__payload`); `hashed`: the name is
 * a hash (take `__sid`). Otherwise those two keys are ordinary session data.
 */
export function parseFile(text: string, wrapped: boolean, hashed: boolean): ParsedFile {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return 'damaged';
  }
  return parseObject(parsed, wrapped, hashed);
}

/** {@link parseFile} of a file already decoded (by session-file-store's `decoder` option). */
export function parseObject(parsed: unknown, wrapped: boolean, hashed: boolean): ParsedFile {
  if (parsed === null) return 'tombstone';
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) return 'foreign';
  const { __lastAccess, __expires, __writtenAt, ...session } = parsed as Record<string, unknown>;
  if (typeof __lastAccess !== 'number' || !Number.isFinite(__lastAccess)) return 'foreign';
  const payload = wrapped ? take(session, '__payload') : undefined;
  const sid = hashed ? take(session, '__sid') : undefined;
  const trusted = typeof __expires === 'number' && Number.isFinite(__expires) && __writtenAt === __lastAccess;
  return {
    session,
    payload: typeof payload === 'string' ? payload : undefined,
    lastAccess: __lastAccess,
    expires: trusted ? __expires : undefined,
    sid,
  };
}

/** What the store hands the serializer: the session object itself, or the wrapped payload. */
export function payloadOf(file: SessionFile, wrapped: boolean): string | Record<string, unknown> {
  return wrapped && file.payload !== undefined ? file.payload : file.session;
}

/**
 * When the session in `file` expires (epoch ms): our `__expires` when we wrote the file last; else
 * session-file-store's rule: expired once `__lastAccess + (cookie.originalMaxAge || ttl) < now` (so the first
 * expired instant is that sum + 1 ms), and at once when that lifetime is 0.
 */
export function fileExpiry(file: SessionFile, ttl: Ttl): number {
  if (file.expires !== undefined) return file.expires;
  const maxAge = (file.session.cookie as { originalMaxAge?: unknown } | undefined)?.originalMaxAge;
  const seconds = typeof ttl === 'function' ? ttl(file.session as unknown as SessionData) : ttl;
  const lifetime = maxAge ? Number(maxAge) : seconds * 1000;
  if (!lifetime || !Number.isFinite(lifetime)) return 0;
  return file.lastAccess + lifetime + 1;
}

function take(object: Record<string, unknown>, key: string): unknown {
  const value = object[key];
  delete object[key];
  return value;
}

/** session-file-store's `encoder` / `decoder` / `encoding` options: how a whole file is turned into bytes and back. */
export interface FileEncoding {
  /** The file object (session plus envelope) to what is written. Default `JSON.stringify`. */
  encoder?: (file: Record<string, unknown>) => string | Uint8Array;
  /** What was read (a string in `encoding`, or a Buffer when `encoding` is null) back to the file object. */
  decoder?: (data: string | Buffer) => unknown;
  /** Text encoding of the file; `null` reads and writes Buffers. Default `'utf8'`. */
  encoding?: BufferEncoding | null;
}

/**
 * The whole file format for one store: JSON by default (spliced without re-encoding, see {@link composeFile}), or
 * session-file-store's custom `encoder`/`decoder` around the same object.
 */
export class FileFormat {
  readonly #custom: boolean;

  constructor(
    private readonly wrapped: boolean,
    private readonly encoding: Required<FileEncoding>,
    private readonly sealer?: Sealer,
  ) {
    this.#custom = encoding.encoder !== JSON.stringify || encoding.decoder !== (JSON.parse as unknown) || encoding.encoding !== 'utf8';
  }

  /** The file's contents; `'damaged'` when they cannot be decoded (or decrypted). */
  async read(bytes: Buffer, hashed: boolean): Promise<ParsedFile> {
    if (!this.sealer) return this.#read(bytes, hashed);
    let text: string;
    try {
      text = await this.sealer.open(bytes.toString('utf8'));
    } catch {
      return 'damaged';
    }
    return this.#read(Buffer.from(text, 'utf8'), hashed);
  }

  /** Whether files are encrypted (session-file-store's `secret`): then only {@link read}, not {@link parse}, reads them. */
  get sealed(): boolean {
    return this.sealer !== undefined;
  }

  /** {@link read} of an unencrypted file, synchronously (for a pooled buffer that is reused once this returns). */
  parse(bytes: Buffer, hashed: boolean): ParsedFile {
    return this.#read(bytes, hashed);
  }

  /** What to hand the serializer for a damaged file, so that it fails to decode (never a ciphertext that parses). */
  unreadable(bytes: Buffer): string {
    return this.sealer ? '!the file could not be decrypted' : bytes.toString('utf8');
  }

  #read(bytes: Buffer, hashed: boolean): ParsedFile {
    if (!this.#custom) return parseFile(bytes.toString('utf8'), this.wrapped, hashed);
    let parsed: unknown;
    try {
      // A copy for a decoder of raw bytes: the store reuses its read buffers.
      parsed = this.encoding.decoder(this.encoding.encoding === null ? Buffer.from(bytes) : bytes.toString(this.encoding.encoding));
    } catch {
      return 'damaged';
    }
    return parseObject(parsed, this.wrapped, hashed);
  }

  /** A file for a session the serializer turned into `data`. */
  write(data: string, expiresAt: number, now: number, sid?: string): Promise<string | Uint8Array> {
    const merge = !this.wrapped && isObjectText(data);
    if (!this.#custom) return this.#seal(composeFile(data, expiresAt, now, merge, sid));
    const body: Record<string, unknown> = merge ? (JSON.parse(data) as Record<string, unknown>) : { __payload: data };
    return this.#seal(this.#encode(Object.assign(body, envelope(expiresAt, now, sid))));
  }

  /** The file of an already-read session with a new expiry (a touch). */
  rewrite(file: SessionFile, expiresAt: number, now: number, sid?: string): Promise<string | Uint8Array> {
    if (!this.#custom) return this.#seal(recomposeFile(file, this.wrapped, expiresAt, now, sid));
    const cookie = file.session.cookie as { expires?: unknown } | undefined;
    if (!this.wrapped && cookie && typeof cookie === 'object' && cookie.expires != null) cookie.expires = isoString(expiresAt);
    const body = this.wrapped && file.payload !== undefined ? { ...file.session, __payload: file.payload } : { ...file.session };
    return this.#seal(this.#encode(Object.assign(body, envelope(expiresAt, now, sid))));
  }

  /** The contents of a tombstone: `null`, encoded as sessions are. */
  tombstone(): Promise<string | Uint8Array> {
    // A custom encoder gets null too, so that session-file-store's matching decoder reads it back.
    return this.#seal(this.#custom ? this.#encode(null as unknown as Record<string, unknown>) : 'null');
  }

  /** The file's text encrypted with session-file-store's `secret`, when there is one. */
  async #seal(out: string | Uint8Array): Promise<string | Uint8Array> {
    return this.sealer ? this.sealer.seal(typeof out === 'string' ? out : Buffer.from(out).toString('utf8')) : out;
  }

  #encode(file: Record<string, unknown>): string | Uint8Array {
    const out = this.encoding.encoder(file);
    return typeof out === 'string' && this.encoding.encoding !== null && this.encoding.encoding !== 'utf8'
      ? Buffer.from(out, this.encoding.encoding)
      : out;
  }
}

function envelope(expiresAt: number, now: number, sid?: string): Record<string, unknown> {
  return sid === undefined
    ? { __lastAccess: now, __expires: expiresAt, __writtenAt: now }
    : { __lastAccess: now, __expires: expiresAt, __writtenAt: now, __sid: sid };
}

/**
 * The file format. session-file-store writes `JSON.stringify({ ...session, __lastAccess })` and computes the
 * expiry when reading: `__lastAccess + (cookie.originalMaxAge || ttl)` (sliding). We write the same object and
 * append our exact expiry:
 *
 * ```json
 * {"cookie":{…},"n":1,"__lastAccess":1767225600000,"__expires":1767229200000,"__writtenAt":1767225600000}
 * ```
 *
 * session-file-store ignores the extra fields, but it copies them along when it rewrites a session it loaded
 * (express-session keeps every property), with a fresh `__lastAccess`. So `__expires` is trusted only while
 * `__writtenAt === __lastAccess` (nobody else rewrote the file); otherwise, and for files without `__expires`,
 * session-file-store's own rule applies. `__sid` holds the sid of hashed file names.
 *
 * With a custom serializer (whose output need not be a JSON object), the payload is wrapped instead:
 * `{"__payload":"<serialized>","__lastAccess":…,"__expires":…,"__writtenAt":…}`.
 */

/** A parsed session file. */
export interface SessionFile {
  /** The session object without envelope fields (a JSON object; with a custom serializer, the wrapper's rest). */
  session: Record<string, unknown>;
  /** The serialized payload of a wrapped (custom serializer) file. */
  payload: string | undefined;
  /** `__lastAccess` when it is a finite number. */
  lastAccess: number | undefined;
  /** Our exact expiry, only when the file was last written by us. */
  expires: number | undefined;
  /** `__sid`, stored in files with hashed names. */
  sid: unknown;
}

/** The text of a session file. `merge`: `data` is a JSON object text (default serializer) to splice into. */
export function composeFile(data: string, expiresAt: number, now: number, merge: boolean, sid?: string): string {
  let envelope = `"__lastAccess":${now},"__expires":${expiresAt},"__writtenAt":${now}`;
  if (sid !== undefined) envelope += `,"__sid":${JSON.stringify(sid)}`;
  if (!merge) return `{"__payload":${JSON.stringify(data)},${envelope}}`;
  // `data` comes from JSON.stringify of an object: insert before its closing brace instead of re-encoding it.
  return data === '{}' ? `{${envelope}}` : `${data.slice(0, -1)},${envelope}}`;
}

/** Whether `data` can be spliced into by {@link composeFile} (JSON.stringify output of an object). */
export function isObjectText(data: string): boolean {
  return data.length >= 2 && data.charCodeAt(0) === 123 /* { */ && data.charCodeAt(data.length - 1) === 125; /* } */
}

/**
 * Parses a session file; null when it is not a JSON object (a foreign or damaged file). `wrapped`: the store
 * uses a custom serializer (take `__payload`); `hashed`: the name is a hash (take `__sid`). Otherwise those two
 * keys are ordinary session data.
 */
export function parseFile(text: string, wrapped: boolean, hashed: boolean): SessionFile | null {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return null;
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) return null;
  const { __lastAccess, __expires, __writtenAt, ...session } = parsed as Record<string, unknown>;
  const payload = wrapped ? take(session, '__payload') : undefined;
  const sid = hashed ? take(session, '__sid') : undefined;
  const lastAccess = typeof __lastAccess === 'number' && Number.isFinite(__lastAccess) ? __lastAccess : undefined;
  const trusted = typeof __expires === 'number' && Number.isFinite(__expires) && lastAccess !== undefined && __writtenAt === lastAccess;
  return {
    session,
    payload: typeof payload === 'string' ? payload : undefined,
    lastAccess,
    expires: trusted ? (__expires as number) : undefined,
    sid,
  };
}

function take(object: Record<string, unknown>, key: string): unknown {
  const value = object[key];
  delete object[key];
  return value;
}

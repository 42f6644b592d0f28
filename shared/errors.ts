/**
 * Stable error codes. Messages may change between releases; codes may not.
 */
export const ErrorCode = {
  /** The sid is not a non-empty, well-formed string without control characters, or is too long. */
  INVALID_SID: 'SESSION_STORE_INVALID_SID',
  /** The session is not an object. */
  INVALID_SESSION: 'SESSION_STORE_INVALID_SESSION',
  /** The serializer could not encode the session (circular structure, BigInt, …). */
  SERIALIZE_FAILED: 'SESSION_STORE_SERIALIZE_FAILED',
  /** A stored record could not be decoded (only raised with `onDecodeError: 'error'`). */
  DECODE_FAILED: 'SESSION_STORE_DECODE_FAILED',
  /** A store option is invalid, or a TTL function returned something that is not a number. */
  INVALID_OPTION: 'SESSION_STORE_INVALID_OPTION',
  /** The method was called after `close()`. */
  CLOSED: 'SESSION_STORE_CLOSED',
  /** The store cannot do this (see `store.supports`). */
  NOT_SUPPORTED: 'SESSION_STORE_NOT_SUPPORTED',
  /** The database or file system failed; the driver's error is the `cause`. */
  BACKEND: 'SESSION_STORE_BACKEND',
  /** The operation did not complete within `operationTimeoutMs` (a frozen server, a lost network, a full pool). */
  TIMEOUT: 'SESSION_STORE_TIMEOUT',
} as const;

/** One of the {@link ErrorCode} values. */
export type ErrorCodeValue = (typeof ErrorCode)[keyof typeof ErrorCode];

/**
 * The one error type every store in this package rejects with. Switch on `code`, not on the message.
 * The underlying error (driver, serializer, file system), when there is one, is kept as `cause`.
 */
export class SessionStoreError extends Error {
  override readonly name = 'SessionStoreError';
  readonly code: ErrorCodeValue;

  constructor(code: ErrorCodeValue, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

/** True when `err` is a {@link SessionStoreError}, optionally with the given code. */
export function isSessionStoreError(err: unknown, code?: ErrorCodeValue): err is SessionStoreError {
  return err instanceof SessionStoreError && (code === undefined || err.code === code);
}

/** Wraps a driver or file-system error, leaving our own errors untouched. (Internal: not exported from the root.) */
export function backendError(err: unknown, operation: string): SessionStoreError {
  if (err instanceof SessionStoreError) return err;
  const detail = err instanceof Error ? err.message : String(err);
  return new SessionStoreError(ErrorCode.BACKEND, `${operation} failed: ${detail}`, { cause: err });
}

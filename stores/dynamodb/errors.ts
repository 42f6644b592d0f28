// What the AWS SDK's failures say about the server (see SessionStore._diagnose).

import { SOCKET_ERROR_CODES } from '../../shared/network-errors.js';

// The SDK's names for a request that took too long (its own timeouts, or our abort signal).
const TIMEOUT_NAMES = new Set(['TimeoutError', 'AbortError', 'RequestTimeout', 'RequestTimeoutException', 'ETIMEDOUT']);

function codeOf(err: unknown): string | undefined {
  const e = err as { code?: unknown; errno?: unknown } | null;
  if (typeof e?.code === 'string') return e.code;
  return typeof e?.errno === 'string' ? e.errno : undefined;
}

function isNetworkError(err: unknown, depth = 0): boolean {
  if (err === null || typeof err !== 'object' || depth > 3) return false;
  const code = codeOf(err);
  // Socket-level failures: the endpoint is unreachable or the connection died (ETIMEDOUT is a timeout here).
  if (code !== undefined && SOCKET_ERROR_CODES.has(code)) return true;
  const e = err as { errors?: unknown; cause?: unknown };
  // Node reports a refused dual-stack connect as an AggregateError of per-address errors.
  if (Array.isArray(e.errors) && e.errors.some((x) => isNetworkError(x, depth + 1))) return true;
  return e.cause !== undefined && isNetworkError(e.cause, depth + 1);
}

/**
 * `'unreachable'` for socket errors (connection refused or reset: the server is gone), `'unsure'` for timeouts and
 * 5xx answers (it may only be slow or briefly failing), `undefined` for an error about one request (a condition
 * that failed, a validation error, throttling after the SDK's retries: the server answered).
 */
export function diagnose(err: unknown): 'unreachable' | 'unsure' | undefined {
  if (isNetworkError(err)) return 'unreachable';
  const e = err as { name?: unknown; code?: unknown; $metadata?: { httpStatusCode?: number } } | null;
  if (typeof e?.name === 'string' && TIMEOUT_NAMES.has(e.name)) return 'unsure';
  if (codeOf(err) === 'ETIMEDOUT') return 'unsure';
  const status = e?.$metadata?.httpStatusCode;
  return typeof status === 'number' && status >= 500 ? 'unsure' : undefined;
}

/** The error a `ConditionExpression` that did not hold is reported with. */
export function isConditionFailed(err: unknown): boolean {
  return (err as { name?: unknown } | null)?.name === 'ConditionalCheckFailedException';
}

/** Whether `err` is the SDK's answer to a request naming a table (or index) that does not exist. */
export function isNotFound(err: unknown): boolean {
  return (err as { name?: unknown } | null)?.name === 'ResourceNotFoundException';
}

/** Whether the server does not implement an operation (local implementations lacking UpdateTimeToLive). */
export function isUnknownOperation(err: unknown): boolean {
  const name = (err as { name?: unknown } | null)?.name;
  return name === 'UnknownOperationException' || name === 'UnrecognizedClientException' || name === 'NotImplementedException';
}

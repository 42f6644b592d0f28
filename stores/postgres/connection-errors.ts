import { SOCKET_ERROR_CODES } from '../../shared/network-errors.js';

// Socket-level failures: the server is unreachable or the connection died under us (a connect timeout included).
const NETWORK_CODES = new Set([...SOCKET_ERROR_CODES, 'ETIMEDOUT']);

// SQLSTATEs meaning "the server is going away or not accepting connections": admin_shutdown, crash_shutdown,
// cannot_connect_now (starting up, shutting down, in recovery), too_many_connections is *not* here: the server is up.
const SERVER_GONE_STATES = new Set(['57P01', '57P02', '57P03']);

// node-postgres reports a dead connection with plain Errors whose only mark is the message.
const GONE_MESSAGES = ['Connection terminated', 'Client has encountered a connection error', 'Connection ended', 'connect ECONNREFUSED'];

// pg-pool's answer when no connection could be had in time: every connection is held by the application (busy,
// not down), or a new one could not be opened within connectionTimeoutMillis (maybe down).
const POOL_TIMEOUT = 'timeout exceeded when trying to connect';

/** What `err` says about the server (see `SessionStore._diagnose`). */
export function diagnose(err: unknown): 'unreachable' | 'unsure' | undefined {
  if (isConnectionError(err)) return 'unreachable';
  const message = (err as { message?: unknown } | null)?.message;
  return typeof message === 'string' && message.includes(POOL_TIMEOUT) ? 'unsure' : undefined;
}

/**
 * Whether `err` says the connection or the server is gone (rather than that one query was wrong): a connection
 * that failed so is destroyed rather than returned to the pool, and the store reports `'disconnect'`.
 */
export function isConnectionError(err: unknown): boolean {
  if (err === null || typeof err !== 'object') return false;
  const e = err as { code?: unknown; message?: unknown; errors?: unknown };
  if (typeof e.code === 'string') {
    if (NETWORK_CODES.has(e.code) || SERVER_GONE_STATES.has(e.code) || e.code.startsWith('08')) return true;
  }
  // Node reports a refused dual-stack connect as an AggregateError of per-address errors.
  if (Array.isArray(e.errors) && e.errors.some(isConnectionError)) return true;
  return typeof e.message === 'string' && GONE_MESSAGES.some((m) => (e.message as string).includes(m));
}

import { SOCKET_ERROR_CODES } from '../../shared/network-errors.js';

// Socket-level failures: the server is unreachable or the connection died under us (a connect timeout included).
const NETWORK_CODES = new Set([
  ...SOCKET_ERROR_CODES,
  'ETIMEDOUT',
  // mysql2's names for a connection that the server closed or that can no longer be used.
  'PROTOCOL_CONNECTION_LOST',
  'PROTOCOL_SEQUENCE_TIMEOUT',
  'PROTOCOL_ENQUEUE_AFTER_FATAL_ERROR',
  'PROTOCOL_ENQUEUE_AFTER_QUIT',
  // Server errors meaning "going away": shutdown in progress (1053), connection killed (MariaDB 1927), server
  // gone / lost during query (client codes 2006, 2013).
  'ER_SERVER_SHUTDOWN',
  'ER_CONNECTION_KILLED',
  'CR_SERVER_GONE_ERROR',
  'CR_SERVER_LOST',
]);

// errno values of the same (for errors whose `code` mysql2 did not name).
const GONE_ERRNOS = new Set([1053, 1927, 2006, 2013, 4031]);

// mysql2 reports some dead-connection states with plain Errors whose only mark is the message.
const GONE_MESSAGES = [
  "Can't add new command when connection is in closed state",
  'Connection lost',
  'connect ECONNREFUSED',
  'read ECONNRESET',
];

// Pool saturation (busy, not down) or a connection that could not be opened in time (maybe down).
const UNSURE_CODES = new Set(['ER_CON_COUNT_ERROR', 'ER_TOO_MANY_USER_CONNECTIONS']);
const UNSURE_MESSAGES = ['Queue limit reached', 'No connections available'];

/** What `err` says about the server (see `SessionStore._diagnose`). */
export function diagnose(err: unknown): 'unreachable' | 'unsure' | undefined {
  if (isConnectionError(err)) return 'unreachable';
  if (err === null || typeof err !== 'object') return undefined;
  const e = err as { code?: unknown; message?: unknown };
  if (typeof e.code === 'string' && UNSURE_CODES.has(e.code)) return 'unsure';
  return typeof e.message === 'string' && UNSURE_MESSAGES.some((m) => (e.message as string).includes(m)) ? 'unsure' : undefined;
}

/**
 * Whether `err` says the connection or the server is gone (rather than that one statement was wrong): the store
 * reports `'disconnect'` and destroys a connection it holds rather than reusing it.
 */
export function isConnectionError(err: unknown): boolean {
  if (err === null || typeof err !== 'object') return false;
  const e = err as { code?: unknown; errno?: unknown; message?: unknown; errors?: unknown; fatal?: unknown };
  if (typeof e.code === 'string' && NETWORK_CODES.has(e.code)) return true;
  if (typeof e.errno === 'number' && GONE_ERRNOS.has(e.errno)) return true;
  // Node reports a refused dual-stack connect as an AggregateError of per-address errors.
  if (Array.isArray(e.errors) && e.errors.some(isConnectionError)) return true;
  return typeof e.message === 'string' && GONE_MESSAGES.some((m) => (e.message as string).includes(m));
}

// Socket-level failures: the server is unreachable or the connection died under us.
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENETDOWN',
  'ECONNABORTED',
]);

// SQLSTATEs meaning "the server is going away or not accepting connections": admin_shutdown, crash_shutdown,
// cannot_connect_now (starting up, shutting down, in recovery), too_many_connections is *not* here: the server is up.
const SERVER_GONE_STATES = new Set(['57P01', '57P02', '57P03']);

// node-postgres reports a dead connection with plain Errors whose only mark is the message.
const GONE_MESSAGES = [
  'Connection terminated',
  'timeout exceeded when trying to connect',
  'Client has encountered a connection error',
  'Connection ended',
  'connect ECONNREFUSED',
];

/**
 * Whether `err` says the database is unreachable (rather than that one query was wrong): such failures flip the
 * store to disconnected so express-session stops using it until the database answers again.
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

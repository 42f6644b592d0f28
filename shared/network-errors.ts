/**
 * Node's socket-level error codes that mean the server is unreachable or the connection died under us, shared by
 * the network backends' `_diagnose` (each adds its driver's own codes, and decides what `ETIMEDOUT` means for it).
 */
export const SOCKET_ERROR_CODES: ReadonlySet<string> = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENETDOWN',
  'ECONNABORTED',
]);

import { ErrorCode, SessionStoreError } from '../../shared/errors.js';

// C0 controls and DEL have no business in a table name and make logs and error messages lie.
const CONTROL_CHARS = /[\u0000-\u001f\u007f]/;

/**
 * Quotes `name` as one SQLite identifier. Any other character is allowed and kept verbatim: a `"` is doubled,
 * so a hostile name such as `x"; DROP TABLE y; --` names a (strange) table instead of running SQL. A dot is
 * part of the name, never a schema separator.
 */
export function quoteIdentifier(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** Throws `SESSION_STORE_INVALID_OPTION` unless `name` can be a table name of ours. */
export function assertTableName(name: unknown): asserts name is string {
  if (typeof name !== 'string' || name.length === 0 || name.length > 128) {
    throw new SessionStoreError(ErrorCode.INVALID_OPTION, 'tableName must be a string of 1 to 128 characters');
  }
  if (CONTROL_CHARS.test(name) || !name.isWellFormed()) {
    throw new SessionStoreError(ErrorCode.INVALID_OPTION, 'tableName must not contain control characters or lone surrogates');
  }
  // SQLite refuses to create objects with this prefix; failing here gives a clearer message than the driver.
  if (name.toLowerCase().startsWith('sqlite_')) {
    throw new SessionStoreError(ErrorCode.INVALID_OPTION, 'tableName must not start with "sqlite_" (reserved by SQLite)');
  }
}

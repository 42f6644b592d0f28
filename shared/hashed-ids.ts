import { createHash, createHmac } from 'node:crypto';
import { assertKnownKeys, invalid } from './options.js';

/**
 * The `hashIds` option: each session is stored under a hash of its sid, so that a dump of the database (a backup,
 * a replica, a `KEYS *`) holds no session id anybody could present as a cookie.
 */
export interface HashIdsOptions {
  /**
   * A secret for an HMAC-SHA256 of the sid (at least 32 characters, or 32+ bytes). Without it the hash is a plain
   * SHA-256, which is enough for express-session's random 192-bit sids; the secret also protects guessable ids.
   */
  secret?: string | Uint8Array;
  /**
   * Migration from plain sids: a read that finds nothing under the hash reads the plain sid and moves the session
   * under its hash; `touch()` falls back to the plain sid; `destroy()` removes both. Costs a second round trip on
   * misses, plain touches and every destroy: turn it off once every session written before has expired.
   * Default false.
   */
  migrate?: boolean;
}

/** How a sid becomes the key a backend stores it under (see {@link HashIdsOptions}). */
export class HashedIds {
  readonly migrate: boolean;
  readonly #hash: (sid: string) => string;

  /** @throws SessionStoreError `SESSION_STORE_INVALID_OPTION` */
  constructor(option: true | HashIdsOptions) {
    const options: HashIdsOptions = option === true ? {} : option;
    if (typeof options !== 'object' || options === null || Array.isArray(options)) {
      throw invalid('hashIds must be true or { secret?, migrate? }');
    }
    assertKnownKeys(options, ['secret', 'migrate'], 'hashIds');
    if (options.migrate !== undefined && typeof options.migrate !== 'boolean') throw invalid('hashIds.migrate must be a boolean');
    this.migrate = options.migrate === true;
    const secret = options.secret;
    if (secret === undefined) {
      this.#hash = (sid) => createHash('sha256').update(sid, 'utf8').digest('base64url');
    } else {
      if (typeof secret === 'string' ? secret.length < 32 : !(secret instanceof Uint8Array) || secret.length < 32) {
        throw invalid('hashIds.secret must be a string of at least 32 characters or at least 32 bytes');
      }
      const key = typeof secret === 'string' ? Buffer.from(secret, 'utf8') : Buffer.from(secret);
      this.#hash = (sid) => createHmac('sha256', key).update(sid, 'utf8').digest('base64url');
    }
  }

  /** The key `sid` is stored under: 43 characters of base64url. */
  key(sid: string): string {
    return this.#hash(sid);
  }
}

/** The option's value as the base keeps it: undefined or false means sids are stored as they are. */
export function hashedIds(option: unknown): HashedIds | undefined {
  if (option === undefined || option === false) return undefined;
  if (option !== true && (typeof option !== 'object' || option === null))
    throw invalid('hashIds must be true, false or { secret?, migrate? }');
  return new HashedIds(option as true | HashIdsOptions);
}

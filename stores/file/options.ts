import type { SessionData } from 'express-session';
import { type Alias, bool, either, fn, invalid, num, oneOf, str } from '../../shared/options.js';
import type { Serializer } from '../../shared/serializer.js';
import type { BaseStoreOptions, Ttl } from '../../shared/types.js';
import { Kruptein } from '../../shared/kruptein.js';
import type { FileEncoding } from './format.js';

/** Options of {@link FileStore}: session-file-store's names where they exist, plus the shared options. */
export interface FileStoreOptions extends Omit<BaseStoreOptions<string>, 'serializer'>, FileEncoding {
  /** Directory holding one file per session; created if missing. Default `'./sessions'` (resolved once, now). */
  path?: string;
  /** Extension of session files (`''` or dot-separated `[A-Za-z0-9_-]` parts). Default `'.json'`. */
  fileExtension?: string;
  /**
   * session-file-store's name for `pruneIntervalMs`, in **seconds**; `-1`, `0` or `false` disables pruning.
   * Default 3600.
   */
  reapInterval?: number | false;
  /**
   * fsync each session file before it replaces the old one, and its directory after: a write survives a power
   * loss or kernel crash, at a large cost per write. Without it, a killed *process* still never leaves a torn
   * file (writes are atomic renames). Default false.
   */
  fsync?: boolean;
  /**
   * Spread files over `16^shard` subdirectories named by the first `shard` hex digits of a hash of the file name
   * (`shard: 2` → `<path>/3f/<sid>.json`), 1–4. Keeps directories small with millions of sessions. This is not
   * session-file-store's layout: enable it on a fresh directory. Default off.
   */
  shard?: number | false;
  /**
   * Whether the directory tells `A` from `a`. Decides which sids keep their own name (see the class docs).
   * Default: probed once with a file in the directory. Forcing `true` on a case-insensitive disk keeps
   * session-file-store's mixed-case names readable, at its risk of two sids differing only in case sharing one
   * file (negligible for express-session's random 24-byte sids, not for custom `genid`s).
   */
  caseSensitive?: boolean;
  /**
   * Lifetime in seconds of sessions whose cookie has no `maxAge` (see {@link BaseStoreOptions.ttl}).
   * Default 3600, session-file-store's default.
   */
  ttl?: Ttl;
  /** Encodes sessions; its output (a string) is kept in the file's `__payload`. Default: the session as JSON. */
  serializer?: Serializer<string>;
  /**
   * session-file-store's `fallbackSessionFn`: what `get()` returns for a sid that has no session file (the
   * session is not stored by that). Default: none (null).
   */
  fallbackSessionFn?: (sid: string) => SessionData;
  /**
   * session-file-store's encryption, in its format (kruptein: AES-256-GCM, scrypt, JSON), so that a deployment that
   * encrypts with session-file-store switches without logging anybody out: every file, tombstones included, is
   * encrypted with this secret. `null`/`false`: off. Files that fail to decrypt, or are not encrypted, read as no
   * session with an `'error'` event. Not with a custom `encoder`/`decoder`/`encoding`, nor with `encryption`
   * (prefer `encryption` for a new deployment: key rotation, the sid bound to each record).
   */
  secret?: string | null | false;
  /** Accepted for session-file-store compatibility and ignored: writes are atomic renames, nothing to retry. */
  retries?: number;
  /** Accepted for session-file-store compatibility and ignored: the store does not log (listen to `'error'`). */
  logFn?: (...args: unknown[]) => void;
  /** Accepted for session-file-store compatibility and ignored, like `retries`: nothing to retry. */
  factor?: number;
  /** Accepted for session-file-store compatibility and ignored, like `retries`: nothing to retry. */
  minTimeout?: number;
  /** Accepted for session-file-store compatibility and ignored, like `retries`: nothing to retry. */
  maxTimeout?: number;
  /** Accepted for session-file-store compatibility and ignored: pruning runs in the process, without blocking it. */
  reapAsync?: boolean;
  /** Accepted for session-file-store compatibility and ignored: pruning runs in the process, without blocking it. */
  reapSyncFallback?: boolean;
}

/** session-file-store's default ttl, in seconds. */
export const DEFAULT_TTL_SECONDS = 3600;
/** session-file-store's default `reapInterval`, in seconds. */
export const DEFAULT_REAP_SECONDS = 3600;
const EXTENSION = /^(\.[A-Za-z0-9_-]+)*$/;

const reapInterval: Alias = {
  to: 'pruneIntervalMs',
  convert: (value, name) => {
    if (value === false || value === -1 || value === 0) return false;
    return Math.max(1, Math.round((num(0)(value, name) as number) * 1000));
  },
};

/** What FileStore accepts (see {@link FileStoreOptions}), with session-file-store's names. */
export const FILE_OPTIONS = {
  options: {
    path: str(),
    fileExtension: (value: unknown, name: string) => {
      if (typeof value !== 'string' || !EXTENSION.test(value) || value.length > 32) {
        throw invalid(`${name} must be '' or like '.json' (dot-separated letters, digits, '_' and '-'), got ${JSON.stringify(value)}`);
      }
      return value;
    },
    fsync: bool,
    shard: either(oneOf(false), num(1, { max: 4, integer: true })),
    caseSensitive: bool,
    encoder: fn,
    decoder: fn,
    encoding: either(oneOf(null), str()),
    fallbackSessionFn: fn,
    secret: (value: unknown) => {
      if (value === null || value === false) return undefined;
      if (typeof value !== 'string' || value.length === 0) throw invalid('secret must be a non-empty string (or null/false: off)');
      return value;
    },
  },
  aliases: { reapInterval },
  ignored: {
    retries: 'writes are atomic renames: nothing to retry',
    factor: 'writes are atomic renames: nothing to retry',
    minTimeout: 'writes are atomic renames: nothing to retry',
    maxTimeout: 'writes are atomic renames: nothing to retry',
    reapAsync: 'pruning runs in the process without blocking it: no worker process',
    reapSyncFallback: 'pruning runs in the process without blocking it: no worker process',
    logFn: "the store does not log: listen to 'error'",
  },
};

/**
 * session-file-store's `secret`, checked against the options it cannot be combined with: the encrypted format of
 * its files, or undefined.
 * @throws SessionStoreError `SESSION_STORE_INVALID_OPTION`
 */
export function fileSecret(opts: FileStoreOptions): Kruptein | undefined {
  if (typeof opts.secret !== 'string') return undefined;
  if (opts.encoder !== undefined || opts.decoder !== undefined || opts.encoding !== undefined) {
    throw invalid('secret cannot be combined with a custom encoder, decoder or encoding');
  }
  if (opts.encryption !== undefined) throw invalid('secret (session-file-store format) and encryption cannot be combined: choose one');
  return new Kruptein(opts.secret, 'session-file-store');
}

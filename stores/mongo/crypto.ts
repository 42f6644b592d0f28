import { Kruptein, isKruptein } from '../../shared/kruptein.js';
import { invalid } from '../../shared/options.js';
import type { MongoSessionPayload } from './options.js';

/** connect-mongo's `crypto` defaults: the only kruptein settings whose records this store reads and writes. */
const CONNECT_MONGO_DEFAULTS: Record<string, unknown> = {
  algorithm: 'aes-256-gcm',
  hashing: 'sha512',
  encodeas: 'base64',
  key_size: 32,
  iv_size: 16,
  at_size: 16,
};

/**
 * connect-mongo's `crypto` option, checked: `{ secret }` (a non-empty string) turns on its encrypted format;
 * `{ secret: false }` or nothing leaves it off; other kruptein settings are accepted only at connect-mongo's defaults.
 * @throws SessionStoreError `SESSION_STORE_INVALID_OPTION`
 */
export function mongoCrypto(option: unknown, encryption: unknown): Kruptein | undefined {
  if (option === undefined) return undefined;
  if (typeof option !== 'object' || option === null) throw invalid('crypto must be { secret: string }');
  const { secret, ...rest } = option as { secret?: unknown };
  for (const [name, value] of Object.entries(rest)) {
    if (!(name in CONNECT_MONGO_DEFAULTS)) throw invalid(`crypto has no option ${JSON.stringify(name)}`);
    if (value !== CONNECT_MONGO_DEFAULTS[name]) {
      throw invalid(`crypto.${name}: only connect-mongo's default (${String(CONNECT_MONGO_DEFAULTS[name])}) is supported`);
    }
  }
  if (secret === false || secret === undefined) return undefined;
  if (typeof secret !== 'string' || secret.length === 0) throw invalid('crypto.secret must be a non-empty string');
  if (encryption !== undefined) throw invalid('crypto (connect-mongo format) and encryption cannot be combined: choose one');
  return new Kruptein(secret);
}

/** The `session` field to store for `data`: connect-mongo's encrypted string of its JSON. */
export function sealPayload(kruptein: Kruptein, data: MongoSessionPayload): Promise<string> {
  return kruptein.seal(typeof data === 'string' ? data : JSON.stringify(data));
}

/**
 * What a stored `session` field holds, decrypted: the JSON text of the session. A field that fails to decrypt, or
 * is not encrypted (connect-mongo refuses those too), is replaced by text that fails to decode, so it reads as
 * no session with an `'error'` event (or `SESSION_STORE_DECODE_FAILED`, see `onDecodeError`).
 */
export async function openPayload(kruptein: Kruptein | undefined, payload: MongoSessionPayload): Promise<MongoSessionPayload> {
  if (!kruptein) return payload;
  if (!isKruptein(payload)) return UNREADABLE('the stored session is not encrypted (crypto is on)');
  try {
    return await kruptein.open(payload);
  } catch (err) {
    return UNREADABLE((err as Error).message);
  }
}

/** Text no serializer decodes, naming why. */
const UNREADABLE = (why: string): string => `!${why}`;

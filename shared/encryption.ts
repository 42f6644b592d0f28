import { createCipheriv, createDecipheriv, createHash, hkdfSync, randomFillSync } from 'node:crypto';
import { deflateRawSync, inflateRawSync } from 'node:zlib';
import { assertKnownKeys, invalid } from './options.js';

/**
 * The `encryption` option: sessions encrypted at rest with AES-256-GCM, the sid bound as associated data.
 */
export interface EncryptionOptions {
  /**
   * The keys, newest first: the first encrypts every write, all of them decrypt (rotation: put a new key in front,
   * keep the old ones until every session written with them has expired or been saved again). Each is 32 random
   * bytes (a `Uint8Array`/`Buffer`) or a secret string of at least 32 characters, turned into a key with HKDF-SHA256.
   */
  keys: ReadonlyArray<string | Uint8Array>;
  /**
   * Read records written before encryption was turned on (plaintext) during a migration; they are encrypted on
   * their next save. Default false: a plaintext record is refused like a record that fails authentication.
   */
  allowPlaintext?: boolean;
  /**
   * Compress (deflate) a session's JSON before encrypting it when it is longer than this many characters (`true`:
   * 16,384). Ciphertext does not compress, so a backend's own compression of large records stops working once they
   * are encrypted: DynamoDBStore needs this for sessions over ~300 KB (its items hold 400 KB). Off by default:
   * compressed sizes leak how much of a session repeats itself, so someone who can both see record sizes and put
   * chosen text into a session can learn about the rest of it (the CRIME/BREACH attacks). Records are authenticated
   * before they are decompressed; reading compressed records needs no option.
   */
  compress?: boolean | number;
}

/** What an encrypted record holds, in place of the session, before the backend's serializer stores it. */
export interface SealedRecord {
  /** `v1.<key id>.<base64url(nonce ‖ ciphertext ‖ tag)>`. */
  sealed: string;
  /** With hashed ids: the sid, sealed for the key the record is stored under (so that listings can give it back). */
  id?: string;
  /**
   * The session's cookie settings (expiry, path, flags: no user data), so that a store we replace reading the same
   * data sees an anonymous session instead of failing on a record without a cookie.
   */
  cookie?: unknown;
}

const VERSION = 'v1';
/** Records whose JSON was deflated before sealing; the version is part of their associated data. */
const DEFLATED = 'z1';
const DEFLATED_AAD = Buffer.from(`${DEFLATED}\0`, 'latin1');
/** Refuses to inflate an (authenticated) record beyond this: no session is that large. */
const MAX_INFLATED = 256 * 1024 * 1024;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;

interface Key {
  id: string;
  bytes: Buffer;
}

/** AES-256-GCM with a fresh nonce per write and the sid as associated data; several keys for rotation. */
export class Encryption {
  readonly allowPlaintext: boolean;
  readonly #keys: Key[];
  readonly #compressAbove: number;

  /** @throws SessionStoreError `SESSION_STORE_INVALID_OPTION` for a missing, short or malformed key */
  constructor(options: EncryptionOptions) {
    if (typeof options !== 'object' || options === null || !Array.isArray(options.keys) || options.keys.length === 0) {
      throw invalid('encryption.keys must be a non-empty array of keys (newest first)');
    }
    assertKnownKeys(options, ['keys', 'allowPlaintext', 'compress'], 'encryption');
    this.#keys = options.keys.map((key, i) => toKey(key, `encryption.keys[${i}]`));
    if (options.allowPlaintext !== undefined && typeof options.allowPlaintext !== 'boolean') {
      throw invalid('encryption.allowPlaintext must be a boolean');
    }
    this.allowPlaintext = options.allowPlaintext === true;
    const { compress = false } = options;
    if (typeof compress === 'boolean') this.#compressAbove = compress ? 16_384 : Infinity;
    else if (Number.isSafeInteger(compress) && compress >= 0) this.#compressAbove = compress;
    else throw invalid('encryption.compress must be a boolean or a number of characters (an integer >= 0)');
  }

  /** Encrypts `plaintext` for `sid` with the newest key. */
  seal(sid: string, plaintext: string): string {
    const key = this.#keys[0]!;
    const nonce = nextNonce();
    const cipher = createCipheriv('aes-256-gcm', key.bytes, nonce);
    const deflate = plaintext.length > this.#compressAbove;
    cipher.setAAD(aad(deflate, sid));
    // Level 1: a 1 MB session deflates in a few ms (the event loop's budget), most of the gain of higher levels.
    const body = joined(
      deflate ? cipher.update(deflateRawSync(Buffer.from(plaintext, 'utf8'), { level: 1 })) : cipher.update(plaintext, 'utf8'),
      cipher.final(),
    );
    return `${deflate ? DEFLATED : VERSION}.${key.id}.${Buffer.concat([nonce, body, cipher.getAuthTag()]).toString('base64url')}`;
  }

  /**
   * Decrypts what {@link seal} wrote for `sid`, with the key it names (or, failing that, every key).
   * @throws Error when no key authenticates it: tampered, written for another sid, or its key was removed
   */
  open(sid: string, sealed: string): string {
    const [version, id, payload] = sealed.split('.');
    const deflated = version === DEFLATED;
    if ((version !== VERSION && !deflated) || id === undefined || payload === undefined) {
      throw new Error(`not a ${VERSION} or ${DEFLATED} sealed record`);
    }
    const bytes = Buffer.from(payload, 'base64url');
    if (bytes.length < NONCE_BYTES + TAG_BYTES) throw new Error('sealed record too short');
    const nonce = bytes.subarray(0, NONCE_BYTES);
    const body = bytes.subarray(NONCE_BYTES, bytes.length - TAG_BYTES);
    const tag = bytes.subarray(bytes.length - TAG_BYTES);
    const named = this.#keys.filter((k) => k.id === id);
    for (const key of named.length > 0 ? named : this.#keys) {
      try {
        const decipher = createDecipheriv('aes-256-gcm', key.bytes, nonce);
        decipher.setAAD(aad(deflated, sid));
        decipher.setAuthTag(tag);
        const plain = joined(decipher.update(body), decipher.final());
        return (deflated ? inflateRawSync(plain, { maxOutputLength: MAX_INFLATED }) : plain).toString('utf8');
      } catch {
        // the next key, if any
      }
    }
    throw new Error(named.length > 0 ? 'the record failed authentication' : `no key with id ${id} (removed from encryption.keys?)`);
  }
}

/** `head` followed by `tail`, copied only when `tail` holds anything (GCM's `final()` gives nothing: a stream mode). */
function joined(head: Buffer, tail: Buffer): Buffer {
  return tail.length === 0 ? head : Buffer.concat([head, tail]);
}

/** The associated data: the sid, behind the format's version for deflated records (so no one can swap formats). */
function aad(deflated: boolean, sid: string): Buffer {
  const id = Buffer.from(sid, 'utf8');
  return deflated ? Buffer.concat([DEFLATED_AAD, id]) : id;
}

/**
 * Random nonces, {@link NONCE_BYTES} each, cut from a pool refilled by the CSPRNG 4 KB at a time: one
 * `randomBytes(12)` call costs ~8 µs here, a fifth of a whole 5 KB seal. Each nonce is used once (a copy is returned).
 */
const NONCE_POOL = Buffer.alloc(NONCE_BYTES * 341);
let nonceAt = NONCE_POOL.length;
function nextNonce(): Buffer {
  if (nonceAt + NONCE_BYTES > NONCE_POOL.length) {
    randomFillSync(NONCE_POOL);
    nonceAt = 0;
  }
  const nonce = Buffer.from(NONCE_POOL.subarray(nonceAt, nonceAt + NONCE_BYTES));
  // Wiped as it is handed out: a byte of the pool is never handed out twice.
  NONCE_POOL.fill(0, nonceAt, nonceAt + NONCE_BYTES);
  nonceAt += NONCE_BYTES;
  return nonce;
}

/** True when a parsed record is what {@link Encryption} stores. */
export function isSealed(value: unknown): value is SealedRecord {
  return typeof value === 'object' && value !== null && typeof (value as SealedRecord).sealed === 'string';
}

function toKey(key: unknown, name: string): Key {
  let bytes: Buffer;
  if (typeof key === 'string') {
    if (key.length < 32) throw invalid(`${name}: a secret string must have at least 32 characters (or pass 32 random bytes)`);
    bytes = Buffer.from(hkdfSync('sha256', key, 'session-stores', 'session encryption v1', 32));
  } else if (key instanceof Uint8Array) {
    if (key.length !== 32) throw invalid(`${name}: a key must be 32 bytes, got ${key.length}`);
    bytes = Buffer.from(key);
  } else {
    throw invalid(`${name} must be 32 bytes or a secret string`);
  }
  // A short public fingerprint, so a read picks the right key at once.
  return { id: createHash('sha256').update(bytes).digest('base64url').slice(0, 8), bytes };
}

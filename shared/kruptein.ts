import { createCipheriv, createDecipheriv, createHmac, pbkdf2, randomBytes, scrypt as scryptCb, timingSafeEqual } from 'node:crypto';
import { promisify } from 'node:util';

const derive = promisify(pbkdf2);

const scrypt = promisify((password: string, salt: Buffer, keylen: number, done: (err: Error | null, key: Buffer) => void) =>
  // Node's scrypt defaults (N 16384, r 8, p 1), as kruptein's scryptSync call uses them.
  scryptCb(password, salt, keylen, done),
);

/** Text to encrypt or decrypt with a kruptein-format secret (what {@link Kruptein} implements). */
export interface Sealer {
  seal(text: string): Promise<string>;
  open(sealed: string): Promise<string>;
}

/**
 * The two encrypted formats the incumbents write with the kruptein library, so that our stores read and write the
 * sessions of a deployment that encrypts today:
 *
 * - `'connect-mongo'` (its `crypto: { secret }`, kruptein 3 with connect-mongo's defaults): AES-256-GCM,
 *   HMAC-SHA512, PBKDF2-SHA512 with 15,000 iterations and a 128-byte salt, ASN.1 DER, base64;
 * - `'session-file-store'` (its `secret`, kruptein 2.2 with its defaults): AES-256-GCM, HMAC-SHA512, scrypt with
 *   a 128-byte salt, JSON with binary (latin1) strings.
 *
 * Differences from kruptein, none visible in the data: the key is derived asynchronously (kruptein derives it
 * synchronously, blocking the event loop ~10 ms with PBKDF2 and ~50 ms with scrypt per read and per write),
 * derived keys are cached per salt, and this process writes every record with one salt (a fresh nonce each time),
 * so writes cost no derivation after the first.
 */
export class Kruptein implements Sealer {
  readonly #secret: string;
  readonly #variant: 'connect-mongo' | 'session-file-store';
  /** How kruptein turns ciphertext, HMACs and associated data into text in this variant. */
  readonly #text: 'base64' | 'binary';
  readonly #keys = new Map<string, Promise<Buffer>>();
  #writeSalt: Buffer | undefined;

  constructor(secret: string, variant: 'connect-mongo' | 'session-file-store' = 'connect-mongo') {
    this.#secret = secret;
    this.#variant = variant;
    this.#text = variant === 'connect-mongo' ? 'base64' : 'binary';
  }

  /** Encrypts `text` (a session's JSON, or a session file) as the incumbent stores it. */
  async seal(text: string): Promise<string> {
    const salt = (this.#writeSalt ??= randomBytes(128));
    const key = await this.#key(salt);
    // kruptein encrypts JSON.stringify(plaintext): the incumbent's JSON text, quoted once more.
    const plaintext = Buffer.from(JSON.stringify(text), 'utf8');
    const iv = randomBytes(12);
    // kruptein's associated data: an HMAC of the plaintext under a throw-away key (stored with the record).
    const aad = createHmac('sha512', randomBytes(128)).update(plaintext).digest(this.#text);
    const cipher = createCipheriv('aes-256-gcm', key, iv, { authTagLength: 16 });
    cipher.setAAD(Buffer.from(aad, this.#text), { plaintextLength: plaintext.length });
    const ct = Buffer.concat([cipher.update(plaintext), cipher.final()]).toString(this.#text);
    // kruptein writes the ciphertext text into the HMAC as UTF-8.
    const hmac = createHmac('sha512', key).update(ct, 'utf8').digest(this.#text);
    const at = cipher.getAuthTag();
    if (this.#variant === 'session-file-store') return JSON.stringify({ hmac, ct, iv, salt, aad, at });
    const fields = [ct, hmac, iv, salt, at, aad].map((f) => (typeof f === 'string' ? Buffer.from(f, 'utf8') : f));
    return derSequence(fields).toString('base64');
  }

  /**
   * Decrypts what {@link seal} (or the incumbent) wrote, back to the text that was sealed.
   * @throws Error when it is not such a record, was tampered with, or was encrypted with another secret
   */
  async open(sealed: string): Promise<string> {
    const { ct, hmac, iv, salt, at, aad } = this.#fields(sealed);
    const key = await this.#key(salt);
    const expected = Buffer.from(createHmac('sha512', key).update(ct, 'utf8').digest(this.#text), 'utf8');
    const given = Buffer.from(hmac, 'utf8');
    if (expected.length !== given.length || !timingSafeEqual(expected, given)) {
      throw new Error('the kruptein record failed authentication (tampered, or another secret)');
    }
    const decipher = createDecipheriv('aes-256-gcm', key, iv, { authTagLength: 16 });
    decipher.setAuthTag(at);
    decipher.setAAD(Buffer.from(aad, this.#text));
    const plaintext = Buffer.concat([decipher.update(Buffer.from(ct, this.#text)), decipher.final()]).toString('utf8');
    const parsed = JSON.parse(plaintext) as unknown;
    // The incumbents encrypt JSON text (a string); a document (connect-mongo's stringify: false) is JSON itself.
    return typeof parsed === 'string' ? parsed : plaintext;
  }

  #fields(sealed: string): { ct: string; hmac: string; iv: Buffer; salt: Buffer; at: Buffer; aad: string } {
    if (this.#variant === 'session-file-store') {
      const o = JSON.parse(sealed) as Record<string, unknown>;
      const bytes = (v: unknown): Buffer => {
        const b = v as { type?: unknown; data?: unknown };
        if (b?.type !== 'Buffer' || !Array.isArray(b.data)) throw new Error('not a kruptein record');
        return Buffer.from(b.data as number[]);
      };
      if (typeof o.ct !== 'string' || typeof o.hmac !== 'string' || typeof o.aad !== 'string') throw new Error('not a kruptein record');
      return { ct: o.ct, hmac: o.hmac, aad: o.aad, iv: bytes(o.iv), salt: bytes(o.salt), at: bytes(o.at) };
    }
    const fields = derFields(Buffer.from(sealed, 'base64'));
    if (fields.length !== 6) throw new Error('not a kruptein record');
    const [ct, hmac, iv, salt, at, aad] = fields as [Buffer, Buffer, Buffer, Buffer, Buffer, Buffer];
    return { ct: ct.toString('utf8'), hmac: hmac.toString('utf8'), iv, salt, at, aad: aad.toString('utf8') };
  }

  /** The key for `salt`, derived once (a few hundred salts are kept; the incumbents write a new one per save). */
  #key(salt: Buffer): Promise<Buffer> {
    const id = salt.toString('base64');
    let key = this.#keys.get(id);
    if (!key) {
      if (this.#keys.size >= 500) this.#keys.delete(this.#keys.keys().next().value!);
      key = this.#variant === 'connect-mongo' ? derive(this.#secret, salt, 15_000, 32, 'sha512') : scrypt(this.#secret, salt, 32);
      key.catch(() => this.#keys.delete(id));
      this.#keys.set(id, key);
    }
    return key;
  }
}

/** True when `value` looks like a kruptein record (base64 of a DER SEQUENCE) rather than a session's JSON. */
export function isKruptein(value: unknown): value is string {
  return typeof value === 'string' && value.startsWith('M') && /^[A-Za-z0-9+/]+=*$/.test(value);
}

/** DER: a SEQUENCE of OCTET STRINGs. */
function derSequence(items: Buffer[]): Buffer {
  const body = Buffer.concat(items.flatMap((item) => [Buffer.from([0x04]), derLength(item.length), item]));
  return Buffer.concat([Buffer.from([0x30]), derLength(body.length), body]);
}

function derLength(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

/** The OCTET STRINGs of a DER SEQUENCE. @throws Error on anything else */
function derFields(der: Buffer): Buffer[] {
  const read = (at: number): { length: number; next: number } => {
    const first = der[at];
    if (first === undefined) throw new Error('truncated DER');
    if (first < 0x80) return { length: first, next: at + 1 };
    const count = first & 0x7f;
    if (count === 0 || count > 4) throw new Error('bad DER length');
    let length = 0;
    for (let i = 1; i <= count; i++) length = length * 256 + (der[at + i] ?? Number.NaN);
    if (!Number.isFinite(length)) throw new Error('truncated DER');
    return { length, next: at + 1 + count };
  };
  if (der[0] !== 0x30) throw new Error('not a DER SEQUENCE');
  const seq = read(1);
  const end = seq.next + seq.length;
  if (end !== der.length) throw new Error('bad DER SEQUENCE length');
  const fields: Buffer[] = [];
  for (let at = seq.next; at < end;) {
    if (der[at] !== 0x04) throw new Error('not an OCTET STRING');
    const item = read(at + 1);
    if (item.next + item.length > end) throw new Error('truncated DER');
    fields.push(der.subarray(item.next, item.next + item.length));
    at = item.next + item.length;
  }
  return fields;
}

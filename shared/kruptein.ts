import { createCipheriv, createDecipheriv, createHmac, pbkdf2, randomBytes, timingSafeEqual } from 'node:crypto';
import { promisify } from 'node:util';

const derive = promisify(pbkdf2);

/**
 * The encrypted format connect-mongo writes with its `crypto: { secret }` option (the kruptein 3 library with
 * connect-mongo's defaults: AES-256-GCM, HMAC-SHA512, PBKDF2-SHA512 with 15,000 iterations and a 128-byte salt,
 * ASN.1 DER, base64), so that MongoStore reads and writes the sessions of a connect-mongo deployment that encrypts.
 *
 * Differences from kruptein, none visible in the data: the key is derived asynchronously (kruptein's `pbkdf2Sync`
 * blocks the event loop for ~10 ms per operation), derived keys are cached per salt, and this process writes every
 * record with one salt (a fresh 12-byte nonce each time), so writes cost no derivation after the first.
 */
export class Kruptein {
  readonly #secret: string;
  readonly #keys = new Map<string, Promise<Buffer>>();
  #writeSalt: Buffer | undefined;

  constructor(secret: string) {
    this.#secret = secret;
  }

  /** Encrypts `text` (a session's JSON) as connect-mongo stores it in the `session` field. */
  async seal(text: string): Promise<string> {
    const salt = (this.#writeSalt ??= randomBytes(128));
    const key = await this.#key(salt);
    // kruptein encrypts JSON.stringify(plaintext): connect-mongo's JSON text, quoted once more.
    const plaintext = Buffer.from(JSON.stringify(text), 'utf8');
    const iv = randomBytes(12);
    // kruptein's associated data: an HMAC of the plaintext under a throw-away key (stored with the record).
    const aad = createHmac('sha512', randomBytes(128)).update(plaintext).digest('base64');
    const cipher = createCipheriv('aes-256-gcm', key, iv, { authTagLength: 16 });
    cipher.setAAD(Buffer.from(aad, 'base64'), { plaintextLength: plaintext.length });
    const ct = Buffer.concat([cipher.update(plaintext), cipher.final()]).toString('base64');
    const hmac = createHmac('sha512', key).update(ct, 'utf8').digest('base64');
    const fields = [ct, hmac, iv, salt, cipher.getAuthTag(), aad].map((f) => (typeof f === 'string' ? Buffer.from(f, 'utf8') : f));
    return derSequence(fields).toString('base64');
  }

  /**
   * Decrypts what {@link seal} (or connect-mongo) wrote, back to the session's JSON text.
   * @throws Error when it is not such a record, was tampered with, or was encrypted with another secret
   */
  async open(sealed: string): Promise<string> {
    const fields = derFields(Buffer.from(sealed, 'base64'));
    if (fields.length !== 6) throw new Error('not a kruptein record');
    const [ctBytes, hmac, iv, salt, tag, aad] = fields as [Buffer, Buffer, Buffer, Buffer, Buffer, Buffer];
    const key = await this.#key(salt);
    const ct = ctBytes.toString('utf8');
    const expected = Buffer.from(createHmac('sha512', key).update(ct, 'utf8').digest('base64'), 'utf8');
    if (expected.length !== hmac.length || !timingSafeEqual(expected, hmac)) {
      throw new Error('the kruptein record failed authentication (tampered, or another secret)');
    }
    const decipher = createDecipheriv('aes-256-gcm', key, iv, { authTagLength: 16 });
    decipher.setAuthTag(tag);
    decipher.setAAD(Buffer.from(aad.toString('utf8'), 'base64'));
    const plaintext = Buffer.concat([decipher.update(Buffer.from(ct, 'base64')), decipher.final()]).toString('utf8');
    const parsed = JSON.parse(plaintext) as unknown;
    // connect-mongo encrypts the JSON text of the session (a string); a document (stringify: false) is JSON itself.
    return typeof parsed === 'string' ? parsed : plaintext;
  }

  /** The key for `salt`, derived once (a few hundred salts are kept; connect-mongo writes a new one per save). */
  #key(salt: Buffer): Promise<Buffer> {
    const id = salt.toString('base64');
    let key = this.#keys.get(id);
    if (!key) {
      if (this.#keys.size >= 500) this.#keys.delete(this.#keys.keys().next().value!);
      key = derive(this.#secret, salt, 15_000, 32, 'sha512');
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

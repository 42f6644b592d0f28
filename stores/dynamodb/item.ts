import { promisify } from 'node:util';
import { gunzip, gzip } from 'node:zlib';
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { ErrorCode, SessionStoreError } from '../../shared/errors.js';
import type { StoredRecord } from '../../shared/types.js';
import type { SpecialKey } from './options.js';

const gzipAsync = promisify(gzip);
const gunzipAsync = promisify(gunzip);

/** An item as the SDK reads and writes it. */
export type Item = Record<string, AttributeValue>;

/**
 * The item layout, connect-dynamodb's plus one attribute:
 *
 * | attribute | type | holds |
 * |---|---|---|
 * | `id` (`hashKey`) | S | `prefix + sid` |
 * | `expires` | N | the expiry in epoch **seconds**, rounded up (DynamoDB's TTL attribute; connect-dynamodb's expiry) |
 * | `expiresMs` | N | the exact expiry in epoch ms (ours; connect-dynamodb ignores it) |
 * | `type` | S | `'connect-session'`, as connect-dynamodb writes it |
 * | `sess` | S | the serialized session (JSON, as connect-dynamodb); B (gzip) for sessions over {@link COMPRESS_ABOVE} |
 * | `owner` | S | the session's owner (the `owner` option), indexed by a sparse GSI |
 *
 * A tombstone (revocation) is an item without `sess`: connect-dynamodb reads it as no session.
 */
export const ATTR = { expires: 'expires', expiresMs: 'expiresMs', type: 'type', sess: 'sess', owner: 'owner' } as const;

/** connect-dynamodb's `type` attribute. */
export const SESSION_TYPE = 'connect-session';

/**
 * Sessions whose serialized form is larger than this many UTF-8 bytes are stored gzip-compressed (a binary `sess`),
 * so that sessions beyond DynamoDB's 400 KB item limit still fit when they compress. connect-dynamodb cannot read
 * those (it reads them as no session), but it could not have stored them at all.
 */
export const COMPRESS_ABOVE = 256 * 1024;

/** Epoch ms as epoch seconds, rounded up: DynamoDB's TTL never deletes a session before it expires. */
export function seconds(ms: number): string {
  return String(Math.ceil(ms / 1000));
}

/** Epoch ms as an exact decimal number of seconds ("1733158234.567"): comparable with `expires` in conditions. */
export function exactSeconds(ms: number): string {
  const whole = Math.floor(ms / 1000);
  const frac = ms - whole * 1000;
  return frac === 0 ? String(whole) : `${whole}.${String(frac).padStart(3, '0')}`;
}

/**
 * The expiry of an item in epoch ms: `expiresMs` while it agrees with `expires` (the two we wrote together),
 * else `expires` (an item connect-dynamodb wrote, or touched: it moves `expires` alone). Null without either.
 */
export function expiryOf(item: Item): number | null {
  const secs = item[ATTR.expires]?.N;
  const ms = item[ATTR.expiresMs]?.N;
  if (secs === undefined) return ms === undefined ? null : Number(ms);
  const fromSeconds = Math.round(Number(secs) * 1000);
  if (ms !== undefined && Number(seconds(Number(ms))) === Number(secs)) return Number(ms);
  return Number.isFinite(fromSeconds) ? fromSeconds : null;
}

/** The record of a session item, or null for a tombstone or an item without a readable `sess`. */
export async function recordOf(item: Item | undefined): Promise<StoredRecord<string> | null> {
  if (!item) return null;
  const sess = item[ATTR.sess];
  if (!sess) return null;
  let data: string;
  if (sess.S !== undefined) data = sess.S;
  else if (sess.B !== undefined) data = (await gunzipAsync(sess.B)).toString('utf8');
  else return null;
  return { data, expiresAt: expiryOf(item) };
}

/** The `sess` attribute of `data`: a string, or gzip when it is large. */
export async function sessAttribute(data: string): Promise<AttributeValue> {
  if (data.length * 3 <= COMPRESS_ABOVE || Buffer.byteLength(data, 'utf8') <= COMPRESS_ABOVE) return { S: data };
  return { B: await gzipAsync(Buffer.from(data, 'utf8')) };
}

/** The expiry attributes of an item expiring at `expiresAt` (epoch ms). */
export function expiryAttributes(expiresAt: number): Item {
  return { [ATTR.expires]: { N: seconds(expiresAt) }, [ATTR.expiresMs]: { N: String(expiresAt) } };
}

/**
 * The special-key attributes of a session (connect-dynamodb's `specialKeys`), read from its JSON. A missing key is
 * left out when `skipMissing`, else fails with `SESSION_STORE_INVALID_SESSION`; a value of the wrong type always
 * fails (DynamoDB would reject the write).
 */
export function specialAttributes(data: string, keys: readonly SpecialKey[], skipMissing: boolean): Item {
  const session = JSON.parse(data) as Record<string, unknown>;
  const out: Item = {};
  const missing: string[] = [];
  for (const key of keys) {
    const value = session[key.name];
    if (value === undefined) {
      missing.push(key.name);
      continue;
    }
    if (key.type === 'N') {
      if (typeof value !== 'number' || !Number.isFinite(value)) throw badKey(key, 'a finite number');
      out[key.name] = { N: String(value) };
    } else {
      if (typeof value !== 'string') throw badKey(key, 'a string');
      out[key.name] = { S: value };
    }
  }
  if (missing.length > 0 && !skipMissing) {
    throw new SessionStoreError(ErrorCode.INVALID_SESSION, `the session lacks the special keys ${JSON.stringify(missing)}`);
  }
  return out;
}

function badKey(key: SpecialKey, what: string): SessionStoreError {
  return new SessionStoreError(ErrorCode.INVALID_SESSION, `the session's special key ${JSON.stringify(key.name)} must be ${what}`);
}

import { createHash, randomBytes } from 'node:crypto';
import { unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { lstatOrNull } from './read.js';

/**
 * Sid ↔ file name mapping. The rules hold on Linux, macOS and Windows at once, so a store directory is safe
 * whatever file system it ends up on:
 *
 * - **plain** sids (`[A-Za-z0-9_-]`, at most {@link PLAIN_MAX} characters, not a Windows device name) map to
 *   `<sid><ext>`, exactly as session-file-store names them, so its files stay readable. On a case-insensitive
 *   directory only lowercase plain sids qualify: `A` and `a` must not become the same file.
 * - any other sid becomes `~<base32 of its UTF-8 bytes><ext>` (lowercase RFC 4648 alphabet, no padding): no
 *   separator, dot, NUL, `:` or case ambiguity can reach the file system, and the mapping is reversible, so
 *   `ids()` returns the original sid.
 * - when that name would exceed 255 bytes, `~~<sha256 hex><ext>`; the real sid is stored inside the file.
 *
 * Names starting with `.` are never sessions (temp and probe files live there), and `~` never starts a plain
 * sid, so the three forms cannot collide with each other.
 */

/** Longest sid stored under its own name. */
export const PLAIN_MAX = 200;
const NAME_MAX = 255;
const PLAIN = /^[A-Za-z0-9_-]+$/;
const PLAIN_LOWER = /^[a-z0-9_-]+$/;
// Windows opens a device for these names even with an extension (`con.json`), in any case.
const WINDOWS_DEVICE = /^(con|prn|aux|nul|com[0-9¹²³]|lpt[0-9¹²³]|conin\$|conout\$)$/i;
const ENCODED = /^~[a-z2-7]+$/;
const HASHED = /^~~[0-9a-f]{64}$/;
const BASE32 = 'abcdefghijklmnopqrstuvwxyz234567';

/** How one sid is laid out on disk. */
export interface FileName {
  /** File name without directory. */
  name: string;
  /** The name without extension; sharding hashes this. */
  base: string;
  /** True when the name is a hash and the sid must be checked against the one stored in the file. */
  hashed: boolean;
}

/** The file name of `sid`. `caseSensitive`: whether the directory tells `A` from `a`. */
export function fileNameOf(sid: string, ext: string, caseSensitive: boolean): FileName {
  if (isPlain(sid, caseSensitive)) return { name: sid + ext, base: sid, hashed: false };
  const encoded = '~' + base32(Buffer.from(sid, 'utf8'));
  if (Buffer.byteLength(encoded) + Buffer.byteLength(ext) <= NAME_MAX) return { name: encoded + ext, base: encoded, hashed: false };
  const hashed = '~~' + createHash('sha256').update(sid, 'utf8').digest('hex');
  return { name: hashed + ext, base: hashed, hashed: true };
}

/**
 * What a directory entry holds: the sid (plain and encoded names), `'hashed'` (read the sid from the file), or
 * null (not a session file of this store: temp files, foreign files, names this store would not produce).
 */
export function sidOfName(name: string, ext: string, caseSensitive: boolean): string | 'hashed' | null {
  if (ext && !name.endsWith(ext)) return null;
  const base = ext ? name.slice(0, -ext.length) : name;
  if (HASHED.test(base)) return 'hashed';
  if (ENCODED.test(base)) {
    const bytes = unbase32(base.slice(1));
    const sid = bytes && new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
    // Only the canonical name of a sid counts: anything else could not be reached by get().
    return sid && fileNameOf(sid, ext, caseSensitive).base === base ? sid : null;
  }
  return isPlain(base, caseSensitive) ? base : null;
}

/** Whether the directory `dir` tells `A` from `a`: probed with a temporary file created there, then removed. */
export async function probeCaseSensitive(dir: string): Promise<boolean> {
  const probe = `.~probe-${process.pid}-${randomBytes(6).toString('hex')}`;
  await writeFile(join(dir, probe), '', { flag: 'wx' });
  try {
    return (await lstatOrNull(join(dir, probe.toUpperCase()))) === null;
  } finally {
    await unlink(join(dir, probe)).catch(() => {});
  }
}

function isPlain(sid: string, caseSensitive: boolean): boolean {
  return sid.length <= PLAIN_MAX && (caseSensitive ? PLAIN : PLAIN_LOWER).test(sid) && !WINDOWS_DEVICE.test(sid);
}

/** The shard directory of a file: the first `digits` hex digits of a hash of its base name. */
export function shardOf(base: string, digits: number): string {
  return createHash('md5').update(base).digest('hex').slice(0, digits);
}

function base32(bytes: Uint8Array): string {
  let out = '';
  let bits = 0;
  let value = 0;
  for (const byte of bytes) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += BASE32[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
    value &= (1 << bits) - 1;
  }
  if (bits > 0) out += BASE32[(value << (5 - bits)) & 31];
  return out;
}

function unbase32(text: string): Uint8Array | null {
  const out = new Uint8Array(Math.floor((text.length * 5) / 8));
  let bits = 0;
  let value = 0;
  let i = 0;
  for (const ch of text) {
    const digit = BASE32.indexOf(ch);
    if (digit < 0) return null;
    value = (value << 5) | digit;
    bits += 5;
    if (bits >= 8) {
      out[i++] = (value >>> (bits - 8)) & 255;
      bits -= 8;
    }
    value &= (1 << bits) - 1;
  }
  return out;
}

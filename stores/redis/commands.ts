import type { RedisConnection } from './connection.js';
import { GUARDED_SET, LENGTHS, OWNER_ADD, READ, type Script } from './scripts.js';

/**
 * Every command RedisStore sends, built once on a {@link RedisConnection} (any client family). Each method is one
 * network round trip: several commands are written together without waiting (the clients pipeline them), and on a
 * cluster multi-key work is split per key and sent in parallel, so nothing is ever cross-slot.
 */
export class RedisCommands {
  #pexpiretime = true;

  constructor(private readonly conn: RedisConnection) {}

  /** Each key's value and absolute expiry in epoch ms (`-1`: none, `-2`: missing). */
  async read(keys: string[]): Promise<Array<[value: string | null, expiresAt: number]>> {
    if (keys.length === 0) return [];
    if (!this.conn.cluster || keys.length === 1) return pairs(await this.#eval(READ, keys, []), keys.length);
    return Promise.all(keys.map(async (k) => pairs(await this.#eval(READ, [k], []), 1)[0]!));
  }

  /**
   * One key's value and absolute expiry with `GET` and `PEXPIRETIME` written together (about three times cheaper
   * for the server than the script). Not atomic, and need not be: a key deleted between the two reads as missing,
   * one rewritten or touched between them gives a value that was current with an expiry that is. Servers older than
   * Redis 7 (no PEXPIRETIME) switch to the script for good.
   */
  async readOne(key: string): Promise<[value: string | null, expiresAt: number]> {
    if (!this.#pexpiretime) return (await this.read([key]))[0]!;
    let value: unknown;
    let at: unknown;
    try {
      [value, at] = await Promise.all([this.conn.send(key, ['GET', key]), this.conn.send(key, ['PEXPIRETIME', key])]);
    } catch (err) {
      if (!(err instanceof Error && /unknown command/i.test(err.message))) throw err;
      this.#pexpiretime = false;
      return this.readOne(key);
    }
    const expiresAt = Number(at);
    if (value === null || value === undefined || expiresAt === -2) return [null, -2];
    return [String(value), expiresAt];
  }

  /** `GET key`: the value alone (null when missing). */
  async value(key: string): Promise<string | null> {
    const value = await this.conn.send(key, ['GET', key]);
    return value === null || value === undefined ? null : String(value);
  }

  /** `SET key value [PXAT at]`; `guarded`: not over a tombstone (resolves false when refused). */
  async set(key: string, value: string, pxat: number | null, guarded: boolean): Promise<boolean> {
    if (guarded) return Number(await this.#eval(GUARDED_SET, [key], [value, pxat === null ? '' : pxat])) === 1;
    await this.conn.send(key, pxat === null ? ['SET', key, value] : ['SET', key, value, 'PXAT', pxat]);
    return true;
  }

  /** Replaces the key with a tombstone (an empty string) until `until`. */
  async tombstone(key: string, until: number): Promise<void> {
    await this.conn.send(key, ['SET', key, '', 'PXAT', until]);
  }

  /** `PEXPIREAT key at`: resolves whether the key existed (Redis never resurrects a missing or expired key). */
  async pexpireat(key: string, at: number): Promise<boolean> {
    return Number(await this.conn.send(key, ['PEXPIREAT', key, at])) === 1;
  }

  /** Deletes keys: one `DEL`, or one per key on a cluster. */
  async del(keys: string[]): Promise<void> {
    if (keys.length === 0) return;
    if (!this.conn.cluster) await this.conn.send(keys[0]!, ['DEL', ...keys]);
    else await Promise.all(keys.map((k) => this.conn.send(k, ['DEL', k])));
  }

  /** The length of each key's value (0: missing, a tombstone, not a string). */
  async lengths(keys: string[]): Promise<number[]> {
    if (keys.length === 0) return [];
    if (!this.conn.cluster) return ((await this.#eval(LENGTHS, keys, [])) as unknown[]).map(Number);
    return Promise.all(keys.map(async (k) => Number(((await this.#eval(LENGTHS, [k], [])) as unknown[])[0])));
  }

  /**
   * Keys starting with the literal `prefix`, in batches of about `count`, from every master. The prefix is
   * glob-escaped, so `*`, `?`, `[`, `]` and `\` in it match only themselves. Keys may repeat (SCAN semantics).
   */
  async *scan(prefix: string, count: number): AsyncIterable<string[]> {
    const keyPrefix = this.conn.keyPrefix;
    const match = `${escapeGlob(keyPrefix + prefix)}*`;
    for (const node of await this.conn.masters()) {
      let cursor = '0';
      do {
        const [next, keys] = (await node(['SCAN', cursor, 'MATCH', match, 'COUNT', count])) as [unknown, unknown[]];
        cursor = String(next);
        if (keys.length > 0) yield keys.map((k) => String(k).slice(keyPrefix.length));
      } while (cursor !== '0');
    }
  }

  /** Indexes `sid` under its owner until at least `until`. */
  async ownerAdd(ownerKey: string, sid: string, until: number | null): Promise<void> {
    await this.#eval(OWNER_ADD, [ownerKey], [sid, until ?? -1]);
  }

  /** The sids indexed under an owner. */
  async ownerMembers(ownerKey: string): Promise<string[]> {
    return ((await this.conn.send(ownerKey, ['SMEMBERS', ownerKey])) as unknown[]).map(String);
  }

  /** Drops sids from an owner's index. */
  async ownerRemove(ownerKey: string, sids: string[]): Promise<void> {
    if (sids.length > 0) await this.conn.send(ownerKey, ['SREM', ownerKey, ...sids]);
  }

  /** `PING` to every master: answers only when they all do. */
  async ping(): Promise<void> {
    await Promise.all((await this.conn.masters()).map((node) => node(['PING'])));
  }

  async #eval(script: Script, keys: string[], args: Array<string | number>): Promise<unknown> {
    const tail = [keys.length, ...keys, ...args];
    try {
      return await this.conn.send(keys[0]!, ['EVALSHA', script.sha, ...tail]);
    } catch (err) {
      if (!(err instanceof Error && err.message.startsWith('NOSCRIPT'))) throw err;
      return this.conn.send(keys[0]!, ['EVAL', script.text, ...tail]);
    }
  }
}

/** Escapes Redis glob metacharacters so `prefix` matches only itself in `SCAN MATCH`. */
export function escapeGlob(prefix: string): string {
  return prefix.replace(/[*?[\]\\]/g, '\\$&');
}

/** Pairs up the flat `[value, at, value, at, …]` reply of the read script. */
function pairs(reply: unknown, count: number): Array<[string | null, number]> {
  const flat = reply as unknown[];
  const out: Array<[string | null, number]> = [];
  for (let i = 0; i < count; i++) {
    const value = flat[2 * i];
    out.push([value === null || value === undefined ? null : String(value), Number(flat[2 * i + 1] ?? -2)]);
  }
  return out;
}

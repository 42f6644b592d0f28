import { createHash } from 'node:crypto';

/**
 * What RedisStore needs from a Redis client, whatever the library. One adapter per client family
 * (ioredis, node-redis) implements it; each method is one network round trip unless it says otherwise.
 */
export interface RedisAdapter {
  /** Whether the client is a Redis Cluster client: multi-key commands must then stay within one slot. */
  readonly cluster: boolean;
  /**
   * Each key's value and absolute expiry in epoch ms (`-1`: no expiry, `-2`: missing), read atomically by one
   * script. Standalone: one command for all keys. Cluster: one command per key, sent together.
   */
  read(keys: string[]): Promise<Array<[value: string | null, expiresAt: number]>>;
  /** One key's value and absolute expiry, in one round trip (see {@link singleKeyReader}). */
  readOne(key: string): Promise<[value: string | null, expiresAt: number]>;
  /** `SET key value [PXAT at]`: one command. */
  set(key: string, value: string, pxat: number | null): Promise<void>;
  /** `PEXPIREAT key at`: resolves whether the key existed (Redis never resurrects a missing or expired key). */
  pexpireat(key: string, at: number): Promise<boolean>;
  /** Deletes keys. Standalone: one `DEL`. Cluster: one `DEL` per key, sent together (never cross-slot). */
  del(keys: string[]): Promise<void>;
  /**
   * Keys starting with the literal `prefix`, in batches of about `count`, from every master node. The prefix is
   * glob-escaped here, so `*`, `?`, `[`, `]` and `\` in it match only themselves. Keys may repeat (SCAN semantics).
   */
  scan(prefix: string, count: number): AsyncIterable<string[]>;
  /**
   * Calls `listener(true)` when the client becomes ready and `listener(false)` when it loses its connection,
   * through one set of client listeners shared by every store on the client. Returns what stops this watch.
   */
  watch(listener: (up: boolean) => void): () => void;
  /**
   * Whether the client can serve commands: false for a node-redis client on which `connect()` was never called (or
   * that was closed), and for an ioredis client that was quit. A client still connecting queues commands: usable.
   */
  usable(): boolean;
  /** `PING`, bypassing nothing: answers only when the server does. */
  ping(): Promise<void>;
}

/**
 * Reads value and absolute expiry of every key in one atomic step. `PEXPIRETIME` (Redis 7) gives the stored
 * expiry exactly; older servers derive it from the server clock and `PTTL`. The absolute value matters: `now +
 * PTTL` on the client would shift a freshly written `cookie.expires` by the round-trip time.
 */
export const READ_SCRIPT = `
local out = {}
for i, key in ipairs(KEYS) do
  local value = redis.call('GET', key)
  local at = -2
  if value then
    local ok, t = pcall(redis.call, 'PEXPIRETIME', key)
    if ok then
      at = t
    else
      local ttl = redis.call('PTTL', key)
      if ttl < 0 then
        at = ttl
      else
        local now = redis.call('TIME')
        at = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000) + ttl
      end
    end
  end
  out[2 * i - 1] = value
  out[2 * i] = at
end
return out
`;

/** SHA1 of {@link READ_SCRIPT}, for `EVALSHA`. */
export const READ_SCRIPT_SHA = createHash('sha1').update(READ_SCRIPT).digest('hex');

/** Escapes Redis glob metacharacters so `prefix` matches only itself in `SCAN MATCH`. */
export function escapeGlob(prefix: string): string {
  return prefix.replace(/[*?[\]\\]/g, '\\$&');
}

/** Pairs up the flat `[value, at, value, at, …]` reply of {@link READ_SCRIPT}. */
export function pairReply(reply: unknown, count: number): Array<[string | null, number]> {
  const flat = reply as unknown[];
  const out: Array<[string | null, number]> = [];
  for (let i = 0; i < count; i++) {
    const value = flat[2 * i];
    out.push([value === null || value === undefined ? null : String(value), Number(flat[2 * i + 1] ?? -2)]);
  }
  return out;
}

/** True for the error Redis answers `EVALSHA` with when the script is not cached on that node. */
export function isNoScript(err: unknown): boolean {
  return err instanceof Error && err.message.startsWith('NOSCRIPT');
}

/**
 * Reads one key's value and absolute expiry with `GET` and `PEXPIRETIME` sent together on the connection (one round
 * trip, and about three times cheaper for the server than the Lua script). Not atomic, and need not be: a key
 * deleted between the two reads as missing, one rewritten or touched between them keeps a value that was current
 * with an expiry that is current. Servers older than Redis 7 (no PEXPIRETIME) switch to the script for good.
 */
export function singleKeyReader(
  command: (name: string, key: string) => Promise<unknown>,
  script: (key: string) => Promise<[string | null, number]>,
): (key: string) => Promise<[string | null, number]> {
  let pexpiretime = true;
  return async (key) => {
    if (!pexpiretime) return script(key);
    let value: unknown;
    let at: unknown;
    try {
      [value, at] = await Promise.all([command('GET', key), command('PEXPIRETIME', key)]);
    } catch (err) {
      if (!(err instanceof Error && /unknown command/i.test(err.message))) throw err;
      pexpiretime = false;
      return script(key);
    }
    const expiresAt = Number(at);
    if (value === null || value === undefined || expiresAt === -2) return [null, -2];
    return [String(value), expiresAt];
  };
}

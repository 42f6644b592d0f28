import { createHash } from 'node:crypto';

/** A Lua script and its SHA1, for `EVALSHA` with an `EVAL` fallback. */
export interface Script {
  text: string;
  sha: string;
}

const script = (text: string): Script => ({ text, sha: createHash('sha1').update(text).digest('hex') });

/**
 * Reads value and absolute expiry of every key in one atomic step. `PEXPIRETIME` (Redis 7) gives the stored
 * expiry exactly; older servers derive it from the server clock and `PTTL`. The absolute value matters: `now +
 * PTTL` on the client would shift a freshly written `cookie.expires` by the round-trip time. A key of another
 * type under the prefix (not ours) reads as missing instead of failing the whole batch.
 */
export const READ = script(`
local out = {}
for i, key in ipairs(KEYS) do
  local ok, value = pcall(redis.call, 'GET', key)
  if not ok then value = false end
  local at = -2
  if value then
    local has, t = pcall(redis.call, 'PEXPIRETIME', key)
    if has then
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
`);

/**
 * `SET` unless the key holds a tombstone (an empty string, see RedisStore): a write that arrives after a logout
 * leaves the logout in place. ARGV: value, PXAT (or '' for no expiry). Returns 1 when written, 0 when refused.
 */
export const GUARDED_SET = script(`
if redis.call('GET', KEYS[1]) == '' then return 0 end
if ARGV[2] == '' then redis.call('SET', KEYS[1], ARGV[1]) else redis.call('SET', KEYS[1], ARGV[1], 'PXAT', ARGV[2]) end
return 1
`);

/** The length of each key's value (0 for missing keys, tombstones and keys of another type). */
export const LENGTHS = script(`
local out = {}
for i, key in ipairs(KEYS) do
  local ok, n = pcall(redis.call, 'STRLEN', key)
  out[i] = ok and n or 0
end
return out
`);

/**
 * Adds a sid to an owner's index set and keeps the set alive at least until ARGV[2], the session's expiry in epoch
 * ms (-1: the session never expires, and neither does the set), so the index never outlives the last session it
 * can list by more than that. PTTL and TIME rather than PEXPIRETIME, for servers older than Redis 7.
 */
export const OWNER_ADD = script(`
local existed = redis.call('EXISTS', KEYS[1])
redis.call('SADD', KEYS[1], ARGV[1])
local at = tonumber(ARGV[2])
if at < 0 then
  redis.call('PERSIST', KEYS[1])
  return 1
end
local ttl = redis.call('PTTL', KEYS[1])
if existed == 1 and ttl == -1 then return 1 end
local now = redis.call('TIME')
local left = at - (tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000))
if existed == 0 or ttl < left then redis.call('PEXPIREAT', KEYS[1], at) end
return 1
`);

/**
 * connect-redis 9 with a node-redis client, as its README sets it up: `createClient()`, `connect()`, then
 * `new RedisStore({ client, prefix })`. `prefix` is its documented way to keep applications apart, so it
 * carries the suite's namespace; `ttl` (seconds or a function of the session) and `disableTouch` are
 * documented options too. It stores whole-second TTLs (`EX`), hence no ms precision.
 */
import { RedisStore } from 'connect-redis';
import { createClient } from 'redis';
import type { Capabilities, FactoryHints } from '../../../conformance/options.js';
import { redisServer, uniqueName } from '../../servers/index.js';

const server = await redisServer();
const client = createClient({ url: server.url });
await client.connect();
const base = uniqueName('connect_redis');
let counter = 0;

export const name = 'connect-redis';
export const backend = server.description;

export const capabilities: Partial<Capabilities> = {
  ttlOption: true,
  disableTouch: true,
  namespaces: true,
  touchAfter: false,
  msPrecision: false,
};

export default function factory(hints: FactoryHints = {}): RedisStore {
  return new RedisStore({
    client,
    // Encoded so that no namespace's prefix is a prefix of another's ("a:" vs "a:b:").
    prefix: `${base}:${encodeURIComponent(hints.namespace ?? `s${++counter}`)}:`,
    ttl: hints.ttl,
    disableTouch: hints.disableTouch,
  });
}

/** The client is shared by every store (connect-redis has no close()); the run's keys expire by their TTL. */
export async function cleanup(): Promise<void> {
  await client.close();
}

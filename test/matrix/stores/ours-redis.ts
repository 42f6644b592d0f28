/** Our RedisStore with a node-redis client (like the connect-redis row), a key prefix per store. */
import { createClient } from 'redis';
import { RedisStore } from '../../../stores/redis/index.js';
import type { FactoryHints } from '../../../conformance/options.js';
import { hintOptions } from './hints.js';
import { redisRaw } from '../../stores/raw.js';
import { redisServer, uniqueName } from '../../servers/index.js';

const server = await redisServer();
const client = createClient({ url: server.url });
await client.connect();
const base = uniqueName('session_stores');
let counter = 0;

export const name = 'session-stores RedisStore';
export const backend = server.description;
/** What the backend holds, read through its own client or files: for the atRest group. */
export const raw = redisRaw;

export default function factory(hints: FactoryHints = {}): RedisStore {
  return new RedisStore({
    client,
    // Encoded so that no namespace's prefix is a prefix of another's ("a:" vs "a:b:").
    prefix: `${base}:${encodeURIComponent(hints.namespace ?? `s${++counter}`)}:`,
    ...hintOptions(hints),
  });
}

/** Stores leave a client they were given open; it is closed once, here. */
export async function cleanup(): Promise<void> {
  await client.close();
}

export { RedisStore, type RedisStoreOptions, type RedisClient } from './store.js';
export type { IoRedisLike } from './adapter-ioredis.js';
export type { NodeRedisClientLike, NodeRedisClusterLike } from './adapter-node-redis.js';
export { SessionStoreError, ErrorCode, isSessionStoreError } from '../../shared/errors.js';
import { RedisStore } from './store.js';
export default RedisStore;

export { RedisStore, type RedisStoreOptions, type RedisClient } from './store.js';
export type { IoRedisLike } from './connection-ioredis.js';
export type { NodeRedisClientLike, NodeRedisClusterLike } from './connection-node-redis.js';
export { SessionStoreError, ErrorCode, isSessionStoreError } from '../../shared/errors.js';
import { RedisStore } from './store.js';
export default RedisStore;

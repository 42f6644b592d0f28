export { SessionStore, type SessionMap } from './store.js';
export { SessionStoreError, ErrorCode, isSessionStoreError, backendError, type ErrorCodeValue } from './errors.js';
export { type Serializer, jsonSerializer } from './serializer.js';
export { type Callback, settle } from './callback.js';
export { resolveExpiry, cookieExpiry } from './expiry.js';
export { Scheduler } from './scheduler.js';
export type { BaseStoreOptions, BackendInfo, StoreCapabilities, StoredRecord, Ttl } from './types.js';

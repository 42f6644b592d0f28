/**
 * session-stores: the shared base. Everything a third party needs to write a store of its own (extend
 * {@link SessionStore}, implement its hooks, run the conformance suite) and to handle errors; nothing else.
 * @packageDocumentation
 */
export { SessionStore, storeOptions, type SessionMap, type SessionList, type OwnedSession } from './store.js';
export { SessionStoreError, ErrorCode, isSessionStoreError, type ErrorCodeValue } from './errors.js';
export { type Serializer, jsonSerializer } from './serializer.js';
export type { Callback } from './callback.js';
export type { OptionSpec, Check, Alias } from './options.js';
export type { BaseStoreOptions, BackendInfo, StoreCapabilities, StoredRecord, Ttl, WriteContext } from './types.js';
export type { EncryptionOptions } from './encryption.js';
export type { HashIdsOptions } from './hashed-ids.js';

export { MongoStore, type AutoRemoveState } from './store.js';
export type { AutoRemove, MongoClientLike, MongoSessionPayload, MongoStoreOptions } from './options.js';
export type { SessionDocument } from './document.js';
export { documentSerializer, stringSerializer } from './serializers.js';
export { SessionStoreError, ErrorCode, isSessionStoreError } from '../../shared/errors.js';
import { MongoStore } from './store.js';
export default MongoStore;

export { DynamoDBStore } from './store.js';
export type { DynamoDBStoreOptions, SpecialKey } from './options.js';
export type { TimeToLiveState } from './table.js';
export { SessionStoreError, ErrorCode, isSessionStoreError } from '../../shared/errors.js';
import { DynamoDBStore } from './store.js';
export default DynamoDBStore;

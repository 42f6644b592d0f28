export { MemoryStore, type MemoryStoreOptions } from './store.js';
export { SessionStoreError, ErrorCode, isSessionStoreError } from '../../shared/errors.js';
import { MemoryStore } from './store.js';
export default MemoryStore;

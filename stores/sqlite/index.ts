export { SQLiteStore, type SQLiteStoreOptions } from './store.js';
export { SessionStoreError, ErrorCode, isSessionStoreError } from '../../shared/errors.js';
import { SQLiteStore } from './store.js';
export default SQLiteStore;

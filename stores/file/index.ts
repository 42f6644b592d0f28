export { FileStore, type FileStoreOptions } from './store.js';
export { SessionStoreError, ErrorCode, isSessionStoreError } from '../../shared/errors.js';
import { FileStore } from './store.js';
export default FileStore;

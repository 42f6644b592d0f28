export { FileStore } from './store.js';
export type { FileStoreOptions } from './options.js';
export { SessionStoreError, ErrorCode, isSessionStoreError } from '../../shared/errors.js';
import { FileStore } from './store.js';
export default FileStore;

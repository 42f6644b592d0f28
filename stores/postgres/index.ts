export { PostgresStore, type PostgresStoreOptions } from './store.js';
export type { TableSchema } from './sql.js';
export { SessionStoreError, ErrorCode, isSessionStoreError } from '../../shared/errors.js';
import { PostgresStore } from './store.js';
export default PostgresStore;

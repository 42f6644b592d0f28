export { PostgresStore, type PostgresStoreOptions } from './store.js';
export type { TableLayout } from './sql.js';
export { SessionStoreError, ErrorCode, isSessionStoreError } from '../../shared/errors.js';
import { PostgresStore } from './store.js';
export default PostgresStore;

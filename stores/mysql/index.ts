export { MySQLStore, type MySQLStoreOptions, type MySQLSchemaOptions } from './store.js';
export type { TableInfo } from './table.js';
export { SessionStoreError, ErrorCode, isSessionStoreError } from '../../shared/errors.js';
import { MySQLStore } from './store.js';
export default MySQLStore;

export { SQLiteStore, type SQLiteStoreOptions } from './sqlite-store.js';
export { SQLiteStore as default } from './sqlite-store.js';

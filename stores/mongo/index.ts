export { MongoStore, type AutoRemoveState } from './mongo-store.js';
export type { AutoRemove, MongoSessionPayload, MongoStoreOptions } from './options.js';
export type { SessionDocument } from './document.js';
export { documentSerializer, stringSerializer } from './serializers.js';

import { MongoStore } from './mongo-store.js';
export default MongoStore;

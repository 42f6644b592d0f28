import type { Kind } from '../../test/servers/types.js';
import type { BackendFactory } from '../lib/contender.js';

/** A backend the harness knows: which server it needs and how to load its contenders (lazily). */
export interface BackendEntry {
  server?: Kind;
  load(): Promise<BackendFactory>;
}

/** Every backend, in the order they are run and reported. */
export const BACKENDS: Record<string, BackendEntry> = {
  memory: { load: async () => (await import('./memory.js')).memory },
  sqlite: { load: async () => (await import('./sqlite.js')).sqlite },
  file: { load: async () => (await import('./file.js')).file },
  redis: { server: 'redis', load: async () => (await import('./redis.js')).redis },
  postgres: { server: 'postgres', load: async () => (await import('./postgres.js')).postgres },
  mongo: { server: 'mongo', load: async () => (await import('./mongo.js')).mongo },
  dynamodb: { server: 'dynamodb', load: async () => (await import('./dynamodb.js')).dynamodb },
  mysql: { server: 'mysql', load: async () => (await import('./mysql.js')).mysqlBackend },
};

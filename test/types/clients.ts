// Compiled (never run) by test/types.test.ts against the published declarations, under several module settings:
// every supported client is accepted without a cast, and what cannot work is rejected by the types.
import Database from 'better-sqlite3';
import { Cluster, Redis } from 'ioredis';
import { MongoClient } from 'mongodb';
import { MongoClient as MongoClient5 } from 'mongodb5';
import { MongoClient as MongoClient7 } from 'mongodb7';
import pg from 'pg';
import { createClient, createCluster } from 'redis';
import { createClient as createClient4, createCluster as createCluster4 } from 'redis4';
import { createClient as createClient6, createCluster as createCluster6 } from 'redis6';
import { type SessionStore, SessionStoreError } from 'session-stores';
import { FileStore } from 'session-stores/file';
import { MemoryStore } from 'session-stores/memory';
import { MongoStore } from 'session-stores/mongo';
import { PostgresStore } from 'session-stores/postgres';
import { RedisStore } from 'session-stores/redis';
import { SQLiteStore } from 'session-stores/sqlite';

export const stores: SessionStore[] = [
  new RedisStore(new Redis()),
  new RedisStore({ client: new Cluster([{ host: '127.0.0.1', port: 7000 }]) }),
  new RedisStore(createClient()),
  new RedisStore({ client: createCluster({ rootNodes: [] }) }),
  new RedisStore(createClient4()),
  new RedisStore(createCluster4({ rootNodes: [] })),
  new RedisStore(createClient6()),
  new RedisStore(createCluster6({ rootNodes: [] })),
  new PostgresStore(new pg.Pool()),
  new PostgresStore({ client: new pg.Pool(), createTableIfMissing: true }),
  new PostgresStore('postgres://localhost/app'),
  new MongoStore(new MongoClient('mongodb://localhost')),
  new MongoStore({ client: new MongoClient5('mongodb://localhost'), dbName: 'app' }),
  new MongoStore({ client: new MongoClient7('mongodb://localhost'), dbName: 'app' }),
  new MongoStore({ clientPromise: MongoClient.connect('mongodb://localhost') }),
  new SQLiteStore(new Database(':memory:')),
  new SQLiteStore({ filename: 'sessions.db' }),
  new FileStore({ path: './sessions' }),
  new FileStore('./sessions'),
  new MemoryStore({ max: 1000 }),
];

// @ts-expect-error a pg.Client is not a pool: it serves one query at a time, and unconnected it never answers
export const client = new PostgresStore(new pg.Client());
// @ts-expect-error a misspelt option
export const typo = new MemoryStore({ chekPeriod: 1000 });

export const isStoreError = (err: unknown): boolean => err instanceof SessionStoreError && err.code === 'SESSION_STORE_INVALID_OPTION';

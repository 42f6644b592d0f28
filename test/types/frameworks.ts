// Compiled (never run) by test/types.test.ts: koa-session and @fastify/session accept this package's stores without casts.
import fastifyCookie from '@fastify/cookie';
import fastifySession from '@fastify/session';
import Database from 'better-sqlite3';
import session from 'express-session';
import Fastify from 'fastify';
import { Redis } from 'ioredis';
import Koa from 'koa';
import koaSession from 'koa-session';
import pg from 'pg';
import { FileStore } from 'session-stores/file';
import { koaStore } from 'session-stores/koa';
import { MemoryStore } from 'session-stores/memory';
import { PostgresStore } from 'session-stores/postgres';
import { RedisStore } from 'session-stores/redis';
import { SQLiteStore } from 'session-stores/sqlite';

const koa = new Koa();
koa.keys = ['secret'];
koa.use(koaSession({ store: koaStore(new SQLiteStore(new Database(':memory:'))), maxAge: 86_400_000 }, koa));
koa.use(koaSession(koa, { store: koaStore(new RedisStore(new Redis())), maxAge: 'session', rolling: true }));
koa.use(koaSession({ store: koaStore(new PostgresStore(new pg.Pool())), prefix: 'sess:', renew: true }, koa));
koa.use(koaSession({ store: koaStore(new session.MemoryStore()), genid: () => 'id' }, koa));
export const koaStores = [koaStore(new MemoryStore()), koaStore(new FileStore('./sessions'))];
export const closing: Promise<void> = koaStores[0]!.store.close();

const fastify = Fastify();
fastify.register(fastifyCookie);
fastify.register(fastifySession, {
  secret: 'a secret with minimum length of 32 characters',
  store: new SQLiteStore({ filename: 'sessions.db' }),
});
fastify.register(fastifySession, { secret: 'a secret with minimum length of 32 characters', store: new RedisStore(new Redis()) });
fastify.register(fastifySession, {
  secret: 'a secret with minimum length of 32 characters',
  store: new MemoryStore(),
  cookie: { maxAge: 60_000 },
});
fastify.register(fastifySession, { secret: 'a secret with minimum length of 32 characters', store: new PostgresStore(new pg.Pool()) });

// @ts-expect-error koa-session needs the adapter: a store's get(sid, callback) is not koa's get(key, maxAge, options)
koa.use(koaSession({ store: new MemoryStore() }, koa));

/**
 * Drop-in with connect-redis 9 (which takes node-redis clients only): sessions written by either store are
 * read, listed, touched and destroyed by the other, directly and through real express-session apps sharing a
 * cookie secret, so switching stores logs nobody out.
 */
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { RedisStore as ConnectRedisStore } from 'connect-redis';
import express from 'express';
import session, { type SessionData, type Store } from 'express-session';
import { createClient } from 'redis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisStore, type RedisClient } from '../../stores/redis/index.js';
import { serverOrSkip, uniqueName } from '../servers/index.js';
import { HOUR, sess } from './helpers.js';

const redis = await serverOrSkip('redis');

const json = (v: unknown): unknown => JSON.parse(JSON.stringify(v));

describe.skipIf(!redis)('RedisStore ⇄ connect-redis 9', () => {
  let client: ReturnType<typeof createClient>;
  let ours: RedisStore;
  let theirs: ConnectRedisStore;
  const prefix = `${uniqueName('interop')}:`;

  beforeAll(async () => {
    client = await createClient({ url: redis!.url })
      .on('error', () => {})
      .connect();
    ours = new RedisStore({ client: client as unknown as RedisClient, prefix });
    theirs = new ConnectRedisStore({ client, prefix });
  });
  afterAll(async () => {
    await ours?.clear();
    await ours?.close();
    await client?.close();
  });

  it('reads what connect-redis wrote, and lists, touches and destroys it', async () => {
    const expires = Date.now() + HOUR;
    const written = sess(expires, { user: 'ann', roles: ['a', 'b'], n: 1 });
    await theirs.set('cr-1', written);
    const read = json(await ours.get('cr-1')) as { cookie: { expires: string } };
    // connect-redis rounds the key's TTL up to whole seconds; we report the key's real expiry.
    const readAt = new Date(read.cookie.expires).getTime();
    expect(readAt - expires).toBeGreaterThanOrEqual(0);
    expect(readAt - expires).toBeLessThan(1_000);
    expect({ ...read, cookie: { ...read.cookie, expires: null } }).toEqual(
      json({ ...written, cookie: { ...written.cookie, expires: null } }),
    );
    expect(await ours.ids()).toContain('cr-1');
    expect((await ours.all()).map((s) => s.id)).toContain('cr-1');
    await ours.touch('cr-1', sess(expires + 5_000, { user: 'ann' }));
    expect(await client.sendCommand(['PEXPIRETIME', `${prefix}cr-1`])).toBe(expires + 5_000);
    await ours.destroy('cr-1');
    expect(await theirs.get('cr-1')).toBeNull();
  });

  it('connect-redis never reads a tombstone or an owner set as a session', async () => {
    const owned = new RedisStore({ client: client as unknown as RedisClient, prefix, owner: 'user' });
    try {
      await owned.set('tomb', sess(Date.now() + HOUR, { user: 'zoe' }));
      await owned.set('kept', sess(Date.now() + HOUR, { user: 'zoe' }));
      await owned.destroy('tomb');
      expect(await client.get(`${prefix}tomb`)).toBe('');
      expect(await theirs.get('tomb')).toBeNull();
      const listed = ((await theirs.all()) as Array<{ id: string }>).map((s) => s.id);
      expect(listed).toContain('kept');
      expect(listed).not.toContain('tomb');
      // connect-redis' ids() and length() count keys, so they include the tombstone; ours do not.
      expect(await owned.ids()).not.toContain('tomb');
      // The owner set lives outside the prefix: connect-redis never meets it.
      expect(await client.exists(`${owned.ownerPrefix}zoe`)).toBe(1);
      expect(((await theirs.ids()) as string[]).some((id) => id.includes('zoe'))).toBe(false);
      // connect-redis' own destroy of a tombstone just deletes it.
      await theirs.destroy('tomb');
      expect(await client.exists(`${prefix}tomb`)).toBe(0);
      await theirs.destroy('kept');
    } finally {
      await owned.close();
    }
  });

  it('connect-redis reads, lists, touches and destroys what RedisStore wrote', async () => {
    const expires = Date.now() + HOUR;
    const written = sess(expires, { user: 'bob', nested: { deep: [1, { x: 'y' }] } });
    await ours.set('ss-1', written);
    expect(await client.get(`${prefix}ss-1`)).toBe(JSON.stringify(written));
    expect(json(await theirs.get('ss-1'))).toEqual(json(written));
    expect(await theirs.ids()).toContain('ss-1');
    // connect-redis touches in whole seconds; we read the expiry back exactly as Redis keeps it.
    await theirs.touch('ss-1', sess(expires + 60_000));
    const touched = (await ours.get('ss-1')) as SessionData;
    const at = new Date(touched.cookie.expires as unknown as string).getTime();
    expect(Math.abs(at - (expires + 60_000))).toBeLessThan(1_500);
    await theirs.destroy('ss-1');
    expect(await ours.get('ss-1')).toBeNull();
  });

  it('a browser-session cookie (expires null) gets the default ttl in both', async () => {
    await ours.set('ss-null', sess(null, { a: 1 }));
    const pttl = await client.pTTL(`${prefix}ss-null`);
    expect(pttl).toBeGreaterThan(86_400_000 - 5_000);
    expect(pttl).toBeLessThanOrEqual(86_400_000);
    expect(json(await theirs.get('ss-null'))).toEqual(json(sess(null, { a: 1 })));
    await theirs.set('cr-null', sess(null, { b: 2 }));
    expect(((await ours.get('cr-null')) as unknown as { b: number }).b).toBe(2);
  });

  it('a user logged in through connect-redis stays logged in after switching to RedisStore, and back', async () => {
    const secret = 'interop secret';
    const app = (store: Store) => {
      const a = express();
      a.use(session({ store, secret, resave: false, saveUninitialized: false, cookie: { maxAge: HOUR } }));
      a.post('/login', (req, res) => {
        (req.session as unknown as { user: string }).user = 'carol';
        res.send('ok');
      });
      a.post('/visit', (req, res) => {
        const s = req.session as unknown as { user?: string; visits?: number };
        s.visits = (s.visits ?? 0) + 1;
        res.json({ user: s.user ?? null, visits: s.visits });
      });
      a.get('/me', (req, res) => {
        const s = req.session as unknown as { user?: string; visits?: number };
        res.json({ user: s.user ?? null, visits: s.visits ?? 0 });
      });
      return a;
    };
    const servers: Server[] = [];
    const listen = async (store: Store): Promise<string> => {
      const server = app(store).listen(0, '127.0.0.1');
      servers.push(server);
      await new Promise((resolve) => server.once('listening', resolve));
      return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    };
    try {
      const before = await listen(theirs);
      const after = await listen(ours);
      const login = await fetch(`${before}/login`, { method: 'POST' });
      await login.text(); // the body comes after the store's save completes; the headers come before
      const cookie = login.headers.get('set-cookie')!.split(';')[0]!;
      expect(await (await fetch(`${after}/me`, { headers: { cookie } })).json()).toEqual({ user: 'carol', visits: 0 });
      expect(await (await fetch(`${after}/visit`, { method: 'POST', headers: { cookie } })).json()).toEqual({ user: 'carol', visits: 1 });
      // And back again: a rollback to connect-redis keeps what RedisStore wrote.
      expect(await (await fetch(`${before}/me`, { headers: { cookie } })).json()).toEqual({ user: 'carol', visits: 1 });
    } finally {
      for (const s of servers) s.close();
    }
  });
});

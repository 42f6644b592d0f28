/**
 * Drop-in with connect-dynamodb 3: on one table, sessions written by either store are read, touched and destroyed
 * by the other, directly and through real express-session apps sharing a cookie secret, so switching stores logs
 * nobody out.
 */
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { promisify } from 'node:util';
import { DeleteTableCommand, DynamoDBClient, GetItemCommand } from '@aws-sdk/client-dynamodb';
import connectDynamoDB from 'connect-dynamodb';
import express from 'express';
import session, { type SessionData, type Store } from 'express-session';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoDBStore } from '../../stores/dynamodb/index.js';
import { serverOrSkip, uniqueName } from '../servers/index.js';
import { dynamoClientConfig } from '../servers/probe.js';
import { HOUR } from './helpers.js';

const server = await serverOrSkip('dynamodb');

const json = (v: unknown): unknown => JSON.parse(JSON.stringify(v));

/** connect-dynamodb's store, with promises. */
interface Theirs {
  store: Store;
  get(sid: string): Promise<SessionData | null | undefined>;
  set(sid: string, s: SessionData): Promise<void>;
  touch(sid: string, s: SessionData): Promise<void>;
  destroy(sid: string): Promise<void>;
}

/** A session as express-session hands it to a store: connect-dynamodb reads `cookie.maxAge`. */
function cookieSession(maxAge: number, data: Record<string, unknown> = {}): SessionData {
  return {
    cookie: { originalMaxAge: maxAge, maxAge, expires: new Date(Date.now() + maxAge), httpOnly: true, path: '/' },
    ...data,
  } as unknown as SessionData;
}

describe.skipIf(!server)('DynamoDBStore ⇄ connect-dynamodb 3', () => {
  let client: DynamoDBClient;
  let ours: DynamoDBStore;
  let theirs: Theirs;
  const table = uniqueName('interop');

  beforeAll(async () => {
    client = new DynamoDBClient(dynamoClientConfig(server!.url));
    ours = new DynamoDBStore({ client, table, createTable: true });
    await ours.ready();
    const ConnectDynamoDBStore = connectDynamoDB(session) as unknown as new (options: object) => Store;
    const store = new ConnectDynamoDBStore({ client, table });
    const s = store as unknown as Record<string, (...args: unknown[]) => void>;
    theirs = {
      store,
      get: promisify(s.get!.bind(store)) as Theirs['get'],
      set: promisify(s.set!.bind(store)) as Theirs['set'],
      touch: promisify(s.touch!.bind(store)) as Theirs['touch'],
      destroy: promisify(s.destroy!.bind(store)) as Theirs['destroy'],
    };
  });
  afterAll(async () => {
    await ours?.close();
    await client?.send(new DeleteTableCommand({ TableName: table })).catch(() => {});
    client?.destroy();
  });

  const item = async (id: string) =>
    (await client.send(new GetItemCommand({ TableName: table, Key: { id: { S: id } }, ConsistentRead: true }))).Item;

  it('reads what connect-dynamodb wrote, and lists, touches and destroys it', async () => {
    const written = cookieSession(HOUR, { user: 'ann', roles: ['a', 'b'], n: 1 });
    const before = Math.floor(Date.now() / 1000);
    await theirs.set('cd-1', written);
    // connect-dynamodb stores `floor(now in s) + maxAge / 1000`, not the cookie's expiry; we report the item's.
    const read = json(await ours.get('cd-1')) as { cookie: { expires: string } };
    const drift = new Date(read.cookie.expires).getTime() - (written.cookie.expires as Date).getTime();
    expect(Math.abs(drift)).toBeLessThan(1_000);
    expect({ ...read, cookie: { ...read.cookie, expires: null } }).toEqual(
      json({ ...written, cookie: { ...written.cookie, expires: null } }),
    );
    // connect-dynamodb writes seconds, fractional ("now + maxAge / 1000"); we read them to the ms.
    const expires = Number((await item('sess:cd-1'))?.expires?.N);
    expect(expires).toBeGreaterThanOrEqual(before + 3600);
    expect(await ours.ids()).toContain('cd-1');
    expect(Object.keys(await ours.all())).toContain('cd-1');
    const later = Date.now() + 2 * HOUR;
    await ours.touch('cd-1', cookieSession(2 * HOUR, { user: 'ann' }));
    const touched = await item('sess:cd-1');
    expect(Number(touched?.expiresMs?.N)).toBeGreaterThanOrEqual(later);
    expect(Number(touched?.expires?.N)).toBe(Math.ceil(Number(touched?.expiresMs?.N) / 1000));
    expect(json(await theirs.get('cd-1'))).toEqual(json(written));
    await ours.destroy('cd-1');
    expect(await theirs.get('cd-1')).toBeNull();
  });

  it('connect-dynamodb reads, touches and destroys what we wrote; its touch moves our expiry too', async () => {
    const written = cookieSession(HOUR, { user: 'bob', nested: { deep: [1, 2, { x: 'ü' }] } });
    await ours.set('ours-1', written);
    expect(json(await theirs.get('ours-1'))).toEqual(json(written));
    // connect-dynamodb's touch sets `expires` only: our expiresMs no longer agrees, so `expires` wins.
    await theirs.touch('ours-1', cookieSession(3 * HOUR));
    const touched = await item('sess:ours-1');
    const seconds = Number(touched?.expires?.N);
    expect(seconds * 1000).toBeGreaterThan(Date.now() + 2.9 * HOUR);
    const read = (await ours.get('ours-1')) as SessionData;
    expect(read).toMatchObject({ user: 'bob' });
    const [listed] = (await ours.ids()).filter((id) => id === 'ours-1');
    expect(listed).toBe('ours-1');
    // Our touch of it works again (the condition reads `expires` where expiresMs disagrees).
    await ours.touch('ours-1', cookieSession(4 * HOUR));
    expect(Number((await item('sess:ours-1'))?.expiresMs?.N)).toBeGreaterThan(Date.now() + 3.9 * HOUR);
    await theirs.destroy('ours-1');
    expect(await ours.get('ours-1')).toBeNull();
  });

  it('connect-dynamodb reads a tombstone as no session; neither store returns an expired item TTL has not deleted', async () => {
    await ours.set('t-1', cookieSession(HOUR, { user: 'cy' }));
    await ours.destroy('t-1');
    expect(await theirs.get('t-1')).toBeNull();
    // connect-dynamodb writing an already-expired session (maxAge < 0): an item TTL would delete later.
    await theirs.set('old', cookieSession(-5_000, { user: 'old' }));
    expect(await ours.get('old')).toBeNull();
    expect(await ours.ids()).not.toContain('old');
    await ours.touch('old', cookieSession(HOUR));
    expect(await theirs.get('old')).toBeNull();
    expect(await ours.get('old')).toBeNull();
  });

  it('express apps on either store share the same logged-in sessions', async () => {
    const apps: Server[] = [];
    const start = async (store: Store): Promise<string> => {
      const app = express();
      app.use(session({ store, secret: 'interop', resave: false, saveUninitialized: false, cookie: { maxAge: HOUR } }));
      app.get('/login', (req, res) => {
        (req.session as unknown as { user: string }).user = 'dee';
        res.send('ok');
      });
      app.get('/me', (req, res) => {
        (req.session as unknown as { visits?: number }).visits = ((req.session as unknown as { visits?: number }).visits ?? 0) + 1;
        res.json({ user: (req.session as unknown as { user?: string }).user ?? null });
      });
      const http = app.listen(0, '127.0.0.1');
      await new Promise((r) => http.once('listening', r));
      apps.push(http);
      return `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
    };
    try {
      const [viaTheirs, viaOurs] = [await start(theirs.store), await start(ours)];
      for (const [from, to] of [
        [viaTheirs, viaOurs],
        [viaOurs, viaTheirs],
      ] as const) {
        const login = await fetch(`${from}/login`);
        const cookie = login.headers.get('set-cookie')!.split(';')[0]!;
        const me = await fetch(`${to}/me`, { headers: { cookie } });
        expect(await me.json()).toEqual({ user: 'dee' });
        const again = await fetch(`${from}/me`, { headers: { cookie } });
        expect(await again.json()).toEqual({ user: 'dee' });
      }
    } finally {
      for (const http of apps) {
        http.closeAllConnections();
        await new Promise((r) => http.close(r));
      }
    }
  });
});

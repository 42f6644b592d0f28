/**
 * Drop-in proof against session-file-store 1.5 on one directory, both ways: sessions it wrote are read (with its
 * sliding expiry rule), touched and pruned by FileStore; sessions FileStore wrote are read, touched and rewritten
 * by it, and FileStore still reads them correctly afterwards (its stale `__expires` copy is not trusted).
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import session from 'express-session';
import type { SessionData, Store } from 'express-session';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { FileStore } from '../../stores/file/index.js';
import { HOUR } from './helpers.js';

const require = createRequire(import.meta.url);
const sessionFileStore = require('session-file-store') as (s: typeof session) => new (options: object) => Store;
const LegacyFileStore = sessionFileStore(session);

const outer = mkdtempSync(join(tmpdir(), 'file-interop-'));
afterAll(() => rmSync(outer, { recursive: true, force: true }));
const opened: FileStore[] = [];
afterEach(async () => {
  for (const store of opened.splice(0)) if (!store.closed) await store.close();
});

let n = 0;

function pair(ttl = 3600): { dir: string; ours: FileStore; legacy: Store; legacyApi: LegacyApi } {
  const dir = join(outer, `d${++n}`);
  const legacy = new LegacyFileStore({ path: dir, ttl, retries: 0, logFn() {}, reapInterval: -1 });
  const ours = new FileStore({ path: dir, ttl, reapInterval: -1 });
  opened.push(ours);
  return { dir, ours, legacy, legacyApi: promisified(legacy) };
}

interface LegacyApi {
  get(sid: string): Promise<SessionData | null>;
  set(sid: string, s: SessionData): Promise<void>;
  touch(sid: string, s: SessionData): Promise<void>;
  length(): Promise<number>;
}

function promisified(store: Store): LegacyApi {
  return {
    get: (sid) => promisify(store.get.bind(store))(sid).then((s) => s ?? null) as Promise<SessionData | null>,
    set: (sid, s) => promisify(store.set.bind(store))(sid, s) as Promise<void>,
    touch: (sid, s) => promisify(store.touch!.bind(store))(sid, s) as Promise<void>,
    length: () => promisify(store.length!.bind(store))() as Promise<number>,
  };
}

/** What express-session hands a store: the JSON view of a session with a cookie. */
function sess(maxAge: number | null, data: Record<string, unknown> = {}): SessionData {
  return JSON.parse(
    JSON.stringify({
      cookie: { originalMaxAge: maxAge, expires: maxAge === null ? null : new Date(Date.now() + maxAge), httpOnly: true, path: '/' },
      ...data,
    }),
  ) as SessionData;
}

/** Strips session-file-store's bookkeeping so both stores' results compare. */
function plain(s: SessionData | null): Record<string, unknown> | null {
  if (!s) return s;
  const { __lastAccess: _a, __expires: _b, __writtenAt: _c, cookie: _d, ...rest } = s as unknown as Record<string, unknown>;
  return rest;
}

describe('session-file-store → FileStore', () => {
  it('reads its sessions (default express-session sids, mixed case) with their data and expiry', async () => {
    const { dir, ours, legacyApi } = pair();
    const sid = 'Xk3_9-aBcDeFgHiJkLmNoPqRsTuVwXyZ';
    await legacyApi.set(sid, sess(60_000, { user: 'ann', cart: [1, 2] }));
    expect(readdirSync(dir)).toEqual([`${sid}.json`]);
    const got = await ours.get(sid);
    expect(plain(got)).toEqual({ user: 'ann', cart: [1, 2] });
    expect(Object.keys(got!)).not.toContain('__lastAccess');
    const file = JSON.parse(readFileSync(join(dir, `${sid}.json`), 'utf8'));
    // Sliding rule: __lastAccess + originalMaxAge (+1 ms: it expires once that sum is strictly past).
    expect(new Date(got!.cookie.expires as unknown as string).getTime()).toBe(file.__lastAccess + 60_000 + 1);
    expect(await ours.ids()).toEqual([sid]);
    expect(await ours.length()).toBe(1);
  });

  it('honours its expiry: idle longer than originalMaxAge / ttl is gone, for get, ids and prune', async () => {
    const { dir, ours, legacyApi } = pair(10);
    await legacyApi.set('idle', sess(60_000, { a: 1 }));
    await legacyApi.set('browser', sess(null, { b: 1 }));
    await legacyApi.set('active', sess(60_000, { c: 1 }));
    // Age the first two as if last accessed long ago (session-file-store keeps no other clock).
    for (const [sid, age] of [
      ['idle', 61_000],
      ['browser', 11_000],
    ] as const) {
      const path = join(dir, `${sid}.json`);
      const body = JSON.parse(readFileSync(path, 'utf8'));
      body.__lastAccess -= age;
      writeFileSync(path, JSON.stringify(body));
    }
    expect(await ours.get('idle')).toBeNull();
    expect(await ours.get('browser')).toBeNull();
    expect(plain(await ours.get('active'))).toEqual({ c: 1 });
    expect(await ours.ids()).toEqual(['active']);
    // And both stores agree on what is expired.
    expect(await legacyApi.get('idle')).toBeNull();
    expect(await ours.prune()).toBe(2);
    expect(readdirSync(dir)).toEqual(['active.json']);
  });

  it('touches its sessions without changing data, and it still reads them', async () => {
    const { ours, legacyApi } = pair();
    await legacyApi.set('t', sess(60_000, { a: 1 }));
    const touching = sess(HOUR, { a: 2 });
    await ours.touch('t', touching);
    const got = await ours.get('t');
    expect(plain(got)).toEqual({ a: 1 });
    expect(got!.cookie.expires).toBe(touching.cookie.expires);
    expect(plain(await legacyApi.get('t'))).toEqual({ a: 1 });
  });
});

describe('FileStore → session-file-store', () => {
  it('its get() reads our sessions (envelope fields are ignored), its length() counts them', async () => {
    const { ours, legacyApi } = pair();
    await ours.set('Mixed_Case-sid', sess(60_000, { user: 'bob' }));
    await ours.set('browser', sess(null, { b: 1 }));
    expect(plain(await legacyApi.get('Mixed_Case-sid'))).toEqual({ user: 'bob' });
    expect(plain(await legacyApi.get('browser'))).toEqual({ b: 1 });
    expect(await legacyApi.length()).toBe(2);
  });

  it('its expiry of our files matches ours (lastAccess + originalMaxAge)', async () => {
    const { dir, ours } = pair();
    const before = Date.now();
    await ours.set('e', sess(60_000));
    const file = JSON.parse(readFileSync(join(dir, 'e.json'), 'utf8'));
    // session-file-store: expired once __lastAccess + originalMaxAge < now; ours: __expires. They differ by the time
    // between express-session setting the cookie (expires = then + originalMaxAge) and the write (__lastAccess): never
    // negative, and no more than the time this write took, measured from what the store stored.
    const drift = file.__lastAccess + file.cookie.originalMaxAge - file.__expires;
    expect(drift).toBeGreaterThanOrEqual(0);
    expect(drift).toBeLessThanOrEqual(file.__lastAccess - before + 1);
  });

  it('after it rewrites one of our sessions, we use its rule, not the stale __expires it copied', async () => {
    const { dir, ours, legacyApi } = pair();
    await ours.set('r', sess(50, { v: 1 }));
    // As express-session under session-file-store would: load, then save with a longer cookie.
    const loaded = (await legacyApi.get('r')) as unknown as Record<string, unknown>;
    expect(loaded.__expires).toBeDefined(); // express-session carries unknown fields along
    await legacyApi.set('r', { ...loaded, cookie: sess(HOUR).cookie } as unknown as SessionData);
    await new Promise((r) => setTimeout(r, 80));
    const file = JSON.parse(readFileSync(join(dir, 'r.json'), 'utf8'));
    expect(file.__writtenAt).not.toBe(file.__lastAccess);
    expect(plain(await ours.get('r'))).toEqual({ v: 1 });
  });

  it('its touch() of our session keeps it readable by us', async () => {
    const { ours, legacyApi } = pair();
    await ours.set('lt', sess(60_000, { v: 1 }));
    await legacyApi.touch('lt', sess(HOUR));
    expect(plain(await ours.get('lt'))).toEqual({ v: 1 });
  });

  it('a tombstone our destroy() leaves is no session to session-file-store, and does not crash it', async () => {
    const { dir, ours, legacy, legacyApi } = pair();
    await ours.set('gone', sess(60_000, { user: 'ann' }));
    await ours.destroy('gone');
    expect(readFileSync(join(dir, 'gone.json'), 'utf8')).toBe('null');
    expect(await legacyApi.get('gone')).toBeNull();
    const expired = (sid: string): Promise<boolean | undefined> =>
      new Promise((resolve, reject) =>
        (legacy as unknown as { expired(s: string, c: (err: unknown, v?: boolean) => void): void }).expired(sid, (err, v) =>
          err ? reject(err) : resolve(v),
        ),
      );
    expect(await expired('gone')).toBe(true);
    // A late write through our store is refused; session-file-store still sees no session.
    await ours.set('gone', sess(60_000, { user: 'ann' }));
    expect(await legacyApi.get('gone')).toBeNull();
    expect(await ours.get('gone')).toBeNull();
  });

  it('the owner index is invisible to session-file-store: its list() and length() count session files only', async () => {
    const dir = join(outer, `own${++n}`);
    const legacy = new LegacyFileStore({ path: dir, retries: 0, logFn() {}, reapInterval: -1 });
    const ours = new FileStore({ path: dir, reapInterval: -1, owner: 'user' });
    opened.push(ours);
    await ours.set('o1', sess(60_000, { user: 'ann' }));
    await ours.set('o2', sess(60_000, { user: 'ann' }));
    expect(readdirSync(dir).sort()).toEqual(['.owners', 'o1.json', 'o2.json']);
    const list = (): Promise<string[]> =>
      new Promise((resolve, reject) =>
        (legacy as unknown as { list(c: (err: unknown, v: string[]) => void): void }).list((err, v) => (err ? reject(err) : resolve(v))),
      );
    expect((await list()).sort()).toEqual(['o1.json', 'o2.json']);
    expect(await promisified(legacy).length()).toBe(2);
    expect(plain(await promisified(legacy).get('o1'))).toEqual({ user: 'ann' });
    expect((await ours.sessionsOf('ann')).map((s) => s.sid).sort()).toEqual(['o1', 'o2']);
  });

  it('hostile sids we encode never reach session-file-store as paths', async () => {
    const { dir, ours } = pair();
    await ours.set('../escape', sess(60_000));
    expect(readdirSync(dir)).toEqual([expect.stringMatching(/^~[a-z2-7]+\.json$/)]);
    expect(readdirSync(outer)).not.toContain('escape.json');
  });
});

// session-file-store's own options and methods, as its documentation and test suite use them (issue 14).
describe('FileStore: session-file-store options and methods', () => {
  // A binary format of the user's choice: JSON, base64-wrapped, written as Buffers (`encoding: null`).
  const encoder = (value: object): Buffer => Buffer.from(Buffer.from(JSON.stringify(value)).toString('base64'), 'latin1');
  const decoder = (data: string | Buffer): unknown => JSON.parse(Buffer.from(data.toString(), 'base64').toString());

  it('encoder / decoder / encoding: both stores read and write each other’s encoded files', async () => {
    const dir = join(outer, `enc${++n}`);
    const legacyApi = promisified(
      new LegacyFileStore({ path: dir, retries: 0, logFn() {}, reapInterval: -1, encoder, decoder, encoding: null }),
    );
    const ours = new FileStore({ path: dir, reapInterval: -1, encoder, decoder, encoding: null });
    opened.push(ours);
    await ours.set('ours', sess(HOUR, { by: 'ours' }));
    await legacyApi.set('theirs', sess(HOUR, { by: 'theirs' }));
    expect(readFileSync(join(dir, 'ours.json'), 'latin1')).not.toContain('{'); // encoded, not JSON
    expect(await legacyApi.get('ours')).toMatchObject({ by: 'ours' });
    expect(await ours.get('theirs')).toMatchObject({ by: 'theirs' });
    await ours.touch('theirs', sess(2 * HOUR, { by: 'theirs' }));
    expect(await legacyApi.get('theirs')).toMatchObject({ by: 'theirs' });
    expect((await ours.ids()).sort()).toEqual(['ours', 'theirs']);
    // A tombstone goes through the encoder too: session-file-store's decoder reads null (no session).
    await ours.destroy('ours');
    expect(await legacyApi.get('ours')).toBeNull();
    expect(await ours.get('ours')).toBeNull();
    expect(await ours.ids()).toEqual(['theirs']);
  });

  it('list() names the session files; expired() says whether a sid has no live session', async () => {
    const { ours, legacyApi } = pair();
    await ours.set('a', sess(HOUR));
    await legacyApi.set('b', sess(HOUR));
    await ours.set('gone', sess(HOUR));
    await ours.touch('gone', sess(-1)); // expired as stored
    expect((await ours.list()).sort()).toEqual(['a.json', 'b.json', 'gone.json']);
    expect(await ours.expired('a')).toBe(false);
    expect(await ours.expired('b')).toBe(false);
    expect(await ours.expired('gone')).toBe(true);
    expect(await ours.expired('never')).toBe(true);
    expect(await new Promise((resolve) => ours.list((err, names) => resolve([err, names?.length])))).toEqual([null, 3]);
  });

  it('fallbackSessionFn gives the session of a sid without a file, without storing it', async () => {
    const dir = join(outer, `fb${++n}`);
    const ours = new FileStore({ path: dir, reapInterval: -1, fallbackSessionFn: (sid) => sess(HOUR, { fallback: sid }) });
    opened.push(ours);
    expect(await ours.get('nobody')).toMatchObject({ fallback: 'nobody' });
    expect(await ours.ids()).toEqual([]);
  });

  it('secret: null or false means no encryption, as in session-file-store', () => {
    for (const secret of [null, false] as const) opened.push(new FileStore({ path: join(outer, `s${++n}`), secret }));
  });

  describe("session-file-store's secret (kruptein format)", () => {
    const secret = 'squirrel';
    function secretPair(): { dir: string; ours: FileStore; legacyApi: LegacyApi; legacy: Store } {
      const dir = join(outer, `enc${++n}`);
      const legacy = new LegacyFileStore({ path: dir, ttl: 3600, retries: 0, logFn() {}, reapInterval: -1, secret });
      const ours = new FileStore({ path: dir, ttl: 3600, reapInterval: -1, secret });
      opened.push(ours);
      return { dir, ours, legacy, legacyApi: promisified(legacy) };
    }

    it('both ways: each reads and touches what the other encrypted; nothing readable on disk', async () => {
      const { dir, ours, legacyApi } = secretPair();
      await legacyApi.set('theirs', sess(HOUR, { user: 'alice', card: '4111' }));
      await ours.set('mine', sess(HOUR, { user: 'bob', card: '5500' }));
      for (const name of readdirSync(dir)) expect(readFileSync(join(dir, name), 'utf8')).not.toMatch(/alice|bob|4111|5500/);
      expect(await ours.get('theirs')).toMatchObject({ user: 'alice', card: '4111' });
      expect(await legacyApi.get('mine')).toMatchObject({ user: 'bob', card: '5500' });
      await ours.touch('theirs', sess(2 * HOUR, { user: 'alice', card: '4111' }));
      expect(await legacyApi.get('theirs')).toMatchObject({ user: 'alice' });
      await legacyApi.touch('mine', sess(2 * HOUR, { user: 'bob', card: '5500' }));
      expect(await ours.get('mine')).toMatchObject({ user: 'bob' });
      expect((await ours.ids()).sort()).toEqual(['mine', 'theirs']);
      await ours.destroy('theirs');
      expect(await ours.get('theirs')).toBeNull();
    });

    it('a file tampered with, encrypted with another secret, or not encrypted reads as no session with an error event', async () => {
      const { dir, ours, legacyApi } = secretPair();
      const errors: unknown[] = [];
      ours.on('error', (err: unknown) => errors.push(err));
      await legacyApi.set('t', sess(HOUR, { n: 1 }));
      const file = join(dir, 't.json');
      const sealed = JSON.parse(readFileSync(file, 'utf8')) as { ct: string };
      sealed.ct = (sealed.ct[0] === 'A' ? 'B' : 'A') + sealed.ct.slice(1);
      writeFileSync(file, JSON.stringify(sealed));
      expect(await ours.get('t')).toBeNull();
      const other = new LegacyFileStore({ path: dir, ttl: 3600, retries: 0, logFn() {}, reapInterval: -1, secret: 'another' });
      await promisified(other).set('o', sess(HOUR, { n: 2 }));
      expect(await ours.get('o')).toBeNull();
      const plain = new FileStore({ path: dir, reapInterval: -1 });
      opened.push(plain);
      await plain.set('p', sess(HOUR, { n: 3 }));
      expect(await ours.get('p')).toBeNull();
      expect(errors).toHaveLength(3);
    });
  });
});

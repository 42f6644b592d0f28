import { randomBytes } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { SessionData } from 'express-session';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { isSessionStoreError } from '../../shared/errors.js';
import { FileStore, type FileStoreOptions } from '../../stores/file/index.js';
import FileStoreDefault from '../../stores/file/index.js';
import { fileNameOf, sidOfName } from '../../stores/file/names.js';
import { AT_REST_MODES, type AtRestMode, conformanceIn, HOUR, atRestOptions, sess, STORAGE_GROUPS } from './helpers.js';
import { fileRaw } from './raw.js';

// Everything lives inside `outer`: a file appearing beside `root` means a sid escaped its directory.
const outer = mkdtempSync(join(tmpdir(), 'file-store-'));
const root = join(outer, 'stores');
afterAll(() => rmSync(outer, { recursive: true, force: true }));

const opened: FileStore[] = [];
afterEach(async () => {
  for (const store of opened.splice(0)) if (!store.closed) await store.close();
});

function open(options: FileStoreOptions = {}): FileStore {
  const store = new FileStore({ path: join(root, randomBytes(6).toString('hex')), reapInterval: -1, ...options });
  opened.push(store);
  return store;
}

/** Every path under `dir`, recursively, relative to it. */
function tree(dir: string): string[] {
  return (readdirSync(dir, { recursive: true }) as string[]).sort();
}

// The whole suite plain, then with sessions encrypted, under hashed ids, and both (issue 17).
// session-file-store's `secret` (its kruptein format): every group but atRest, which checks our own `encryption`.
const secretMode: AtRestMode = {
  label: "session-file-store's secret",
  options: {},
  groups: STORAGE_GROUPS.filter((g) => g !== 'atRest'),
};
for (const mode of [undefined, ...AT_REST_MODES, secretMode]) {
  conformanceIn(mode, {
    test: it,
    describe,
    name: mode ? `file (${mode.label})` : 'file',
    raw: fileRaw,
    factory: (opts) =>
      new FileStore({
        path: join(root, opts?.namespace ?? randomBytes(6).toString('hex')),
        ttl: opts?.ttl,
        touchAfter: opts?.touchAfter,
        disableTouch: opts?.disableTouch,
        owner: opts?.owner,
        reapInterval: -1,
        // A hang guard, not a speed requirement: 50 writes of one sid queue behind each other, and on a machine
        // with every core busy they take longer than the 5 s default (the timeout itself is tested elsewhere).
        operationTimeoutMs: 30_000,
        ...(mode === secretMode ? { secret: 'squirrel' } : atRestOptions(opts, mode)),
      }),
    teardown: async (store) => {
      const s = store as FileStore;
      if (!s.closed) await s.close();
    },
  });
}

describe('FileStore: layout (session-file-store compatible)', () => {
  it('exports the class as named and default export', () => {
    expect(FileStoreDefault).toBe(FileStore);
  });

  it('writes <path>/<sid>.json = { ...session, __lastAccess, __expires, __writtenAt }', async () => {
    const store = open();
    const expires = Date.now() + HOUR;
    const before = Date.now();
    await store.set('Abc_-123', sess(expires, { n: 1 }));
    expect(readdirSync(store.path)).toEqual(['Abc_-123.json']);
    const file = JSON.parse(readFileSync(join(store.path, 'Abc_-123.json'), 'utf8'));
    expect(file).toMatchObject({ n: 1, __expires: expires, cookie: { expires: new Date(expires).toISOString() } });
    expect(file.__lastAccess).toBeGreaterThanOrEqual(before);
    expect(file.__writtenAt).toBe(file.__lastAccess);
    const got = await store.get('Abc_-123');
    expect(got).toEqual({
      n: 1,
      cookie: { originalMaxAge: expect.any(Number), expires: new Date(expires).toISOString(), httpOnly: true, path: '/' },
    });
  });

  it('applies session-file-store expiry to its files: __lastAccess + (originalMaxAge || ttl)', async () => {
    const store = open({ ttl: 10 });
    const now = Date.now();
    const write = (sid: string, body: object) => writeFileSync(join(store.path, `${sid}.json`), JSON.stringify(body));
    await store.length(); // creates the directory
    write('fresh', { cookie: { originalMaxAge: 60_000, expires: null }, a: 1, __lastAccess: now - 30_000 });
    write('stale', { cookie: { originalMaxAge: 60_000, expires: new Date(now + HOUR) }, a: 2, __lastAccess: now - 61_000 });
    write('ttlfresh', { cookie: { originalMaxAge: null, expires: null }, a: 3, __lastAccess: now - 5_000 });
    write('ttlstale', { cookie: { originalMaxAge: null, expires: null }, a: 4, __lastAccess: now - 11_000 });
    expect(await store.get('fresh')).toMatchObject({ a: 1 });
    expect(await store.get('stale')).toBeNull();
    expect(await store.get('ttlfresh')).toMatchObject({ a: 3 });
    expect(await store.get('ttlstale')).toBeNull();
    // Envelope fields never reach the application.
    expect(Object.keys((await store.get('fresh'))!)).toEqual(['cookie', 'a']);
    expect((await store.ids()).sort()).toEqual(['fresh', 'ttlfresh']);
  });

  it('ignores a stale __expires carried along by another writer (session-file-store rewrote the file)', async () => {
    const store = open();
    const now = Date.now();
    await store.length();
    // Our old expiry (in the past) copied forward by session-file-store with a fresh __lastAccess.
    writeFileSync(
      join(store.path, 'carried.json'),
      JSON.stringify({ cookie: { originalMaxAge: 60_000 }, n: 1, __lastAccess: now, __expires: now - 1000, __writtenAt: now - 120_000 }),
    );
    expect(await store.get('carried')).toMatchObject({ n: 1 });
  });

  it('touch rewrites __lastAccess/__expires and the stored cookie, never the data, never resurrects', async () => {
    const store = open();
    await store.set('t', sess(Date.now() + 60_000, { n: 1 }));
    const later = Date.now() + HOUR;
    await store.touch('t', sess(later, { n: 999 }));
    const file = JSON.parse(readFileSync(join(store.path, 't.json'), 'utf8'));
    expect(file.n).toBe(1);
    expect(file.__expires).toBe(later);
    expect(file.cookie.expires).toBe(new Date(later).toISOString());
    await store.destroy('t');
    await store.touch('t', sess(later));
    // What destroy() left is a tombstone, and touch() did not make it a session again.
    expect(readFileSync(join(store.path, 't.json'), 'utf8')).toBe('null');
    expect(await store.get('t')).toBeNull();
    await store.set('short', sess(Date.now() + 50));
    await sleep(80);
    await store.touch('short', sess(later));
    expect(await store.get('short')).toBeNull();
  });

  it('keeps session keys named __payload and __sid (only reserved in their modes)', async () => {
    const store = open();
    await store.set('k', sess(Date.now() + HOUR, { __payload: 'x', __sid: 'y' }));
    expect(await store.get('k')).toMatchObject({ __payload: 'x', __sid: 'y' });
  });

  it('wraps the payload of a custom serializer', async () => {
    const serializer = {
      stringify: (s: SessionData) => Buffer.from(JSON.stringify(s)).toString('base64'),
      parse: (text: string) => JSON.parse(Buffer.from(text, 'base64').toString()) as SessionData,
    };
    const store = open({ serializer });
    await store.set('w', sess(Date.now() + HOUR, { n: 7 }));
    const file = JSON.parse(readFileSync(join(store.path, 'w.json'), 'utf8'));
    expect(typeof file.__payload).toBe('string');
    expect(await store.get('w')).toMatchObject({ n: 7 });
    await store.touch('w', sess(Date.now() + 2 * HOUR));
    expect(await store.get('w')).toMatchObject({ n: 7 });
  });

  it('reports an unparseable file as a miss and keeps it', async () => {
    const store = open();
    await store.length();
    writeFileSync(join(store.path, 'bad.json'), '{"cookie":');
    expect(await store.get('bad')).toBeNull();
    expect(existsSync(join(store.path, 'bad.json'))).toBe(true);
  });

  it('rejects bad options with SESSION_STORE_INVALID_OPTION', () => {
    for (const bad of [
      { fileExtension: '/json' },
      { fileExtension: '..' },
      { shard: 5 },
      { shard: 1.5 },
      { reapInterval: -2 },
      { path: '' },
      { secret: '' },
      { secret: 's', encoder: JSON.stringify },
      { secret: 's', encryption: { keys: [Buffer.alloc(32)] } },
    ] as FileStoreOptions[]) {
      let caught: unknown;
      try {
        new FileStore({ reapInterval: -1, ...bad });
      } catch (err) {
        caught = err;
      }
      expect(isSessionStoreError(caught, 'SESSION_STORE_INVALID_OPTION'), JSON.stringify(bad)).toBe(true);
    }
  });
});

describe('FileStore: file names', () => {
  const HOSTILE = [
    '..',
    '.',
    '../x',
    '../../etc/passwd',
    '/etc/passwd',
    'a/b',
    'a\\b',
    'C:\\x',
    'C:x',
    '\\\\?\\C:\\x',
    'a:b',
    'x.',
    'x ',
    ' x',
    'CON',
    'con',
    'nul',
    'COM1',
    'lpt9',
    'AUX',
    'con.txt',
    '*',
    '?',
    '<>|"',
    '~',
    '~abc',
    '~~',
    '.json',
    'a.json',
    '%2e%2e',
    '😀',
    'ünï',
    'cafe\u0301',
    'caf\u00e9',
    'k'.repeat(1024),
    'é'.repeat(200),
    'x'.repeat(201),
    '__proto__',
  ];

  it('stores hostile sids inside the directory only, readable back, listed by their real sid', async () => {
    const box = mkdtempSync(join(outer, 'box-'));
    const store = open({ path: join(box, 'a', 'b', 'store') });
    const expires = Date.now() + HOUR;
    for (const [i, sid] of HOSTILE.entries()) await store.set(sid, sess(expires, { i }));
    // Nothing appeared outside the store directory, not even two levels up.
    expect(tree(box)).toEqual(
      ['a', join('a', 'b'), join('a', 'b', 'store'), ...readdirSync(store.path).map((n) => join('a', 'b', 'store', n))].sort(),
    );
    const names = readdirSync(store.path);
    expect(names).toHaveLength(HOSTILE.length);
    for (const name of names) {
      expect(Buffer.byteLength(name)).toBeLessThanOrEqual(255);
      // Portable on every OS: no separators, reserved characters, trailing dot/space, or device names.
      expect(name).toMatch(/^[A-Za-z0-9_~-]+\.json$/);
      expect(name.slice(0, -5)).not.toMatch(/^(con|prn|aux|nul|com\d|lpt\d)$/i);
    }
    for (const [i, sid] of HOSTILE.entries()) expect(await store.get(sid), sid).toMatchObject({ i });
    expect((await store.ids()).sort()).toEqual([...HOSTILE].sort());
    for (const sid of HOSTILE) await store.destroy(sid);
    // Tombstones under the same names, until clear() (or pruning, once their window ends).
    expect(readdirSync(store.path).sort()).toEqual([...names].sort());
    for (const name of names) expect(readFileSync(join(store.path, name), 'utf8')).toBe('null');
    await store.clear();
    expect(readdirSync(store.path)).toEqual([]);
  });

  it('maps sids so that no two differ only by case (safe on case-insensitive disks)', () => {
    const sids = ['A', 'a', 'Ab', 'aB', 'ab', 'AB', 'XyZ_-1', 'xyz_-1', 'É', 'é', 'con', 'CON'];
    for (const caseSensitive of [true, false]) {
      const names = sids.map((sid) => fileNameOf(sid, '.json', caseSensitive).name);
      if (!caseSensitive) expect(new Set(names.map((n) => n.toLowerCase())).size).toBe(sids.length);
      else expect(new Set(names).size).toBe(sids.length);
      for (const [i, sid] of sids.entries()) expect(sidOfName(names[i]!, '.json', caseSensitive)).toBe(sid);
    }
    // Default express-session sids keep session-file-store's name on case-sensitive disks.
    expect(fileNameOf('Xk3_9-aBcDeFgHiJkLmNoPqRsTuVwXyZ01', '.json', true).name).toBe('Xk3_9-aBcDeFgHiJkLmNoPqRsTuVwXyZ01.json');
    expect(fileNameOf('lowercase-sid', '.json', false).name).toBe('lowercase-sid.json');
  });

  it('keeps A and a apart in a store that believes its disk is case-insensitive', async () => {
    const store = open({ caseSensitive: false });
    await store.set('A', sess(Date.now() + HOUR, { v: 'upper' }));
    await store.set('a', sess(Date.now() + HOUR, { v: 'lower' }));
    expect(new Set(readdirSync(store.path).map((n) => n.toLowerCase())).size).toBe(2);
    expect(await store.get('A')).toMatchObject({ v: 'upper' });
    expect(await store.get('a')).toMatchObject({ v: 'lower' });
    expect((await store.ids()).sort()).toEqual(['A', 'a']);
  });

  it('probes the directory for case sensitivity', async () => {
    const store = open();
    // Linux tmpfs/ext4 are case-sensitive; the probe leaves no file behind.
    expect(await store.isCaseSensitive()).toBe(process.platform === 'linux');
    expect(readdirSync(store.path)).toEqual([]);
  });

  it('ignores foreign and non-canonical files in listings', async () => {
    const store = open();
    await store.set('real', sess(Date.now() + HOUR));
    const foreign = { cookie: { originalMaxAge: HOUR }, __lastAccess: Date.now() };
    for (const name of ['notes.txt', 'x.y.json', '~YQ.json', '~mfrgg===.json', '.hidden.json', 'CON.json'])
      writeFileSync(join(store.path, name), JSON.stringify(foreign));
    expect(await store.ids()).toEqual(['real']);
    await store.clear();
    expect(readdirSync(store.path).sort()).toEqual(
      ['.hidden.json', 'CON.json', 'notes.txt', 'x.y.json', '~YQ.json', '~mfrgg===.json'].sort(),
    );
  });
});

describe('FileStore: options', () => {
  it('fsync: true writes the same files (and survives reads/touches)', async () => {
    const store = open({ fsync: true });
    await store.set('f', sess(Date.now() + HOUR, { n: 1 }));
    await store.touch('f', sess(Date.now() + 2 * HOUR));
    expect(await store.get('f')).toMatchObject({ n: 1 });
    expect(readdirSync(store.path)).toEqual(['f.json']);
  });

  it('shard: 2 spreads files over hex subdirectories and still lists, prunes and clears them', async () => {
    const store = open({ shard: 2 });
    const sids = Array.from({ length: 40 }, (_, i) => `s${i}`);
    for (const sid of sids) await store.set(sid, sess(Date.now() + HOUR));
    await store.set('gone', sess(Date.now() + 50));
    const dirs = readdirSync(store.path);
    expect(dirs.length).toBeGreaterThan(10);
    expect(dirs.every((d) => /^[0-9a-f]{2}$/.test(d))).toBe(true);
    expect(tree(store.path).filter((p) => p.endsWith('.json'))).toHaveLength(41);
    await sleep(80);
    expect(await store.prune()).toBe(1);
    expect((await store.ids()).sort()).toEqual([...sids].sort());
    expect(await store.length()).toBe(40);
    await store.clear();
    expect(tree(store.path).filter((p) => p.endsWith('.json'))).toEqual([]);
  });

  it('fileExtension names the files', async () => {
    const store = open({ fileExtension: '.sess' });
    await store.set('e', sess(Date.now() + HOUR));
    expect(readdirSync(store.path)).toEqual(['e.sess']);
    expect(await store.ids()).toEqual(['e']);
  });

  it("accepts session-file-store's retry and reaper tuning options (documented there) and works as without them", async () => {
    const store = open({ retries: 2, factor: 2, minTimeout: 10, maxTimeout: 20, reapAsync: true, reapSyncFallback: true, logFn() {} });
    await store.set('t', sess(Date.now() + HOUR, { n: 2 }));
    expect(await store.get('t')).toMatchObject({ n: 2 });
    expect(readdirSync(store.path)).toEqual(['t.json']);
  });

  it('defaults: ttl 3600 s for browser-session cookies', async () => {
    const store = open();
    const before = Date.now();
    await store.set('b', sess(null));
    const file = JSON.parse(readFileSync(join(store.path, 'b.json'), 'utf8'));
    expect(file.__expires - before).toBeGreaterThanOrEqual(3_600_000);
    expect(file.__expires - Date.now()).toBeLessThanOrEqual(3_600_000);
  });
});

describe('FileStore: pruning', () => {
  it('deletes expired sessions (ours and session-file-store ones), stale temp files, keeps the rest', async () => {
    const store = open({ pruneBatchSize: 7 });
    const now = Date.now();
    for (let i = 0; i < 25; i++) await store.set(`old${i}`, sess(now + HOUR));
    for (let i = 0; i < 10; i++) await store.set(`live${i}`, sess(now + HOUR));
    // Expired as stored, however long the writes took: a touch with a past cookie moves the expiry into the past.
    for (let i = 0; i < 25; i++) await store.touch(`old${i}`, sess(Date.now() - 1));
    writeFileSync(join(store.path, 'legacy.json'), JSON.stringify({ cookie: { originalMaxAge: 1000 }, __lastAccess: now - 5000 }));
    const staleTemp = join(store.path, '.~tmp-1-1-aaaaaaaaaaaa');
    const freshTemp = join(store.path, '.~tmp-1-2-bbbbbbbbbbbb');
    writeFileSync(staleTemp, '{"torn');
    writeFileSync(freshTemp, '{"in flight');
    const old = new Date(now - 11 * 60_000);
    utimesSync(staleTemp, old, old);
    expect(await store.prune()).toBe(26);
    expect(existsSync(staleTemp)).toBe(false);
    expect(existsSync(freshTemp)).toBe(true);
    expect((await store.ids()).sort()).toEqual(Array.from({ length: 10 }, (_, i) => `live${i}`).sort());
    expect(await store.prune()).toBe(0);
  });

  it('never deletes files that hold no session, however old (unparseable text, JSON of another program)', async () => {
    const store = open({ ttl: 1 });
    await store.ready();
    const bad = join(store.path, 'bad.json');
    const foreign = join(store.path, 'package.json');
    writeFileSync(bad, 'garbage');
    writeFileSync(foreign, JSON.stringify({ name: 'app', version: '1.0.0' }));
    const old = new Date(Date.now() - 3_600_000);
    for (const path of [bad, foreign]) utimesSync(path, old, old);
    expect(await store.prune()).toBe(0);
    await store.clear();
    expect([existsSync(bad), existsSync(foreign)]).toEqual([true, true]);
    expect(await store.get('package')).toBeNull();
    expect(await store.ids()).toEqual([]);
  });

  it('never deletes a session rewritten after it was found expired', async () => {
    const store = open();
    await store.set('r', sess(Date.now() + 50));
    await sleep(80);
    const before = statSync(join(store.path, 'r.json')).ino;
    // A new write replaces the inode; a stale view of the old file must not delete the new one.
    await store.set('r', sess(Date.now() + HOUR, { again: true }));
    expect(statSync(join(store.path, 'r.json')).ino).not.toBe(before);
    expect(await store.prune()).toBe(0);
    expect(await store.get('r')).toMatchObject({ again: true });
  });

  it('reapInterval schedules pruning in seconds; -1 disables it', async () => {
    const store = open({ reapInterval: 0.05 });
    await store.set('p', sess(Date.now() + 50));
    const deadline = Date.now() + 10_000;
    while (readdirSync(store.path).length > 0) {
      if (Date.now() > deadline) throw new Error('the reaper never deleted the expired session');
      await sleep(10);
    }
  });
});

describe('FileStore: tombstones and the owner index', () => {
  /** Moves a file's mtime into the past: what the passage of time does, without waiting for it. */
  const age = (path: string, ms: number): void => utimesSync(path, new Date(Date.now() - ms), new Date(Date.now() - ms));

  it('destroy() leaves <sid>.json = null with the end of the revocation window as mtime; prune() removes it once ended', async () => {
    const store = open({ revocationWindowMs: 60_000 });
    await store.set('t', sess(Date.now() + HOUR));
    const before = Date.now();
    await store.destroy('t');
    const path = join(store.path, 't.json');
    expect(readFileSync(path, 'utf8')).toBe('null');
    expect(statSync(path).mtimeMs).toBeGreaterThanOrEqual(before + 60_000 - 5);
    expect(await store.prune()).toBe(0);
    expect(existsSync(path)).toBe(true);
    age(path, 1000);
    await store.set('t', sess(Date.now() + HOUR, { again: true })); // the window ended: the sid may be used again
    expect(await store.get('t')).toMatchObject({ again: true });
    await store.destroy('t');
    age(path, 1000);
    expect(await store.prune()).toBe(0); // tombstones are not counted as pruned sessions
    expect(existsSync(path)).toBe(false);
  });

  it('revocationWindowMs: false deletes the file, as session-file-store does', async () => {
    const store = open({ revocationWindowMs: false });
    expect(store.supports.revocation).toBe(false);
    await store.set('t', sess(Date.now() + HOUR));
    await store.destroy('t');
    expect(readdirSync(store.path)).toEqual([]);
    await store.set('t', sess(Date.now() + HOUR, { back: true }));
    expect(await store.get('t')).toMatchObject({ back: true });
  });

  it('owner index: .owners/<sha256>/<file name> per session, stale entries removed by sessionsOf() and prune()', async () => {
    const store = open({ owner: 'user' });
    await store.set('a1', sess(Date.now() + HOUR, { user: 'ann' }));
    await store.set('a2', sess(Date.now() + HOUR, { user: 'ann' }));
    await store.set('anon', sess(Date.now() + HOUR));
    const dirs = readdirSync(join(store.path, '.owners'));
    expect(dirs).toEqual([expect.stringMatching(/^[0-9a-f]{64}$/)]);
    const ann = join(store.path, '.owners', dirs[0]!);
    expect(readdirSync(ann).sort()).toEqual(['a1.json', 'a2.json']);
    expect((await store.ids()).sort()).toEqual(['a1', 'a2', 'anon']);
    await store.destroy('a1');
    // Fresh entries are kept (a writer may be about to rename its session file into place)…
    expect((await store.sessionsOf('ann')).map((s) => s.sid)).toEqual(['a2']);
    expect(readdirSync(ann).sort()).toEqual(['a1.json', 'a2.json']);
    // …older ones of ended sessions go.
    age(join(ann, 'a1.json'), 120_000);
    expect((await store.sessionsOf('ann')).map((s) => s.sid)).toEqual(['a2']);
    expect(readdirSync(ann)).toEqual(['a2.json']);
    // prune(): entries whose session file is gone, and then empty owner directories.
    const noRevocation = open({ path: store.path, owner: 'user', revocationWindowMs: false });
    await noRevocation.destroy('a2');
    age(join(ann, 'a2.json'), 120_000);
    await store.prune();
    expect(readdirSync(join(store.path, '.owners'))).toEqual([]);
    await store.clear();
    expect(readdirSync(store.path)).toEqual([]);
  });

  it('refuses to open when .owners is a symlink (the index is never written outside the directory)', async () => {
    const box = mkdtempSync(join(outer, 'own-'));
    const elsewhere = join(box, 'elsewhere');
    mkdirSync(elsewhere);
    mkdirSync(join(box, 'store'));
    symlinkSync(elsewhere, join(box, 'store', '.owners'));
    const store = open({ path: join(box, 'store'), owner: 'user' });
    await expect(store.ready()).rejects.toThrow(/owner index/);
    expect(readdirSync(elsewhere)).toEqual([]);
  });

  it('a set() racing a destroy() of the same sid in one process never outlives the destroy', async () => {
    const store = open();
    for (let i = 0; i < 50; i++) {
      const sid = `race${i}`;
      await store.set(sid, sess(Date.now() + HOUR));
      // destroy() first, then a late set(): whatever the interleaving on disk, the tombstone wins.
      await Promise.all([store.destroy(sid), store.set(sid, sess(Date.now() + HOUR, { late: true }))]);
      expect(await store.get(sid)).toBeNull();
    }
  });
});

/**
 * Sessions at rest (the `encryption` and `hashIds` options, issue 17), beyond the conformance suite (which every
 * store's test file runs encrypted, under hashed ids and both, with the `atRest` group): what the database holds,
 * read through the backend's own client, key ids and rotation, the plaintext migration window, hashed ids without
 * encryption, the migration from plain sids, bad options refused.
 */
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { ErrorCode } from '../../shared/errors.js';
import { MemoryStore } from '../../stores/memory/index.js';
import { RedisStore } from '../../stores/redis/index.js';
import { SQLiteStore } from '../../stores/sqlite/index.js';
import { serverOrSkip, uniqueName } from '../servers/index.js';
import { HOUR, sess } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'encryption-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const KEY = randomBytes(32);
const OLD_KEY = 'an old secret string of at least thirty-two characters';
const encryption = { keys: [KEY, OLD_KEY] };

describe('what an encrypted SQLite store holds', () => {
  const file = join(dir, 'raw.db');
  const open = (options: Partial<ConstructorParameters<typeof SQLiteStore>[0] & object> = {}): SQLiteStore =>
    new SQLiteStore({ filename: file, encryption, ...options });
  const raw = (store: SQLiteStore, sid: string): string | undefined =>
    (store.client.prepare('SELECT sess FROM sessions WHERE sid = ?').get(sid) as { sess: string } | undefined)?.sess;

  it('no session field in the clear, only the sealed record and the cookie settings', async () => {
    const store = open();
    await store.set('raw-1', sess(Date.now() + HOUR, { user: 'ann', secret: 'hunter2' }));
    const stored = raw(store, 'raw-1')!;
    expect(stored).not.toMatch(/hunter2|ann|raw-1/);
    const parsed = JSON.parse(stored) as { sealed: string; cookie: { expires: string } };
    expect(Object.keys(parsed).sort()).toEqual(['cookie', 'sealed']);
    expect(parsed.sealed).toMatch(/^v1\.[\w-]{8}\.[\w-]+$/);
    expect(await store.get('raw-1')).toMatchObject({ user: 'ann', secret: 'hunter2' });
    // A fresh nonce per write: the same session saved twice is stored differently.
    await store.set('raw-1', sess(Date.now() + HOUR, { user: 'ann', secret: 'hunter2' }));
    expect(JSON.parse(raw(store, 'raw-1')!).sealed).not.toBe(parsed.sealed);
    await store.close();
  });

  it('the record is plain JSON written without a JSON pass; the same record laid out otherwise still reads', async () => {
    const filename = join(dir, 'layout.db');
    const hashed = open({ filename, hashIds: true });
    const store = open({ filename });
    for (const s of [store, hashed]) await s.set('layout-1', sess(Date.now() + HOUR, { user: 'ann' }));
    const texts = (store.client.prepare('SELECT sess FROM sessions').all() as Array<{ sess: string }>).map((r) => r.sess);
    expect(texts).toHaveLength(2);
    // Byte for byte what JSON.stringify writes (`sealed`, then `id` with hashed ids, then the cookie).
    for (const text of texts) expect(text).toBe(JSON.stringify(JSON.parse(text)));
    expect(texts.filter((t) => (JSON.parse(t) as { id?: string }).id !== undefined)).toHaveLength(1);
    // Another writer's layout of the same record: key order, whitespace, an escaped character.
    const record = JSON.parse(raw(store, 'layout-1')!) as { sealed: string; cookie: unknown };
    const layouts = [
      JSON.stringify({ cookie: record.cookie, sealed: record.sealed }),
      JSON.stringify(record, null, 2),
      JSON.stringify(record).replace('.', '\\u002e'),
      `{"sealed":"${record.sealed}" , "cookie":${JSON.stringify(record.cookie)}}`,
    ];
    for (const text of layouts) {
      store.client.prepare('UPDATE sessions SET sess = ? WHERE sid = ?').run(text, 'layout-1');
      expect(await store.get('layout-1')).toMatchObject({ user: 'ann' });
    }
    await hashed.close();
    await store.close();
  });

  it('a tampered record, or one copied to another sid, reads as a miss with an error event', async () => {
    const store = open();
    const errors: unknown[] = [];
    store.on('error', (err: unknown) => errors.push(err));
    await store.set('victim', sess(Date.now() + HOUR, { user: 'admin' }));
    await store.set('attacker', sess(Date.now() + HOUR, { user: 'eve' }));
    const victim = raw(store, 'victim')!;
    // Copy the victim's record under the attacker's sid: bound to its sid, it does not decrypt there.
    store.client.prepare('UPDATE sessions SET sess = ? WHERE sid = ?').run(victim, 'attacker');
    expect(await store.get('attacker')).toBeNull();
    // Flip one character of the ciphertext.
    const sealed = JSON.parse(victim) as { sealed: string };
    const last = sealed.sealed.at(-1) === 'A' ? 'B' : 'A';
    store.client
      .prepare('UPDATE sessions SET sess = ? WHERE sid = ?')
      .run(JSON.stringify({ sealed: sealed.sealed.slice(0, -1) + last }), 'victim');
    expect(await store.get('victim')).toBeNull();
    expect(errors).toHaveLength(2);
    expect(errors.every((e) => (e as { code?: string }).code === ErrorCode.DECODE_FAILED)).toBe(true);
    const strict = open({ onDecodeError: 'error' });
    await expect(strict.get('victim')).rejects.toMatchObject({ code: ErrorCode.DECODE_FAILED });
    await strict.close();
    await store.close();
  });

  it('rotation: a new key in front reads the old sessions and re-encrypts them on their next save', async () => {
    const before = new SQLiteStore({ filename: file, encryption: { keys: [OLD_KEY] } });
    await before.set('rot', sess(Date.now() + HOUR, { n: 1 }));
    const oldId = (JSON.parse(raw(before, 'rot')!) as { sealed: string }).sealed.split('.')[1];
    await before.close();
    const after = open(); // keys: [KEY, OLD_KEY]
    expect(await after.get('rot')).toMatchObject({ n: 1 });
    await after.set('rot', sess(Date.now() + HOUR, { n: 2 }));
    const newId = (JSON.parse(raw(after, 'rot')!) as { sealed: string }).sealed.split('.')[1];
    expect(newId).not.toBe(oldId);
    await after.close();
    // Once the old key is removed, only what the new key wrote still reads.
    const onlyNew = new SQLiteStore({ filename: file, encryption: { keys: [KEY] } });
    expect(await onlyNew.get('rot')).toMatchObject({ n: 2 });
    await onlyNew.close();
    const wrongKey = new SQLiteStore({ filename: file, encryption: { keys: [randomBytes(32)] } });
    wrongKey.on('error', () => {});
    expect(await wrongKey.get('rot')).toBeNull();
    await wrongKey.close();
  });

  it('plaintext records: refused by default, read during a migration (allowPlaintext) and encrypted on save', async () => {
    const plain = new SQLiteStore({ filename: file });
    await plain.set('legacy', sess(Date.now() + HOUR, { user: 'old' }));
    await plain.close();
    const strict = open();
    strict.on('error', () => {});
    expect(await strict.get('legacy')).toBeNull();
    await strict.close();
    const migrating = open({ encryption: { ...encryption, allowPlaintext: true } });
    expect(await migrating.get('legacy')).toMatchObject({ user: 'old' });
    await migrating.set('legacy', sess(Date.now() + HOUR, { user: 'old' }));
    expect(raw(migrating, 'legacy')).not.toMatch(/"user"/);
    await migrating.close();
    // A store without keys does not mistake a sealed record for a session.
    const keyless = new SQLiteStore({ filename: file });
    keyless.on('error', () => {});
    expect(await keyless.get('legacy')).toBeNull();
    await keyless.close();
  });

  it('compress: large sessions are deflated before sealing; every store reads both forms, swapping forms is a miss', async () => {
    const big = { user: 'ann', blob: 'repeat me '.repeat(50_000) };
    const compressing = open({ encryption: { ...encryption, compress: 1_000 } });
    await compressing.set('big', sess(Date.now() + HOUR, big));
    await compressing.set('small', sess(Date.now() + HOUR, { user: 'bob' }));
    const stored = JSON.parse(raw(compressing, 'big')!) as { sealed: string };
    expect(stored.sealed).toMatch(/^z1\./);
    expect(stored.sealed.length).toBeLessThan(20_000);
    expect((JSON.parse(raw(compressing, 'small')!) as { sealed: string }).sealed).toMatch(/^v1\./);
    expect(await compressing.get('big')).toMatchObject(big);
    await compressing.close();
    // Reading needs no option; a record whose format was changed from z1 to v1 does not authenticate.
    const reader = open();
    const errors: unknown[] = [];
    reader.on('error', (err) => errors.push(err));
    expect(await reader.get('big')).toMatchObject(big);
    reader.client
      .prepare('UPDATE sessions SET sess = ? WHERE sid = ?')
      .run(JSON.stringify({ ...stored, sealed: stored.sealed.replace(/^z1/, 'v1') }), 'big');
    expect(await reader.get('big')).toBeNull();
    expect(errors).toHaveLength(1);
    await reader.close();
  });

  it('refuses unusable keys at construction', () => {
    const bad = [
      { keys: [] },
      { keys: ['short secret'] },
      { keys: [randomBytes(31)] },
      { keys: [42] },
      {},
      { keys: [KEY], allowPlaintext: 'yes' },
      { keys: [KEY], allowPlainText: true },
      { keys: [KEY], compress: -1 },
      { keys: [KEY], compress: 'yes' },
    ];
    for (const option of bad) {
      expect(() => new MemoryStore({ encryption: option as never }), JSON.stringify(option)).toThrow(
        expect.objectContaining({ code: ErrorCode.INVALID_OPTION }),
      );
    }
  });
});

const redis = await serverOrSkip('redis');

describe.skipIf(!redis)('what an encrypted Redis store holds', () => {
  it('the value under sess:<sid> is the sealed record; the session reads back', async () => {
    const client = new Redis(redis!.url);
    const prefix = `${uniqueName('enc')}:`;
    const store = new RedisStore({ client, prefix, encryption });
    try {
      await store.set('r1', sess(Date.now() + HOUR, { user: 'ann', secret: 'hunter2' }));
      const value = (await client.get(`${prefix}r1`))!;
      expect(value).not.toMatch(/hunter2|ann/);
      expect(JSON.parse(value)).toHaveProperty('sealed');
      expect(await store.get('r1')).toMatchObject({ user: 'ann', secret: 'hunter2' });
      expect((await store.all()).map((s) => s.id)).toEqual(['r1']);
    } finally {
      await store.clear();
      await store.close();
      await client.quit();
    }
  });
});

describe('hashed ids', () => {
  const file = join(dir, 'hashed.db');
  const hashed = (sid: string): string => createHash('sha256').update(sid).digest('base64url');
  const rows = (store: SQLiteStore): Array<{ sid: string; sess: string }> =>
    store.client.prepare('SELECT sid, sess FROM sessions ORDER BY sid').all() as Array<{ sid: string; sess: string }>;

  it('stores under sha256(sid); get/set/touch/destroy take the real sid', async () => {
    const store = new SQLiteStore({ filename: file, tableName: 'sessions', hashIds: true });
    try {
      await store.clear();
      await store.set('real-sid', sess(Date.now() + HOUR, { n: 1 }));
      expect(rows(store).map((r) => r.sid)).toEqual([hashed('real-sid')]);
      expect(await store.get('real-sid')).toMatchObject({ n: 1 });
      expect(await store.get(hashed('real-sid'))).toBeNull();
      const later = Date.now() + 2 * HOUR;
      await store.touch('real-sid', sess(later, { n: 1 }));
      expect(Date.parse(((await store.get('real-sid')) as unknown as { cookie: { expires: string } }).cookie.expires)).toBe(later);
      await store.destroy('real-sid');
      expect(await store.get('real-sid')).toBeNull();
    } finally {
      await store.close();
    }
  });

  it('without encryption, ids(), all() and sessionsOf() refuse (no sid is stored); length(), clear() and destroyOwner() work', async () => {
    const store = new MemoryStore({ hashIds: true, owner: 'user' });
    await store.set('a', sess(Date.now() + HOUR, { user: 'ann' }));
    await store.set('b', sess(Date.now() + HOUR, { user: 'ann' }));
    await store.set('c', sess(Date.now() + HOUR, { user: 'bob' }));
    expect(store.supports).toMatchObject({ ids: false, all: false, owners: false, length: true, clear: true, hashedIds: true });
    await expect(store.ids()).rejects.toMatchObject({ code: ErrorCode.NOT_SUPPORTED });
    await expect(store.all()).rejects.toMatchObject({ code: ErrorCode.NOT_SUPPORTED });
    await expect(store.sessionsOf('ann')).rejects.toMatchObject({ code: ErrorCode.NOT_SUPPORTED });
    expect(await store.length()).toBe(3);
    expect(await store.destroyOwner('ann', { except: 'a' })).toBe(1);
    expect(await store.get('a')).not.toBeNull();
    expect(await store.get('b')).toBeNull();
    expect(await store.get('c')).not.toBeNull();
    await store.clear();
    expect(await store.length()).toBe(0);
    await store.close();
  });

  it('an HMAC with a secret: another secret finds nothing', async () => {
    const secret = 'a hashing secret of at least thirty-two characters';
    const one = new MemoryStore({ hashIds: { secret } });
    const raw = one as unknown as { _entries(now: number): AsyncIterable<[string, unknown]> };
    await one.set('s', sess(Date.now() + HOUR));
    const keys: string[] = [];
    for await (const [key] of raw._entries(Date.now())) keys.push(key);
    expect(keys).toEqual([createHmac('sha256', secret).update('s').digest('base64url')]);
    await one.close();
  });

  it('migrate: a session under its plain sid is read, moved under its hash, and never comes back after a logout', async () => {
    const table = 'migrating';
    const plain = new SQLiteStore({ filename: file, tableName: table });
    await plain.clear();
    await plain.set('old-1', sess(Date.now() + HOUR, { n: 1 }));
    await plain.set('old-2', sess(Date.now() + HOUR, { n: 2 }));
    const expiresAt = Date.now() + HOUR;
    await plain.set('old-3', sess(expiresAt, { n: 3 }));
    await plain.close();

    const store = new SQLiteStore({
      filename: file,
      tableName: table,
      hashIds: { migrate: true },
      encryption: { keys: [KEY], allowPlaintext: true },
    });
    const keys = (): string[] =>
      (store.client.prepare(`SELECT sid FROM ${table} WHERE sess <> 'null' ORDER BY sid`).all() as Array<{ sid: string }>).map(
        (r) => r.sid,
      );
    try {
      // Listing during the migration sees both kinds of records, each session once, by its real sid.
      expect((await store.ids()).sort()).toEqual(['old-1', 'old-2', 'old-3']);
      // A read moves the session under its hash, keeping its exact expiry.
      expect(await store.get('old-1')).toMatchObject({ n: 1 });
      expect(keys()).toEqual([hashed('old-1'), 'old-2', 'old-3'].sort());
      expect(await store.get('old-1')).toMatchObject({ n: 1 });
      // A touch of a session still under its plain sid reaches it.
      const later = Date.now() + 2 * HOUR;
      await store.touch('old-2', sess(later, { n: 2 }));
      expect(Date.parse(((await store.get('old-2')) as unknown as { cookie: { expires: string } }).cookie.expires)).toBe(later);
      // A destroy removes both copies: the old plain record cannot come back through a read.
      await store.destroy('old-3');
      expect(await store.get('old-3')).toBeNull();
      const again = new SQLiteStore({ filename: file, tableName: table });
      await again.set('old-3', sess(Date.now() + HOUR, { n: 'late write from a process not yet upgraded' }));
      await again.close();
      expect(await store.get('old-3')).toBeNull();
      expect((await store.ids()).sort()).toEqual(['old-1', 'old-2']);
    } finally {
      await store.close();
    }
  });

  it('refuses bad hashIds options at construction', () => {
    for (const option of ['yes', 1, { secret: 'short' }, { secret: 42 }, { migrate: 'no' }, { salt: 'x' }, null]) {
      expect(() => new MemoryStore({ hashIds: option as never }), JSON.stringify(option)).toThrow(
        expect.objectContaining({ code: ErrorCode.INVALID_OPTION }),
      );
    }
  });
});

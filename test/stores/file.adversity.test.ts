/**
 * FileStore in a directory it does not own alone (issue 13, defects 1 and 7): entries that cannot be read as
 * files — a symlink loop, a directory named like a session, FIFOs, a symlink to a file outside — and files of
 * other programs. The first-round store crashed the process with an unhandled rejection (ELOOP, EISDIR), hung on
 * FIFOs (exhausting libuv's thread pool), read the outside file as a session and deleted `package.json`.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FileStore } from '../../stores/file/index.js';
import { HOUR, sess } from './helpers.js';

const outer = mkdtempSync(join(tmpdir(), 'file-adversity-'));
afterAll(() => rmSync(outer, { recursive: true, force: true }));

const unhandled: unknown[] = [];
const onUnhandled = (err: unknown): void => void unhandled.push(err);
beforeEach(() => {
  unhandled.length = 0;
  process.on('unhandledRejection', onUnhandled);
});
afterEach(() => {
  process.off('unhandledRejection', onUnhandled);
});

let n = 0;
/** A session directory with real sessions and, beside them, every kind of entry a shared directory may hold. */
async function hostileDir(fifos = 1): Promise<{ path: string; store: FileStore; outside: string }> {
  const path = join(outer, `d${++n}`);
  mkdirSync(path);
  const store = new FileStore({ path, reapInterval: -1 });
  await store.set('live1', sess(Date.now() + HOUR, { n: 1 }));
  await store.set('live2', sess(Date.now() + HOUR, { n: 2 }));
  symlinkSync('loop.json', join(path, 'loop.json')); // ELOOP
  mkdirSync(join(path, 'dir.json')); // EISDIR
  for (let i = 0; i < fifos; i++) execFileSync('mkfifo', [join(path, `fifo${i}.json`)]);
  const outside = join(outer, `outside${n}.json`);
  writeFileSync(outside, JSON.stringify({ cookie: { expires: null }, secret: 'outside', __lastAccess: Date.now() }));
  symlinkSync(outside, join(path, 'escape.json'));
  writeFileSync(join(path, 'package.json'), JSON.stringify({ name: 'app', version: '1.0.0' }));
  writeFileSync(join(path, 'tsconfig.json'), '{ // not JSON');
  return { path, store, outside };
}

/** Fails (instead of hanging the file) when `op` does not settle within 10 s. */
function bounded<T>(op: Promise<T>, what: string): Promise<T> {
  return Promise.race([op, new Promise<T>((_, reject) => setTimeout(() => reject(new Error(`${what} hung`)), 10_000).unref())]);
}

describe('FileStore in a hostile directory', () => {
  it('ids(), all(), length(), prune() and clear() skip what is not a session file: no crash, no hang', async () => {
    const { path, store, outside } = await hostileDir();
    const errors: unknown[] = [];
    store.on('error', (err) => errors.push(err));
    expect((await bounded(store.ids(), 'ids()')).sort()).toEqual(['live1', 'live2']);
    expect(Object.keys(await bounded(store.all(), 'all()')).sort()).toEqual(['live1', 'live2']);
    expect(await bounded(store.length(), 'length()')).toBe(2);
    expect(await bounded(store.prune(), 'prune()')).toBe(0);
    await bounded(store.clear(), 'clear()');
    expect(await store.ids()).toEqual([]);
    // Only our two session files went; everything else is as it was.
    expect(readdirSync(path).sort()).toEqual(['dir.json', 'escape.json', 'fifo0.json', 'loop.json', 'package.json', 'tsconfig.json']);
    expect(existsSync(outside)).toBe(true);
    await bounded(store.close(), 'close()');
    expect(unhandled).toEqual([]);
    expect(errors).toEqual([]);
  });

  it('never follows a symlink: a link to a file outside the directory is no session', async () => {
    const { store } = await hostileDir();
    expect(await store.get('escape')).toBeNull();
    await store.touch('escape', sess(Date.now() + 2 * HOUR));
    await store.destroy('escape'); // removes the link itself at most, never its target
    expect(await store.get('loop')).toBeNull();
    expect(await store.get('dir')).toBeNull();
    expect(await bounded(store.get('fifo0'), 'get() of a FIFO')).toBeNull();
    await store.close();
    expect(unhandled).toEqual([]);
  });

  it('a background pruning pass over the directory reports nothing and crashes nothing', async () => {
    const { path, store } = await hostileDir();
    await store.close();
    const errors: unknown[] = [];
    const timed = new FileStore({ path, pruneIntervalMs: 1 });
    timed.on('error', (err) => errors.push(err));
    // Expire one session by writing it in the past the way session-file-store would have left it.
    writeFileSync(join(path, 'old.json'), JSON.stringify({ cookie: { originalMaxAge: 1000 }, __lastAccess: Date.now() - 10_000 }));
    const deadline = Date.now() + 10_000;
    while (existsSync(join(path, 'old.json'))) {
      if (Date.now() > deadline) throw new Error('the pruning timer never deleted the expired session');
      await new Promise((r) => setTimeout(r, 5));
    }
    await timed.close();
    expect(errors).toEqual([]);
    expect(unhandled).toEqual([]);
    expect(existsSync(join(path, 'package.json'))).toBe(true);
  });

  it('eight FIFOs neither hang the scans nor starve the thread pool for get()/set()', async () => {
    const { store } = await hostileDir(8);
    const results = await bounded(Promise.all([store.ids(), store.prune(), store.length(), store.all()]), 'scans with FIFOs');
    expect(results[0].sort()).toEqual(['live1', 'live2']);
    await bounded(store.set('after', sess(Date.now() + HOUR, { ok: true })), 'set() after the scans');
    expect(await bounded(store.get('after'), 'get()')).toMatchObject({ ok: true });
    await bounded(store.close(), 'close()');
  });

  it('keeps files of other programs however old, and reads them as no session', async () => {
    const { path, store } = await hostileDir();
    const old = new Date(Date.now() - 30 * 24 * HOUR);
    for (const f of ['package.json', 'tsconfig.json']) utimesSync(join(path, f), old, old);
    expect(await store.get('package')).toBeNull();
    expect(await store.prune()).toBe(0);
    expect(existsSync(join(path, 'package.json')) && existsSync(join(path, 'tsconfig.json'))).toBe(true);
    await store.close();
  });

  it('takes the directory as a string, as session-file-store users might pass it', async () => {
    const path = join(outer, 'as-string');
    const store = new FileStore(path);
    await store.set('s', sess(Date.now() + HOUR));
    expect(existsSync(join(path, 's.json'))).toBe(true);
    expect(store.path).toBe(path);
    await store.close();
  });
});

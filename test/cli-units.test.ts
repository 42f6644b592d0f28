/**
 * The CLI's parts that need no server: store URLs (cli/urls.ts: parsing, what goes to the store and what to the
 * driver, redaction), `--since`, the progress bar and lines, the journal surviving a torn last line.
 */
import { describe, expect, it } from 'vitest';
import { isSessionStoreError } from '../shared/errors.js';
import { openStoreUrl, parseStoreUrl, redact, storeScheme } from '../cli/urls.js';
import { mkdtempSync, appendFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseSince } from '../cli/commands.js';
import { Journal } from '../cli/journal.js';
import { Progress } from '../cli/progress.js';

describe('store URLs', () => {
  it('split store parameters from driver parameters', () => {
    expect(parseStoreUrl('postgres://u:p@db/app?table=s&schema=x&sslmode=require')).toEqual({
      scheme: 'postgres:',
      url: 'postgres://u:p@db/app?sslmode=require',
      params: { table: 's', schema: 'x' },
    });
    expect(parseStoreUrl('mongodb://a:1,b:2/app?collection=c&replicaSet=rs&owner=user.id')).toEqual({
      scheme: 'mongodb:',
      url: 'mongodb://a:1,b:2/app?replicaSet=rs',
      params: { collection: 'c', owner: 'user.id' },
    });
    expect(parseStoreUrl('redis://h1:7000,h2:7001?prefix=app:')).toMatchObject({
      url: 'redis://h1:7000,h2:7001',
      params: { prefix: 'app:' },
    });
    expect(parseStoreUrl('sqlite:///var/lib/app/s.db?table=t')).toEqual({
      scheme: 'sqlite:',
      url: '/var/lib/app/s.db',
      params: { table: 't' },
    });
    expect(parseStoreUrl('sqlite:./s.db')).toMatchObject({ url: './s.db' });
    expect(parseStoreUrl('file:./sessions')).toMatchObject({ url: './sessions', params: {} });
  });

  it('tell store URLs from module paths', () => {
    expect(storeScheme('REDIS://x')).toBe('redis:');
    expect(storeScheme('memory:')).toBe('memory:');
    expect(storeScheme('./store.mjs')).toBeUndefined();
    expect(storeScheme('connect-redis-store')).toBeUndefined();
    expect(storeScheme('C:\\\\stores\\\\x.mjs')).toBeUndefined();
  });

  it('refuse unknown and repeated parameters with INVALID_OPTION', async () => {
    for (const bad of ['sqlite:x.db?tabel=t', 'redis://h?prefx=a', 'postgres://h/d?table=a&table=b', 'memory:?ttl=-1', 'memory:x']) {
      const err = await openStoreUrl(bad).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(isSessionStoreError(err, 'SESSION_STORE_INVALID_OPTION'), bad).toBe(true);
    }
  });

  it('hide passwords', () => {
    expect(redact('redis://:secret@h:6379/0')).toBe('redis://:***@h:6379/0');
    expect(redact('postgres://user:pw@db/app')).toBe('postgres://user:***@db/app');
    expect(redact('mongodb://h/app')).toBe('mongodb://h/app');
  });

  it('--since: durations, times, last', () => {
    const now = Date.UTC(2026, 0, 1);
    expect(parseSince('15m', now)).toBe(now - 900_000);
    expect(parseSince('2h', now)).toBe(now - 7_200_000);
    expect(parseSince('2026-01-01T00:00:00Z', now)).toBe(now);
    expect(parseSince(String(now), now)).toBe(now);
    expect(parseSince('last', now)).toBe('last');
    expect(() => parseSince('soon', now)).toThrow(/--since/);
  });
});

describe('progress', () => {
  it('draws a bar in place on a TTY: percent, counts, sessions/s, ETA', () => {
    const out: string[] = [];
    let now = 0;
    const p = new Progress({ isTTY: true, columns: 100, write: (t: string) => out.push(t) }, 'migrate', 1000, 2000, () => now);
    now = 1000;
    p.update(250);
    expect(out.at(-1)).toMatch(/^\rmigrate \[█+░+\] 25% 250\/1,000 250 sessions\/s ETA 3s\x1b\[K$/);
    now = 1050;
    p.update(260); // redrawn at most every 100 ms
    expect(out).toHaveLength(1);
    now = 4000;
    p.finish(1000);
    expect(out.at(-2)).toContain('100% 1,000/1,000 250 sessions/s ETA 0s');
    expect(out.at(-1)).toBe('\n');
  });

  it('prints plain lines at the interval elsewhere', () => {
    const out: string[] = [];
    let now = 0;
    const p = new Progress({ write: (t: string) => out.push(t) }, 'inspect', 10, 2000, () => now);
    for (now = 0; now <= 5000; now += 500) p.update(now / 1000);
    expect(out).toEqual(['inspect: 20% 2/10 1 sessions/s ETA 8s\n', 'inspect: 40% 4/10 1 sessions/s ETA 6s\n']);
  });
});

describe('journal', () => {
  it('keeps intents and commits across processes, ignores a torn last line, compacts', () => {
    const dir = mkdtempSync(join(tmpdir(), 'journal-'));
    try {
      const path = join(dir, 'j.jsonl');
      const a = new Journal(path);
      a.start(1, 'from', 'to');
      a.intend([
        ['s1', 'fp1', 10],
        ['s2', 'fp2', null],
      ]);
      a.commit(['s1']);
      a.finish(1);
      a.start(2, 'from', 'to'); // killed before it finished: not what --since last means
      appendFileSync(path, '{"c":["s2"'); // killed mid-append
      const b = new Journal(path);
      expect(b.entries.get('s1')).toEqual({ fp: 'fp1', expiresAt: 10, committed: true });
      expect(b.entries.get('s2')).toEqual({ fp: 'fp2', expiresAt: null, committed: false });
      expect(b.lastRun).toBe(1);
      b.drop(['s1']);
      b.compact();
      const c = new Journal(path);
      expect([...c.entries.keys()]).toEqual(['s2']);
      expect(c.runs).toEqual([1]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

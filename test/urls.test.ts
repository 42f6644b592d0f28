/** Store URLs (cli/urls.ts): parsing, what goes to the store and what to the driver, redaction. No servers needed. */
import { describe, expect, it } from 'vitest';
import { isSessionStoreError } from '../shared/errors.js';
import { openStoreUrl, parseStoreUrl, redact, storeScheme } from '../cli/urls.js';
import { parseSince } from '../cli/commands.js';

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

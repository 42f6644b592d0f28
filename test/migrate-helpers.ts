/**
 * Shared by the migrate/inspect tests: a fresh store URL per backend (a namespace of its own on the run's
 * servers), seeded sessions, and reading a store back as text.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { SessionData, Store } from 'express-session';
import { afterAll } from 'vitest';
import { type OpenedStore, openStoreUrl } from '../cli/urls.js';
import { getSession, listIds, sessionText } from '../cli/store-api.js';
import { normalized } from '../cli/migrate.js';
import { serverOrSkip, uniqueName } from './servers/index.js';
import { sess } from './stores/helpers.js';

/** Our backends, as store URL kinds. */
export const KINDS = ['memory', 'sqlite', 'file', 'redis', 'postgres', 'mongo'] as const;
export type BackendKind = (typeof KINDS)[number];

/** `url` with query parameters added. */
export function withParams(url: string, params: Record<string, string>): string {
  return `${url}${url.includes('?') ? '&' : '?'}${new URLSearchParams(params).toString()}`;
}

/** Makes fresh store URLs; kinds whose server is missing (and not required) give undefined. */
export async function storeUrls(): Promise<{ dir: string; url: (kind: BackendKind) => string | undefined }> {
  const [redis, postgres, mongo] = await Promise.all([serverOrSkip('redis'), serverOrSkip('postgres'), serverOrSkip('mongo')]);
  const dir = mkdtempSync(join(tmpdir(), 'session-stores-migrate-'));
  const mongoDb = uniqueName('migrate');
  const url = (kind: BackendKind): string | undefined => {
    switch (kind) {
      case 'memory':
        return 'memory:';
      case 'sqlite':
        return `sqlite:${join(dir, 'sessions.db')}?table=${uniqueName('t')}`;
      case 'file':
        return `file:${join(dir, uniqueName('f'))}`;
      case 'redis':
        return redis && withParams(redis.url, { prefix: `${uniqueName('m')}:` });
      case 'postgres':
        return postgres && withParams(postgres.url, { table: uniqueName('t') });
      case 'mongo': {
        if (!mongo) return undefined;
        const u = new URL(mongo.url);
        u.pathname = `/${mongoDb}`;
        return withParams(u.toString(), { collection: uniqueName('c') });
      }
    }
  };
  return { dir, url };
}

/**
 * {@link storeUrls} for one test file, and `open()`: every store opened through it (creating its table) is
 * cleared and closed after the file, and the directory removed.
 */
export async function migrateFixture(): Promise<{
  dir: string;
  url: (kind: BackendKind) => string | undefined;
  open: (spec: string) => Promise<OpenedStore>;
}> {
  const { dir, url } = await storeUrls();
  const opened: OpenedStore[] = [];
  afterAll(async () => {
    for (const o of opened) {
      await (o.store as { clear?: () => Promise<void> }).clear?.().catch(() => {});
      await o.close().catch(() => {});
    }
    rmSync(dir, { recursive: true, force: true });
  });
  const open = async (spec: string): Promise<OpenedStore> => {
    const o = await openStoreUrl(spec, { create: true });
    opened.push(o);
    return o;
  };
  return { dir, url, open };
}

/**
 * `n` sessions as express-session writes them: a sliding cookie expiring `lifetimeMs(i)` from now (null: a
 * browser-session cookie), a user, nested data and non-ASCII text.
 */
export function sessions(n: number, lifetimeMs: (i: number) => number | null = (i) => 3_600_000 + i * 1_001): Array<[string, SessionData]> {
  const now = Date.now();
  return Array.from({ length: n }, (_, i) => {
    const life = lifetimeMs(i);
    const data = sess(life === null ? null : now + life, {
      user: `user${i % 7}`,
      visits: i,
      note: `é✓ ${i}`,
      nested: { a: [1, { b: null }] },
    });
    return [`sid${i}-${Math.random().toString(36).slice(2, 10)}`, data];
  });
}

/** Writes `items` through the store's public `set`. */
export async function seed(store: Store, items: Array<[string, SessionData]>, parallel = 64): Promise<void> {
  for (let i = 0; i < items.length; i += parallel) {
    await Promise.all(
      items.slice(i, i + parallel).map(([sid, s]) => new Promise<void>((ok, fail) => store.set(sid, s, (e) => (e ? fail(e) : ok())))),
    );
  }
}

/** What `get` returns, as the text migrate compares (null: no session). */
export async function textOf(store: Store, sid: string): Promise<string | null> {
  const s = await getSession(store, sid);
  return s === null ? null : sessionText(normalized(s));
}

/** Every session of a store as sid → text. */
export async function contents(store: Store): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const sid of await listIds(store)) {
    const text = await textOf(store, sid);
    if (text !== null) out.set(sid, text);
  }
  return out;
}

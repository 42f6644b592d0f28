/**
 * The example app (examples/app.ts) over real HTTP on an ephemeral port, on SQLiteStore with a temp file:
 * login → visit counter → regenerate → logout, and `npm start`'s entry point started and stopped with SIGTERM; the
 * koa and fastify examples (examples/koa.ts, examples/fastify.ts) started the same way, serving one session.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../examples/app.js';
import { openStore, type OpenedStore } from '../examples/stores.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dir = mkdtempSync(join(tmpdir(), 'example-app-'));
let opened: OpenedStore;
let server: Server;
let base: string;

beforeAll(async () => {
  opened = await openStore('sqlite', { SQLITE_FILE: join(dir, 'sessions.db') });
  server = createApp(opened.store, { secret: 'test secret' }).listen(0, '127.0.0.1');
  await new Promise<void>((resolve) => server.once('listening', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise<void>((resolve) => server?.close(() => resolve()));
  await opened?.close();
  rmSync(dir, { recursive: true, force: true });
});

interface State {
  user: string | null;
  visits: number;
  sid: string | null;
  sessions: number;
  devices: Array<{ sid: string; device: string; lastSeen: number | null; current: boolean }> | null;
}

/** A browser's cookie jar for one user: just the `sid` cookie. */
class Browser {
  cookie: string | undefined;

  constructor(
    private readonly origin: string = base,
    private readonly agent = 'test browser',
  ) {}

  async request(path: string, init: RequestInit = {}): Promise<Response> {
    const headers = new Headers(init.headers);
    if (this.cookie) headers.set('cookie', this.cookie);
    headers.set('user-agent', this.agent);
    const res = await fetch(this.origin + path, { ...init, headers, redirect: 'manual' });
    for (const line of res.headers.getSetCookie()) {
      const [pair] = line.split(';');
      const value = pair!.slice(pair!.indexOf('=') + 1);
      this.cookie = value === '' || /expires=Thu, 01 Jan 1970/i.test(line) ? undefined : pair;
    }
    return res;
  }

  async state(): Promise<State> {
    return (await (await this.request('/api/session')).json()) as State;
  }

  post(path: string, form: Record<string, string> = {}): Promise<Response> {
    return this.request(path, { method: 'POST', body: new URLSearchParams(form) });
  }
}

describe('example app', () => {
  it('runs login → visit counter → regenerate → logout over HTTP', async () => {
    const ada = new Browser();
    expect(await ada.state()).toEqual({ user: null, visits: 0, sid: null, sessions: 0, devices: null });
    expect(ada.cookie).toBeUndefined(); // saveUninitialized: false

    const home = await ada.request('/');
    expect(home.status).toBe(200);
    expect(await home.text()).toContain('action="/login"');
    expect(ada.cookie).toMatch(/^sid=/);
    const anonymous = ada.cookie;

    const login = await ada.post('/login', { name: 'Ada <admin> & "co"' });
    expect(login.status).toBe(303);
    expect(login.headers.get('location')).toBe('/');
    expect(ada.cookie).not.toBe(anonymous); // a new id at login
    const page = await (await ada.request('/')).text();
    expect(page).toContain('Logged in as <b>Ada &#60;admin&#62; &#38; &#34;co&#34;</b>');
    await ada.request('/');
    const loggedIn = await ada.state();
    expect(loggedIn).toMatchObject({ user: 'Ada <admin> & "co"', visits: 3, sessions: 1 });

    // The pre-login session is gone from the store.
    const stale = new Browser();
    stale.cookie = anonymous;
    expect(await stale.state()).toMatchObject({ user: null, visits: 0 });

    const before = ada.cookie;
    const regen = await ada.request('/regenerate', { method: 'POST', headers: { accept: 'application/json' } });
    expect(await regen.json()).toEqual({ ok: true });
    expect(ada.cookie).not.toBe(before);
    const after = await ada.state();
    expect(after).toMatchObject({ user: 'Ada <admin> & "co"', visits: 3, sessions: 1 });
    expect(after.sid).not.toBe(loggedIn.sid);
    stale.cookie = before;
    expect((await stale.state()).user).toBeNull();

    const bob = new Browser();
    await bob.post('/login', { name: 'Bob' });
    expect(await bob.state()).toMatchObject({ user: 'Bob', sessions: 2 });
    expect(await opened.store.length()).toBe(2);

    const logout = await ada.post('/logout');
    expect(logout.status).toBe(303);
    expect(ada.cookie).toBeUndefined();
    expect(await ada.state()).toEqual({ user: null, visits: 0, sid: null, sessions: 1, devices: null });
    expect(await opened.store.length()).toBe(1);
  });

  it('your sessions and "log out everywhere else" (a store with an owner index)', async () => {
    const memory = await openStore('memory', {});
    const app = createApp(memory.store, { secret: 'test secret' }).listen(0, '127.0.0.1');
    await new Promise<void>((resolve) => app.once('listening', resolve));
    const origin = `http://127.0.0.1:${(app.address() as AddressInfo).port}`;
    try {
      expect(memory.store.supports.owners).toBe(true);
      const laptop = new Browser(origin, 'Laptop');
      const phone = new Browser(origin, 'Phone');
      const other = new Browser(origin, 'Someone else');
      await laptop.post('/login', { name: 'Ann' });
      await phone.post('/login', { name: 'Ann' });
      await other.post('/login', { name: 'Cy' });
      const seen = await laptop.state();
      expect(seen.devices!.map((d) => [d.device, d.current])).toEqual([
        ['Laptop', true],
        ['Phone', false],
      ]);
      expect(seen.devices!.every((d) => typeof d.lastSeen === 'number')).toBe(true);
      expect(await (await laptop.request('/')).text()).toContain('Log out everywhere else');

      const res = await laptop.request('/logout-others', { method: 'POST', headers: { accept: 'application/json' } });
      expect(await res.json()).toEqual({ ok: true });
      expect((await laptop.state()).devices!.map((d) => d.device)).toEqual(['Laptop']);
      expect(await phone.state()).toMatchObject({ user: null });
      expect(await other.state()).toMatchObject({ user: 'Cy' });
      // Anonymous visitors cannot log anyone out.
      expect((await new Browser(origin).post('/logout-others')).status).toBe(400);
    } finally {
      await new Promise<void>((resolve) => app.close(() => resolve()));
      await memory.close();
    }
  });

  it('rejects an empty or overlong name', async () => {
    const eve = new Browser();
    expect((await eve.post('/login', { name: '  ' })).status).toBe(400);
    expect((await eve.post('/login', { name: 'x'.repeat(65) })).status).toBe(400);
    expect(eve.cookie).toBeUndefined();
  });

  it('openStore() refuses an unknown SESSION_STORE', async () => {
    await expect(openStore('cassandra', {})).rejects.toThrow(/SESSION_STORE must be one of/);
  });

  it('`npm start` entry prints its URL, serves, and shuts down cleanly on SIGTERM', { timeout: 30_000 }, async () => {
    const output = await runExample('examples/app.ts', 'main.db', async (url, soFar) => {
      expect(soFar()).toContain('SQLite file');
      const res = await fetch(`${url}/`);
      expect(res.status).toBe(200);
    });
    expect(output).toContain('SIGTERM: closing');
  });
});

describe('koa and fastify examples', () => {
  for (const [file, db] of [
    ['examples/koa.ts', 'koa.db'],
    ['examples/fastify.ts', 'fastify.db'],
  ] as const) {
    it(`node --import tsx ${file} serves a session on SQLite and stops on SIGTERM`, { timeout: 30_000 }, async () => {
      await runExample(file, db, async (url, output) => {
        expect(output()).toContain('SQLite file');
        const first = await fetch(`${url}/`);
        expect(first.status).toBe(200);
        expect(await first.json()).toEqual({ user: null, visits: 1 });
        const cookie = first.headers
          .getSetCookie()
          .map((line) => line.split(';')[0])
          .join('; ');
        const login = await fetch(`${url}/login?name=ada`, { method: 'POST', headers: { cookie } });
        expect(login.status).toBe(200);
        const jar = login.headers
          .getSetCookie()
          .map((line) => line.split(';')[0])
          .join('; ');
        expect(await (await fetch(`${url}/`, { headers: { cookie: jar } })).json()).toEqual({ user: 'ada', visits: 2 });
      });
    });
  }
});

/**
 * Starts `node --import tsx <file>` on a fresh SQLite file with PORT=0, waits for the URL it prints, runs `body`
 * against it, then stops it with SIGTERM and expects a clean exit. Resolves everything it printed.
 */
async function runExample(file: string, db: string, body: (url: string, output: () => string) => Promise<void>): Promise<string> {
  const child = spawn(process.execPath, ['--import', 'tsx', file], {
    cwd: root,
    env: {
      ...process.env,
      PORT: '0',
      SQLITE_FILE: join(dir, db),
      SESSION_SECRET: 'a test secret of at least 32 characters',
      SESSION_STORE: 'sqlite',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk));
  child.stderr.on('data', (chunk: Buffer) => (out += chunk));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  try {
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no URL printed: ${out}`)), 20_000);
      child.stdout.on('data', () => {
        const m = /on (http:\/\/[\w.]+:\d+)/.exec(out);
        if (m) {
          clearTimeout(timer);
          resolve(m[1]!);
        }
      });
    });
    await body(url, () => out);
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    return out;
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
  }
}

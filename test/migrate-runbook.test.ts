/**
 * The README's runbook, as printed: the example app moves from FileStore to Redis in three steps (migrate,
 * catch-up, switch) and nobody is logged out; a logout before the switch stays a logout. Real HTTP, the real
 * `session-stores migrate` command between the steps.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { createApp } from '../examples/app.js';
import { openStore, type OpenedStore } from '../examples/stores.js';
import { withParams } from './migrate-helpers.js';
import { serverOrSkip, uniqueName } from './servers/index.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const redis = await serverOrSkip('redis');
const dir = mkdtempSync(join(tmpdir(), 'session-stores-runbook-'));
const cleanups: Array<() => Promise<void>> = [];

afterAll(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => {});
  rmSync(dir, { recursive: true, force: true });
});

/** The example app on a store URL (SESSION_STORE accepts them), listening on an ephemeral port. */
async function serve(storeUrl: string): Promise<{ origin: string; stop: () => Promise<void>; store: OpenedStore }> {
  const store = await openStore(storeUrl, {});
  const server: Server = createApp(store.store, { secret: 'runbook secret' }).listen(0, '127.0.0.1');
  await new Promise<void>((resolve) => server.once('listening', resolve));
  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await store.close();
  };
  cleanups.push(stop);
  return { origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, stop, store };
}

/** A browser: one `sid` cookie, whatever server it talks to (both apps answer on 127.0.0.1). */
class Browser {
  cookie: string | undefined;
  constructor(public origin: string) {}

  async request(path: string, init: RequestInit = {}): Promise<Response> {
    const headers = new Headers(init.headers);
    if (this.cookie) headers.set('cookie', this.cookie);
    const res = await fetch(this.origin + path, { ...init, headers, redirect: 'manual' });
    for (const line of res.headers.getSetCookie()) {
      const [pair] = line.split(';');
      this.cookie = /expires=Thu, 01 Jan 1970/i.test(line) ? undefined : pair;
    }
    // The whole response: express-session sends the headers before its save completes, and ends after it.
    const body = await res.text();
    return new Response(body, { status: res.status, headers: res.headers });
  }

  async user(): Promise<string | null> {
    return ((await (await this.request('/api/session')).json()) as { user: string | null }).user;
  }

  async visits(): Promise<number> {
    return ((await (await this.request('/api/session')).json()) as { visits: number }).visits;
  }

  login(name: string): Promise<Response> {
    return this.request('/login', { method: 'POST', body: new URLSearchParams({ name }) });
  }
}

function migrate(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    // From the app's directory (the default journal goes there), as an operator would run it.
    const tsx = pathToFileURL(join(root, 'node_modules/tsx/dist/loader.mjs')).href;
    execFile(
      process.execPath,
      ['--import', tsx, join(root, 'conformance/cli.ts'), 'migrate', ...args],
      { cwd: dir, timeout: 60_000 },
      (err, stdout, stderr) => resolve({ code: err ? Number((err as { code?: unknown }).code ?? -1) : 0, stdout, stderr }),
    );
  });
}

describe.skipIf(!redis)('runbook: FileStore → Redis with zero logouts', () => {
  it('migrate, catch up, switch: everyone logged in stays logged in, logouts stay logouts', { timeout: 120_000 }, async () => {
    const files = `file:${join(dir, 'sessions')}`;
    const redisUrl = withParams(redis!.url, { prefix: `${uniqueName('runbook')}:` });
    const cliArgs = (extra: string[]) => ['--from', files, '--to', redisUrl, ...extra];

    const before = await serve(files);
    const [ada, bob, cy, dee] = ['Ada', 'Bob', 'Cy', 'Dee'].map(() => new Browser(before.origin)) as [Browser, Browser, Browser, Browser];
    await ada.login('ada');
    await bob.login('bob');
    await cy.login('cy');
    await ada.request('/');
    expect(await ada.visits()).toBeGreaterThan(0);

    // Step 1: copy everything while the app keeps serving from FileStore.
    const step1 = await migrate(...cliArgs([]));
    expect(step1.code, step1.stderr).toBe(0);
    expect(step1.stdout).toContain('copied 3');

    // Traffic between the steps: a login, a logout, an active user.
    await dee.login('dee');
    // A logout clears the browser's cookie; keep it, to check the session is gone from the store, not just forgotten.
    const bobCookie = bob.cookie;
    await bob.request('/logout', { method: 'POST' });
    bob.cookie = bobCookie;
    await ada.request('/');
    const adaVisits = await ada.visits();

    // Step 2: catch up just before switching: only what changed since step 1 is written.
    const step2 = await migrate(...cliArgs(['--since', 'last']));
    expect(step2.code, step2.stderr).toBe(0);
    expect(step2.stdout).toMatch(/deleted from target 1/);

    // Someone logs out in the seconds between the catch-up and the switch.
    const cyCookie = cy.cookie;
    await cy.request('/logout', { method: 'POST' });
    cy.cookie = cyCookie;

    // Step 3: switch the app to Redis, then run the catch-up once more for those last seconds.
    await before.stop();
    const after = await serve(redisUrl);
    const step3 = await migrate(...cliArgs(['--since', 'last']));
    expect(step3.code, step3.stderr).toBe(0);

    for (const b of [ada, bob, cy, dee]) b.origin = after.origin;
    expect(await ada.user()).toBe('ada');
    expect(await ada.visits()).toBe(adaVisits); // the same session, carried on
    expect(await dee.user()).toBe('dee');
    expect(await bob.user()).toBeNull();
    expect(await cy.user()).toBeNull();
    expect(await after.store.store.length()).toBe(2); // ada, dee (and no session for anonymous visits)
  });
});

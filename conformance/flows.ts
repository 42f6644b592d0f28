import assert from 'node:assert/strict';
import type { Client } from './client.js';
import type { Browser } from './http-app.js';
import { absent } from './util.js';

/**
 * The session flows every middleware must get right with the store, checked the same way for express-session,
 * koa-session and @fastify/session: the apps (http-app.ts, framework-apps.ts) share the routes `/login` (user
 * alice), `/regenerate` (new id, user bob), `/logout` and `/me`.
 */

/** Logs in, regenerates: the old session is gone from the store, the new one stored and served. */
export async function checkRegenerate(client: Client, b: Browser, id = 'sid'): Promise<void> {
  await b.get('/login');
  const old = b.sid();
  await b.get('/regenerate');
  const fresh = b.sid();
  assert.ok(fresh !== null && fresh !== old, `regenerate kept the old ${id}`);
  assert.ok(absent(await client.get(old)), 'the old session is still in the store after regenerate');
  assert.equal(((await client.get(fresh)) as { user?: unknown } | null)?.user, 'bob', 'the regenerated session was not stored');
  assert.equal((await b.get('/me')).body, JSON.stringify({ user: 'bob' }), 'the regenerated session was not read back');
}

/** Logs in, logs out: the session is gone from the store and from the next request. */
export async function checkLogout(client: Client, b: Browser): Promise<void> {
  await b.get('/login');
  const id = b.sid();
  assert.equal((await b.get('/logout')).status, 200, 'logout failed');
  assert.ok(absent(await client.get(id)), 'the session is still in the store after logout');
  assert.equal((await b.get('/me')).body, JSON.stringify({ user: null }), 'a request after logout still saw the user');
}

import session from 'express-session';
import type { SessionData } from 'express-session';

/** Cookie lifetime of every benchmark session: one day, like most apps. */
export const MAX_AGE_MS = 86_400_000;

/** The two session sizes measured. */
export type Size = 'small' | 'large';

/** Human label of a size (the JSON length is checked in `sessionOf`). */
export const SIZE_LABEL: Record<Size, string> = { small: '300 B', large: '5 KB' };

function user(i: number) {
  return {
    id: 100_000 + i,
    name: `User Number${i}`,
    email: `user${i}@example.com`,
    roles: ['user', 'editor'],
    locale: 'en-GB',
  };
}

/**
 * A session as express-session hands it to a store: a real `Cookie` (stores read `cookie.maxAge`/`expires` from
 * it, and `JSON.stringify` goes through its `toJSON`) plus a logged-in user. `small` serializes to ~300 bytes,
 * `large` to ~5 KB (a shopping cart and flash messages added).
 */
export function sessionOf(size: Size, i = 1): SessionData {
  const sess: Record<string, unknown> = {
    // The typings omit the constructor's options argument; express-session passes it.
    cookie: new (session.Cookie as unknown as new (o: object) => session.Cookie)({
      maxAge: MAX_AGE_MS,
      httpOnly: true,
      path: '/',
      sameSite: 'lax',
    }),
    user: user(i),
    csrf: 'b7Yq3kF9pQ2mZx8vL1nR4tW6',
    lastSeen: 1_763_800_000_000,
  };
  if (size === 'large') {
    sess.cart = Array.from({ length: 40 }, (_, k) => ({
      sku: `SKU-${(k * 7919) % 100_000}`,
      title: `Product title number ${k} with a longer description`,
      qty: 1 + (k % 3),
      price: 1999 + k,
    }));
    sess.flash = Array.from({ length: 12 }, (_, k) => `Notice ${k}: your preferences were saved successfully.`);
    sess.prefs = { theme: 'dark', pageSize: 50, columns: ['name', 'price', 'stock', 'rating', 'updated'] };
  }
  return sess as unknown as SessionData;
}

/** Moves the cookie expiry to now + maxAge, as express-session does before each set/touch. */
export function refresh(sess: SessionData): SessionData {
  sess.cookie.maxAge = MAX_AGE_MS;
  return sess;
}

/** The sid of population member `i` of a size: 32 url-safe chars, like express-session's (uid-safe, 24 bytes). */
export function sidOf(size: Size, i: number): string {
  return `${size === 'small' ? 's' : 'L'}${i.toString(36).padStart(8, '0')}bench0123456789abcdefghijk`.slice(0, 32);
}

/**
 * The sid of victim `i` of destroy generation `gen`: sessions created (unmeasured) only to be destroyed. Never a
 * population sid: a store with revocation leaves a tombstone that refuses a later `set` of the same sid, so a
 * destroyed population member could not be put back, and later cells would measure misses.
 */
export function victimOf(size: Size, gen: number, i: number): string {
  return `${size === 'small' ? 'v' : 'V'}${gen.toString(36).padStart(4, '0')}${i.toString(36).padStart(8, '0')}victim0123456789abcdefg`.slice(
    0,
    32,
  );
}

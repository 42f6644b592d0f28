/**
 * The incumbents' kruptein formats (shared/kruptein.ts), checked against the kruptein copies connect-mongo 6 and
 * session-file-store 1.5 install and use: each side decrypts what the other encrypted, tampering is refused.
 */
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { Kruptein } from '../../shared/kruptein.js';

interface KrupteinLib {
  set(secret: string, plaintext: string, cb: (err: unknown, ct: string) => void): void;
  get(secret: string, ct: string, cb: (err: unknown, pt: string) => void): void;
}

const variants = [
  {
    name: 'connect-mongo (kruptein 3)',
    variant: 'connect-mongo' as const,
    lib: (): KrupteinLib =>
      createRequire(require.resolve('connect-mongo'))('kruptein')({ algorithm: 'aes-256-gcm', hashing: 'sha512', encodeas: 'base64' }),
  },
  {
    name: 'session-file-store (kruptein 2)',
    variant: 'session-file-store' as const,
    lib: (): KrupteinLib =>
      createRequire(require.resolve('session-file-store'))('kruptein')({ algorithm: 'aes-256-gcm', hashing: 'sha512', use_scrypt: true }),
  },
];
const require = createRequire(import.meta.url);

describe.each(variants)('kruptein format: $name', ({ variant, lib }) => {
  const secret = 'squirrel';
  const text = JSON.stringify({ cookie: { expires: '2030-01-01T00:00:00.000Z' }, user: 'ann', accents: 'é ü ß ✓' });
  const call = <T>(f: (cb: (err: unknown, value: T) => void) => void): Promise<T> =>
    new Promise((resolve, reject) => f((err, value) => (err ? reject(new Error(String(err))) : resolve(value))));

  it('the incumbent decrypts what we encrypt, and we decrypt what it encrypts', async () => {
    const ours = new Kruptein(secret, variant);
    const theirs = lib();
    const sealed = await ours.seal(text);
    expect(sealed).not.toContain('ann');
    expect(JSON.parse(await call<string>((cb) => theirs.get(secret, sealed, cb)))).toBe(text);
    const theirSealed = await call<string>((cb) => theirs.set(secret, text, cb));
    expect(await ours.open(theirSealed)).toBe(text);
  });

  it('refuses another secret and a tampered record', async () => {
    const sealed = await new Kruptein(secret, variant).seal(text);
    await expect(new Kruptein('another', variant).open(sealed)).rejects.toThrow();
    const i = Math.floor(sealed.length / 2);
    const tampered = sealed.slice(0, i) + (sealed[i] === 'A' ? 'B' : 'A') + sealed.slice(i + 1);
    await expect(new Kruptein(secret, variant).open(tampered)).rejects.toThrow();
  });
});

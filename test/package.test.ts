import { execFileSync, execSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';

// The published artefact, not the sources: every subpath must load through the exports map from ESM and CJS
// and ship its type declarations for both.
const root = fileURLToPath(new URL('..', import.meta.url));
const pkg = JSON.parse(readFileSync(`${root}/package.json`, 'utf8')) as { exports: Record<string, unknown> };
const subpaths = Object.keys(pkg.exports).filter((key) => key !== './package.json');
const expected: Record<string, string> = {
  '.': 'SessionStore',
  './memory': 'MemoryStore',
  './redis': 'RedisStore',
  './mongo': 'MongoStore',
  './postgres': 'PostgresStore',
  './mysql': 'MySQLStore',
  './sqlite': 'SQLiteStore',
  './file': 'FileStore',
  './conformance': 'conformance',
  './koa': 'koaStore',
  './dynamodb': 'DynamoDBStore',
};

function node(args: string[]): string {
  return execFileSync(process.execPath, args, { cwd: root, encoding: 'utf8', timeout: 60_000 });
}

describe('package', () => {
  beforeAll(() => {
    if (!existsSync(`${root}/dist/index.js`)) execSync('npm run build', { cwd: root, stdio: 'ignore', timeout: 300_000 });
  }, 300_000);

  it('exports every documented subpath', () => {
    expect(subpaths.sort()).toEqual(Object.keys(expected).sort());
  });

  it('has a typesVersions entry for every subpath (moduleResolution node10) and ships its LICENSE', () => {
    const manifest = pkg as unknown as { typesVersions: Record<string, Record<string, string[]>>; files: string[] };
    expect(Object.keys(manifest.typesVersions['*']!).sort()).toEqual(
      subpaths
        .filter((p) => p !== '.')
        .map((p) => p.slice(2))
        .sort(),
    );
    expect(manifest.files).toContain('LICENSE');
    expect(existsSync(`${root}/LICENSE`)).toBe(true);
  });

  for (const subpath of subpaths) {
    const specifier = subpath === '.' ? 'session-stores' : `session-stores/${subpath.slice(2)}`;
    const name = expected[subpath]!;

    it(`${specifier} loads from ESM and CJS`, () => {
      const esm = node(['--input-type=module', '-e', `const m = await import('${specifier}'); console.log(typeof m['${name}'])`]);
      const cjs = node(['-e', `const m = require('${specifier}'); console.log(typeof m['${name}'])`]);
      expect(esm.trim()).toBe('function');
      expect(cjs.trim()).toBe('function');
    });

    it(`${specifier} ships type declarations for ESM and CJS`, () => {
      const base = subpath === '.' ? 'index' : subpath.slice(2);
      expect(existsSync(`${root}/dist/${base}.d.ts`)).toBe(true);
      expect(existsSync(`${root}/dist/${base}.d.cts`)).toBe(true);
    });
  }

  it('SessionStoreError from ESM and CJS builds carries the same stable codes', () => {
    const script = (loader: string) =>
      `${loader}; const e = new m.SessionStoreError(m.ErrorCode.CLOSED, 'x'); console.log(e.code, e.name, e instanceof Error)`;
    expect(node(['--input-type=module', '-e', script(`const m = await import('session-stores')`)]).trim()).toBe(
      'SESSION_STORE_CLOSED SessionStoreError true',
    );
    expect(node(['-e', script(`const m = require('session-stores')`)]).trim()).toBe('SESSION_STORE_CLOSED SessionStoreError true');
  });
});

/**
 * What a TypeScript user compiles, against the published declarations (dist/), with `strict`:
 * - test/types/clients.ts (every supported driver's client accepted without a cast, a pg.Client rejected) and
 *   test/types/frameworks.ts (koa-session takes `koaStore(store)`, @fastify/session takes the stores as they are) under
 *   module resolution nodenext, node16, bundler and node10 (CommonJS; through the typesVersions fallback);
 * - every ```ts block of the README and of docs/*.md, each as a module of its own, under nodenext.
 * The consumer project lives in .cache/ inside the repository, so the dev dependencies resolve; session-stores
 * itself resolves through a node_modules link to the repository, as it would once installed.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('..', import.meta.url));
const tsc = join(root, 'node_modules/typescript/bin/tsc');

function project(
  name: string,
  type: 'module' | 'commonjs',
  compilerOptions: Record<string, unknown>,
  files: Record<string, string>,
): string {
  const dir = join(root, '.cache/types', name);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(join(dir, 'node_modules'), { recursive: true });
  symlinkSync(root, join(dir, 'node_modules/session-stores'), 'dir');
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: `types-${name}`, private: true, type }));
  const options = {
    strict: true,
    noEmit: true,
    skipLibCheck: true,
    target: 'ES2022',
    lib: ['ES2024'],
    types: ['node'],
    esModuleInterop: true,
    ...compilerOptions,
  };
  writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify({ compilerOptions: options, include: ['*.ts'] }));
  for (const [file, text] of Object.entries(files)) writeFileSync(join(dir, file), text);
  return dir;
}

/** Runs tsc; resolves its diagnostics ('' when it compiled). */
function compile(dir: string): string {
  try {
    execFileSync(process.execPath, [tsc, '-p', dir], { encoding: 'utf8', timeout: 120_000 });
    return '';
  } catch (err) {
    return String((err as { stdout?: string }).stdout ?? err);
  }
}

const clients = readFileSync(join(root, 'test/types/clients.ts'), 'utf8');
const frameworks = readFileSync(join(root, 'test/types/frameworks.ts'), 'utf8');

describe('types: every supported client and framework, without casts', () => {
  it.each([
    ['nodenext', 'module', { module: 'nodenext', moduleResolution: 'nodenext' }],
    ['node16', 'module', { module: 'node16', moduleResolution: 'node16' }],
    ['bundler', 'module', { module: 'esnext', moduleResolution: 'bundler' }],
    ['node10 (CommonJS)', 'commonjs', { module: 'commonjs', moduleResolution: 'node10' }],
  ] as const)(
    'compiles under %s',
    (name, type, options) => {
      const dir = project(name.replace(/\W+/g, '-'), type, options, { 'clients.ts': clients, 'frameworks.ts': frameworks });
      expect(compile(dir)).toBe('');
    },
    120_000,
  );
});

/** The ```ts blocks of a Markdown file. */
function tsBlocks(file: string): string[] {
  return [...readFileSync(file, 'utf8').matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]!);
}

describe('types: the documentation compiles', () => {
  const docs = [
    'README.md',
    ...(existsSync(join(root, 'docs'))
      ? readdirSync(join(root, 'docs'))
          .filter((f) => f.endsWith('.md'))
          .map((f) => `docs/${f}`)
      : []),
  ];
  it.each(docs)(
    'every ts block of %s compiles under strict nodenext',
    (doc) => {
      const files: Record<string, string> = {};
      tsBlocks(join(root, doc)).forEach((block, i) => {
        // Each block is a module of its own: `export {}` keeps a block without imports from sharing the global scope.
        files[`block${i + 1}.ts`] = `${block}\nexport {};\n`;
      });
      if (Object.keys(files).length === 0) return;
      const dir = project(
        `doc-${doc.replace(/\W+/g, '-')}`,
        'module',
        { module: 'nodenext', moduleResolution: 'nodenext', noUnusedLocals: false },
        files,
      );
      expect(compile(dir)).toBe('');
    },
    120_000,
  );
});

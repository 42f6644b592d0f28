/**
 * Loading a "store module" for the CLI and the matrix: a file or package whose exports describe how to make
 * stores. Kept separate from the runner so that library users of `runConformance` never touch module loading.
 */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Store } from 'express-session';
import type { Capabilities, FactoryHints, RawStorage } from './options.js';

/**
 * What a store module exports (ESM or CommonJS). Only the factory is required:
 *
 * ```js
 * export default async function factory(hints) { return new MyStore({ ttl: hints?.ttl }) }
 * export const capabilities = { namespaces: false };       // optional
 * ```
 */
export interface StoreModule {
  /** Returns a fresh, empty store; `export default` or `export function factory`. */
  factory: (hints?: FactoryHints) => Promise<Store> | Store;
  /** Releases one store after its test (default: `store.close()` when it has one). */
  teardown?: (store: Store) => Promise<void> | void;
  /** Called once after the whole run: close shared clients and pools here so the process can exit. */
  cleanup?: () => Promise<void> | void;
  /** Capability declarations; anything left out is detected from the store. */
  capabilities?: Partial<Capabilities>;
  /** Tests the store is known to fail (see ConformanceOptions.knownFailures). */
  knownFailures?: Array<string | RegExp>;
  /** Name shown in the report (default: the module specifier). */
  name?: string;
  /** What the store ran against, e.g. `redis-server 7.2 at 127.0.0.1:6379`, shown in the report. */
  backend?: string;
  /**
   * Longest run of one test in ms, for servers slow by nature (a single-threaded local implementation): the
   * runner's default (20000) otherwise. Only the runner's bound: a store's own timeouts are its factory's business.
   */
  timeoutMs?: number;
  /**
   * The backend's raw storage as the store's own client or files show it, for the `atRest` group (a store with
   * encryption or hashed ids at rest; skipped without it). See {@link RawStorage}.
   */
  raw?: RawStorage;
}

const TYPESCRIPT = /\.[cm]?tsx?$/;
// Errors that mean "Node cannot load TypeScript (or its .js-suffixed imports) by itself", i.e. nothing ran yet.
const NEEDS_TSX = new Set([
  'ERR_UNKNOWN_FILE_EXTENSION',
  'ERR_MODULE_NOT_FOUND',
  'ERR_UNSUPPORTED_TYPESCRIPT_SYNTAX',
  'ERR_INVALID_TYPESCRIPT_SYNTAX',
]);

/**
 * Imports `spec` (a path relative to `cwd`, a file URL or a package name resolved from `cwd`) and returns its
 * store module. TypeScript files load through the project's `tsx` when Node cannot load them itself.
 * @throws Error with a message meant for the user when the module cannot be loaded or has no factory
 */
export async function loadStoreModule(spec: string, cwd: string = process.cwd()): Promise<StoreModule> {
  const url = resolveSpecifier(spec, cwd);
  let ns: Record<string, unknown>;
  try {
    ns = (await import(url)) as Record<string, unknown>;
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (!TYPESCRIPT.test(new URL(url, 'file:///').pathname) || !(NEEDS_TSX.has(code ?? '') || err instanceof SyntaxError)) throw err;
    ns = await importWithTsx(url, cwd);
  }
  return toStoreModule(ns, spec);
}

function resolveSpecifier(spec: string, cwd: string): string {
  if (spec.startsWith('file:')) return spec;
  const asPath = resolve(cwd, spec);
  if (isAbsolute(spec) || spec.startsWith('.') || existsSync(asPath)) return pathToFileURL(asPath).href;
  // A package: resolve it from the user's project, not from wherever this CLI is installed.
  try {
    return pathToFileURL(createRequire(join(cwd, 'noop.js')).resolve(spec)).href;
  } catch {
    return spec; // e.g. an import-only package: let import() try from here
  }
}

async function importWithTsx(url: string, cwd: string): Promise<Record<string, unknown>> {
  let api: { tsImport: (specifier: string, parent: string) => Promise<unknown> };
  try {
    // createRequire resolves from the user's project but only with "require" conditions, and tsx's CommonJS
    // API cannot import TypeScript ESM; its ESM API is found through tsx's own exports map instead.
    const manifest = createRequire(join(cwd, 'noop.js')).resolve('tsx/package.json');
    const exportsMap = (JSON.parse(readFileSync(manifest, 'utf8')) as { exports: Record<string, { import: { default: string } }> }).exports;
    api = (await import(pathToFileURL(join(dirname(manifest), exportsMap['./esm/api']!.import.default)).href)) as typeof api;
  } catch {
    throw new Error(`cannot load ${url}: TypeScript modules need tsx (npm install -D tsx), or compile the module to .js`);
  }
  // The parent only matters for relative specifiers; url is absolute. Not import.meta.url: the CJS build has none.
  return (await api.tsImport(url, pathToFileURL(join(cwd, 'noop.js')).href)) as Record<string, unknown>;
}

/** Accepts `export default factory`, named exports, and CommonJS `module.exports = factory | { factory, … }`. */
function toStoreModule(ns: Record<string, unknown>, spec: string): StoreModule {
  const dflt = ns.default;
  // CommonJS exports arrive both as named exports (when Node's lexer sees them) and as properties of default.
  const get = (key: string): unknown =>
    ns[key] ?? (typeof dflt === 'object' && dflt !== null ? (dflt as Record<string, unknown>)[key] : undefined);
  const factory = typeof dflt === 'function' ? dflt : get('factory');
  if (typeof factory !== 'function') {
    throw new Error(`${spec} exports no factory: add \`export default async function factory(hints) { return new MyStore() }\``);
  }
  // A class as default export is the most likely mistake; calling it would fail every test with a TypeError.
  if (/^class\b/.test(Function.prototype.toString.call(factory))) {
    throw new Error(`${spec} exports a class; export a factory instead: \`export default () => new ${factory.name || 'MyStore'}()\``);
  }
  const fn = <T>(key: string): T | undefined => (typeof get(key) === 'function' ? (get(key) as T) : undefined);
  const str = (key: string): string | undefined => (typeof get(key) === 'string' ? (get(key) as string) : undefined);
  const knownFailures = get('knownFailures');
  return {
    factory: factory as StoreModule['factory'],
    teardown: fn('teardown'),
    cleanup: fn('cleanup'),
    capabilities: (get('capabilities') as StoreModule['capabilities']) ?? undefined,
    knownFailures: Array.isArray(knownFailures) ? knownFailures : undefined,
    name: str('name') ?? spec,
    backend: str('backend'),
    ...(typeof get('timeoutMs') === 'number' ? { timeoutMs: get('timeoutMs') as number } : {}),
    ...(isRawStorage(get('raw')) ? { raw: get('raw') as RawStorage } : {}),
  };
}

/** A `raw` export with both methods; anything else is ignored (the atRest group then says what it lacks). */
function isRawStorage(value: unknown): boolean {
  const raw = value as Partial<RawStorage> | undefined;
  return typeof raw?.entries === 'function' && typeof raw.write === 'function';
}

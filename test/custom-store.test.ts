/**
 * The README's "Writing your own store" example (examples/custom-store.ts, shown in the README as is) compiles
 * against the published package and passes the whole conformance suite, with namespaces.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { conformance } from '../conformance/index.js';
import { MapStore } from '../examples/custom-store.js';

const README = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
const source = readFileSync(new URL('../examples/custom-store.ts', import.meta.url), 'utf8');

const maps = new Map<string, Map<string, { data: string; expiresAt: number | null }>>();
conformance({
  test: it,
  describe,
  name: 'README example: MapStore',
  factory: (hints) => {
    const map = hints?.namespace === undefined ? new Map() : (maps.get(hints.namespace) ?? new Map());
    if (hints?.namespace !== undefined) maps.set(hints.namespace, map);
    return new MapStore({ map, ttl: hints?.ttl, touchAfter: hints?.touchAfter, disableTouch: hints?.disableTouch });
  },
});

describe('README: Writing your own store', () => {
  it('shows examples/custom-store.ts exactly', () => {
    const section = README.slice(README.indexOf('## Writing your own store'));
    const block = /```ts\n([\s\S]*?)```/.exec(section)?.[1];
    expect(block).toBe(source);
  });
});

/**
 * The "Writing your own store" example (examples/custom-store.ts, shown in docs/writing-a-store.md as is) compiles
 * against the published package and passes the whole conformance suite, with namespaces.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { conformance } from '../conformance/index.js';
import { MapStore } from '../examples/custom-store.js';

const GUIDE = readFileSync(new URL('../docs/writing-a-store.md', import.meta.url), 'utf8');
const source = readFileSync(new URL('../examples/custom-store.ts', import.meta.url), 'utf8');

const maps = new Map<string, Map<string, { data: string; expiresAt: number | null }>>();
conformance({
  test: it,
  describe,
  name: 'guide example: MapStore',
  factory: (hints) => {
    const map = hints?.namespace === undefined ? new Map() : (maps.get(hints.namespace) ?? new Map());
    if (hints?.namespace !== undefined) maps.set(hints.namespace, map);
    return new MapStore({ map, ttl: hints?.ttl, touchAfter: hints?.touchAfter, disableTouch: hints?.disableTouch });
  },
});

describe('docs/writing-a-store.md', () => {
  it('shows examples/custom-store.ts exactly', () => {
    const section = GUIDE.slice(GUIDE.indexOf('# Writing your own store'));
    const block = /```ts\n([\s\S]*?)```/.exec(section)?.[1];
    expect(block).toBe(source);
  });
});

import assert from 'node:assert/strict';
import type { ConformanceOptions } from './options.js';
import { group } from './registry.js';
import { allEntries, codeOf, json, sess, sid, show } from './util.js';

const INVALID_SID = 'SESSION_STORE_INVALID_SID';
const absent = (value: unknown): boolean => value === null || value === undefined;

/** Sids a cookie can carry that are dangerous as file names, key patterns, query text or object keys. */
const HOSTILE: Array<[label: string, id: string]> = [
  ['with /', 'a/b'],
  ['with \\', 'a\\b'],
  ['..', '..'],
  ['.', '.'],
  ['../../etc/passwd', '../../etc/passwd'],
  ['C:\\x', 'C:\\x'],
  ['*', '*'],
  ['?', '?'],
  ['[a]', '[a]'],
  ['{x}', '{x}'],
  ['with quotes', `it's "quoted" \`here\``],
  ['%2e%2e', '%2e%2e'],
  ['with spaces', ' a b '],
  ['emoji and unicode', '😀-ünï-中文-مرحبا'],
  ['__proto__', '__proto__'],
  ['constructor', 'constructor'],
  ['hasOwnProperty', 'hasOwnProperty'],
  ['SQL text', "x'; DROP TABLE sessions; --"],
  ['$where', '$where'],
  ['a:b', 'a:b'],
  ['4 KB long', 'k'.repeat(4096)],
];

/** [pattern-like sid, a different sid it must never match] */
const LOOKALIKES: Array<[probe: string, target: string]> = [
  ['*', 'ab'],
  ['a*', 'ab'],
  ['a?', 'ab'],
  ['[a]b', 'ab'],
  ['a%', 'ab'],
  ['a_', 'ab'],
  ['.*', 'ab'],
  ['a.', 'ab'],
  ['a', 'ab'],
  ['AB', 'ab'],
  ['ab ', 'ab'],
  ['ab/', 'ab'],
  ['./ab', 'ab'],
  ['x/../ab', 'ab'],
  ['cafe\u0301', 'caf\u00e9'],
];

/** Sids no store should accept; ours must reject them with SESSION_STORE_INVALID_SID. */
const INVALID: Array<[label: string, id: unknown]> = [
  ['empty string', ''],
  ['NUL', 'a\u0000b'],
  ['newline', 'a\nb'],
  ['DEL', 'a\u007fb'],
  ['lone surrogate', 'a\ud800b'],
  ['1025 chars', 'x'.repeat(1025)],
  ['number', 42],
  ['null', null],
  ['undefined', undefined],
  ['object', { toString: () => 'x' }],
];

/** Hostile sids: stored and read back exactly, or rejected; never reaching another session. */
export function hostileIds(opts: ConformanceOptions): void {
  group(opts, 'hostileIds', (test) => {
    for (const [label, id] of HOSTILE) {
      test(`sid ${label} is stored exactly or rejected`, [], async ({ client, caps }) => {
        const neighbour = sid('n');
        const kept = sess({ mark: 'neighbour' });
        await client.set(neighbour, kept);
        const written = sess({ mark: 'hostile' });
        const out = await client.attempt('set', id, written);
        assert.ok(!out.threw, `set() threw synchronously for sid ${label}: ${show(out.err)}`);
        if (out.err) {
          if (caps.sessionStoreErrors)
            assert.equal(codeOf(out.err), INVALID_SID, `set() rejected sid ${label} with ${show(codeOf(out.err))}, not ${INVALID_SID}`);
        } else {
          assert.deepEqual(json(await client.get(id)), json(written), `sid ${label} did not read back what was stored`);
          if (caps.ids) assert.ok(((await client.ids()) as string[]).includes(id), `ids() does not list sid ${label} as itself`);
          if (caps.all) {
            const { byId } = allEntries(await client.all());
            if (byId) assert.ok(byId.has(id), `all() does not key sid ${label} as itself`);
          }
          await client.destroy(id);
          assert.ok(absent(await client.get(id)), `destroy() did not remove sid ${label}`);
        }
        assert.deepEqual(json(await client.get(neighbour)), json(kept), `sid ${label} changed or removed another session`);
      });
    }

    for (const [probe, target] of LOOKALIKES) {
      test(`sid ${JSON.stringify(probe)} never touches ${JSON.stringify(target)}`, [], async ({ client }) => {
        const kept = sess({ mark: 'target' });
        await client.set(target, kept);
        const got = await client.attempt('get', probe);
        assert.ok(got.err || absent(got.value), `get(${JSON.stringify(probe)}) found ${JSON.stringify(target)}`);
        await client.attempt('destroy', probe);
        assert.deepEqual(json(await client.get(target)), json(kept), `destroy(${JSON.stringify(probe)}) removed ${JSON.stringify(target)}`);
        await client.attempt('set', probe, sess({ mark: 'probe' }));
        assert.deepEqual(json(await client.get(target)), json(kept), `set(${JSON.stringify(probe)}) overwrote ${JSON.stringify(target)}`);
      });
    }

    for (const [label, id] of INVALID) {
      test(`invalid sid (${label}) is rejected without a crash`, [], async ({ client, caps }) => {
        const calls: Array<[method: 'get' | 'set' | 'destroy' | 'touch', args: unknown[]]> = [
          ['get', [id]],
          ['set', [id, sess({ mark: 'invalid' })]],
          ['destroy', [id]],
        ];
        if (caps.touch) calls.push(['touch', [id, sess({ mark: 'invalid' })]]);
        for (const [method, args] of calls) {
          const out = await client.attempt(method, ...args);
          assert.ok(!out.threw, `${method}() threw synchronously for a sid that is ${label}: ${show(out.err)}`);
          if (caps.sessionStoreErrors) assert.equal(codeOf(out.err), INVALID_SID, `${method}() accepted a sid that is ${label}`);
        }
      });
    }
  });
}

/**
 * Fills one in-process store with N ~300-byte sessions in a fresh process and prints its memory as JSON.
 * Run by bench/lib/rss.ts: `node --expose-gc --import tsx bench/lib/rss-child.ts <backend> <contender> <n>`.
 */
import { BACKENDS } from '../contenders/index.js';
import { call } from './contender.js';
import { forEachParallel } from './measure.js';
import { refresh, sessionOf, sidOf } from './payload.js';

const [backendName, contenderName, n] = process.argv.slice(2);
const gc = (globalThis as { gc?: () => void }).gc ?? (() => {});
const backend = await (await BACKENDS[backendName!]!.load())(undefined);
const contender = backend.contenders.find((c) => c.name === contenderName)!;
const inst = await contender.create({ ns: `rss_${process.pid}` });
gc();
const before = process.memoryUsage().rss;
const sess = sessionOf('small');
await forEachParallel(0, Number(n), 64, (i) => call(inst.store, 'set', sidOf('small', i), refresh(sess)));
gc();
const m = process.memoryUsage();
console.log(JSON.stringify({ rss: m.rss, heapUsed: m.heapUsed, before }));
await inst.close();

import { createRequire } from 'node:module';
import { readFile as readFileCb, rename as renameCb, unlink as unlinkCb, writeFile as writeFileCb } from 'node:fs';
import { promisify } from 'node:util';
import { join } from 'node:path';
import session from 'express-session';
import type { SessionData, Store } from 'express-session';
import { FileStore } from '../../stores/file/index.js';
import { type BackendFactory, type Contender, RawStore, expiryOf } from '../lib/contender.js';
import { scratchDir } from '../lib/tmp.js';

const require = createRequire(import.meta.url);
// The callback API, promisified: fs/promises readFile takes about twice as long per call on Node 20 (it
// fstat()s and reads in chunks), and the raw contender must be the fastest way.
const readFile = promisify(readFileCb);
const writeFile = promisify(writeFileCb);
const rename = promisify(renameCb);
const unlink = promisify(unlinkCb);
const sessionFileStore = require('session-file-store') as (s: typeof session) => new (options: object) => Store;

/**
 * The floor for a file store: one file per session holding `<expiry ms>\n<JSON>`, written to a temp file and
 * renamed over the old one (the least a crash-safe write needs); reads are one readFile. Touch must rewrite
 * the file, as every store that keeps the expiry inside it does.
 */
function rawFiles(dir: string): RawStore {
  let seq = 0;
  const pathOf = (sid: string) => join(dir, `${sid}.json`);
  const write = async (path: string, text: string) => {
    const tmp = `${path}.${process.pid}.${++seq}.tmp`;
    await writeFile(tmp, text);
    await rename(tmp, path);
  };
  const read = async (sid: string): Promise<{ at: number; json: string } | null> => {
    let text: string;
    try {
      text = await readFile(pathOf(sid), 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw err;
    }
    const nl = text.indexOf('\n');
    const at = Number(text.slice(0, nl));
    return at > Date.now() ? { at, json: text.slice(nl + 1) } : null;
  };
  return new RawStore({
    async get(sid) {
      const r = await read(sid);
      return r ? (JSON.parse(r.json) as SessionData) : null;
    },
    async set(sid, sess) {
      await write(pathOf(sid), `${expiryOf(sess)}\n${JSON.stringify(sess)}`);
    },
    async touch(sid, sess) {
      const r = await read(sid);
      if (r) await write(pathOf(sid), `${expiryOf(sess)}\n${r.json}`);
    },
    async destroy(sid) {
      await unlink(pathOf(sid)).catch((err: NodeJS.ErrnoException) => {
        if (err.code !== 'ENOENT') throw err;
      });
    },
  });
}

/** Files: ours, session-file-store, and fs write+rename / readFile. */
export const file: BackendFactory = async () => {
  const contenders: Contender[] = [
    {
      name: 'ours (FileStore)',
      role: 'ours',
      async create({ ns, touchAfter, options }) {
        const tmp = scratchDir(ns);
        const store = new FileStore({ path: tmp.dir, touchAfter, ...options });
        return { store, close: async () => (await store.close(), await tmp.remove()) };
      },
    },
    {
      name: 'session-file-store 1.5',
      role: 'incumbent',
      async create({ ns }) {
        const tmp = scratchDir(ns);
        const FileStoreIncumbent = sessionFileStore(session);
        // reapInterval -1: its reaper runs in an un-unref'd timer that would keep the harness alive.
        const store = new FileStoreIncumbent({ path: tmp.dir, reapInterval: -1, logFn: () => {} });
        return { store, close: () => tmp.remove() };
      },
    },
    {
      name: 'raw fs',
      role: 'raw',
      async create({ ns }) {
        const tmp = scratchDir(ns);
        return { store: rawFiles(tmp.dir), close: () => tmp.remove() };
      },
    },
  ];
  return { name: 'file', server: `local disk (${process.env.BENCH_TMPDIR ?? 'os.tmpdir()'})`, contenders };
};

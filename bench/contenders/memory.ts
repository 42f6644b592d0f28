import session from 'express-session';
import type { SessionData } from 'express-session';
import createMemoryStore from 'memorystore';
import { MemoryStore } from '../../stores/memory/index.js';
import { type BackendFactory, type Contender, RawStore, expiryOf } from '../lib/contender.js';

/** The floor for an in-process store: a Map of sid → { JSON, expiry }, with the JSON work every store must do. */
function rawMap(): RawStore {
  const map = new Map<string, { data: string; expiresAt: number }>();
  return new RawStore({
    async get(sid) {
      const r = map.get(sid);
      return r && r.expiresAt > Date.now() ? (JSON.parse(r.data) as SessionData) : null;
    },
    async set(sid, sess) {
      map.set(sid, { data: JSON.stringify(sess), expiresAt: expiryOf(sess) });
    },
    async touch(sid, sess) {
      const r = map.get(sid);
      if (r && r.expiresAt > Date.now()) r.expiresAt = expiryOf(sess);
    },
    async destroy(sid) {
      map.delete(sid);
    },
  });
}

/** Memory: ours, memorystore, express-session's MemoryStore and a Map. */
export const memory: BackendFactory = async () => {
  const MemoryStoreLru = createMemoryStore(session);
  const contenders: Contender[] = [
    {
      name: 'ours (MemoryStore)',
      role: 'ours',
      async create({ touchAfter, options }) {
        const store = new MemoryStore({ touchAfter, ...options });
        return { store, close: () => store.close() };
      },
    },
    {
      name: 'memorystore 1.6',
      role: 'incumbent',
      async create() {
        // Its pruning timer is unref'd; stopAll() clears it.
        const store = new MemoryStoreLru({ checkPeriod: 3_600_000 });
        return {
          store,
          close: async () => {
            store.stopInterval();
            store.clear();
          },
        };
      },
    },
    {
      name: 'express-session MemoryStore',
      role: 'incumbent',
      async create() {
        const store = new session.MemoryStore();
        return { store, close: async () => void store.clear?.() };
      },
    },
    {
      name: 'raw Map',
      role: 'raw',
      async create() {
        return { store: rawMap(), close: async () => {} };
      },
    },
  ];
  return { name: 'memory', server: `in-process (node ${process.version})`, contenders };
};

import { SessionStore } from '../../shared/store.js';
import type { BaseStoreOptions, StoredRecord } from '../../shared/types.js';
import { assertNumberOption } from '../../shared/validate.js';

/** Options of {@link MemoryStore}: the shared options plus a bound on the number of sessions. */
export interface MemoryStoreOptions<Stored = string> extends BaseStoreOptions<Stored> {
  /**
   * Most sessions kept (memorystore's name). Past it, the least recently used session is dropped and `'evict'`
   * is emitted with its sid: that user is logged out, so size this well above your active sessions.
   * Default 1,000,000.
   */
  max?: number;
  /** memorystore's name for `pruneIntervalMs` (ms). */
  checkPeriod?: number;
}

/**
 * An in-process session store: sessions live in this process only and vanish with it. For development, tests
 * and single-process apps. Sessions are kept serialized (a stored session never shares objects with a live one),
 * in least-recently-used order, bounded by `max`; expired sessions are never returned and are swept every
 * minute by default.
 *
 * @example
 * ```ts
 * import { MemoryStore } from 'session-stores/memory';
 * app.use(session({ store: new MemoryStore({ max: 100_000 }), secret, resave: false, saveUninitialized: false }));
 * ```
 */
export class MemoryStore<Stored = string> extends SessionStore<Stored> {
  readonly #sessions = new Map<string, StoredRecord<Stored>>();
  readonly #max: number;

  constructor(options: MemoryStoreOptions<Stored> = {}) {
    super({ pruneIntervalMs: options.checkPeriod, ...options }, { name: 'memory', nativeExpiry: false, pruneIntervalMs: 60_000 });
    this.#max = options.max ?? 1_000_000;
    assertNumberOption('max', this.#max, 1);
  }

  protected override async _get(sid: string): Promise<StoredRecord<Stored> | undefined> {
    const record = this.#sessions.get(sid);
    if (record) {
      // Re-insert: Map iteration order is our LRU order.
      this.#sessions.delete(sid);
      this.#sessions.set(sid, record);
    }
    return record;
  }

  protected override async _set(sid: string, data: Stored, expiresAt: number): Promise<void> {
    this.#sessions.delete(sid);
    this.#sessions.set(sid, { data, expiresAt });
    if (this.#sessions.size > this.#max) {
      const oldest = this.#sessions.keys().next().value as string;
      this.#sessions.delete(oldest);
      this.emit('evict', oldest);
    }
  }

  protected override async _touch(sid: string, expiresAt: number, now: number): Promise<boolean> {
    const record = this.#sessions.get(sid);
    if (!record || (record.expiresAt !== null && record.expiresAt <= now)) return false;
    record.expiresAt = expiresAt;
    return true;
  }

  protected override async _destroy(sid: string): Promise<void> {
    this.#sessions.delete(sid);
  }

  protected override async *_entries(): AsyncIterable<[string, StoredRecord<Stored>]> {
    // A snapshot: callers may modify the store while they iterate.
    yield* Array.from(this.#sessions, ([sid, record]): [string, StoredRecord<Stored>] => [sid, { ...record }]);
  }

  protected override async _length(now: number): Promise<number> {
    let count = 0;
    for (const record of this.#sessions.values()) if (record.expiresAt === null || record.expiresAt > now) count++;
    return count;
  }

  protected override async _clear(): Promise<void> {
    this.#sessions.clear();
  }

  protected override async _pruneBatch(now: number, limit: number): Promise<number> {
    let deleted = 0;
    for (const [sid, record] of this.#sessions) {
      if (record.expiresAt !== null && record.expiresAt <= now) {
        this.#sessions.delete(sid);
        if (++deleted >= limit) break;
      }
    }
    return deleted;
  }

  protected override async _close(): Promise<void> {
    this.#sessions.clear();
  }
}

export default MemoryStore;

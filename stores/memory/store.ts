import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { type SessionMap, SessionStore, storeOptions } from '../../shared/store.js';
import { intervalMs, num, scaled } from '../../shared/options.js';
import type { BaseStoreOptions, StoredRecord } from '../../shared/types.js';

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

/** Entries a scan looks at before letting the event loop run. */
const SCAN_SLICE = 10_000;

/** A stored session, with the "recently used" bit of the CLOCK eviction. */
interface Entry<Stored> extends StoredRecord<Stored> {
  used: boolean;
}

const OPTIONS = {
  options: { max: num(1, { integer: true }), pruneIntervalMs: intervalMs },
  aliases: { checkPeriod: scaled('pruneIntervalMs', 1) },
};

/**
 * An in-process session store: sessions live in this process only and vanish with it. For development, tests
 * and single-process apps. Sessions are kept serialized (a stored session never shares objects with a live one),
 * bounded by `max`; expired sessions are never returned and are swept every minute by default.
 *
 * Past `max`, the store drops a session that was not used recently (CLOCK, the classic approximation of
 * least-recently-used: a read only sets a bit instead of reordering the map, which keeps reads cheap and bulk
 * scans stable).
 *
 * @example
 * ```ts
 * import { MemoryStore } from 'session-stores/memory';
 * const store = new MemoryStore({ max: 100_000 });
 * ```
 */
export class MemoryStore<Stored = string> extends SessionStore<Stored, SessionMap> {
  readonly #sessions = new Map<string, Entry<Stored>>();
  readonly #max: number;

  constructor(options: MemoryStoreOptions<Stored> = {}) {
    const opts = storeOptions<MemoryStoreOptions<Stored>>(options, OPTIONS);
    super(opts, { name: 'memory', pruneIntervalMs: 60_000, timeouts: false });
    this.#max = opts.max ?? 1_000_000;
  }

  protected override async _get(sid: string): Promise<StoredRecord<Stored> | undefined> {
    const entry = this.#sessions.get(sid);
    if (entry) entry.used = true;
    return entry;
  }

  protected override async _set(sid: string, data: Stored, expiresAt: number): Promise<void> {
    const entry = this.#sessions.get(sid);
    if (entry) {
      entry.data = data;
      entry.expiresAt = expiresAt;
      entry.used = true;
      return;
    }
    this.#sessions.set(sid, { data, expiresAt, used: false });
    if (this.#sessions.size > this.#max) this.#evict();
  }

  /** CLOCK: the oldest entry not used since the hand last passed goes; used ones get a second chance at the end. */
  #evict(): void {
    for (const [sid, entry] of this.#sessions) {
      this.#sessions.delete(sid);
      if (!entry.used) {
        this.emit('evict', sid);
        return;
      }
      entry.used = false;
      this.#sessions.set(sid, entry);
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
    // The live map: a Map iterator skips entries deleted meanwhile and visits those added, so callers may modify
    // the store while the base iterates (and yields to the event loop) without a copy of a million entries.
    for (const [sid, record] of this.#sessions) yield [sid, { data: record.data, expiresAt: record.expiresAt }];
  }

  protected override async *_ids(now: number): AsyncIterable<string> {
    let scanned = 0;
    for (const [sid, record] of this.#sessions) {
      if (record.expiresAt === null || record.expiresAt > now) yield sid;
      if (++scanned % SCAN_SLICE === 0) await yieldToEventLoop();
    }
  }

  protected override async _clear(): Promise<void> {
    this.#sessions.clear();
  }

  protected override async *_prune(now: number, batchSize: number): AsyncIterable<number> {
    let deleted = 0;
    let scanned = 0;
    for (const [sid, record] of this.#sessions) {
      if (record.expiresAt !== null && record.expiresAt <= now) {
        this.#sessions.delete(sid);
        deleted++;
      }
      // A batch ends after batchSize deletions or a slice of scanning, whichever comes first.
      scanned++;
      if (deleted >= batchSize || scanned % SCAN_SLICE === 0) {
        yield deleted;
        deleted = 0;
      }
    }
    yield deleted;
  }

  protected override async _close(): Promise<void> {
    this.#sessions.clear();
  }
}

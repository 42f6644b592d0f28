import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { type SessionMap, SessionStore, storeOptions } from '../../shared/store.js';
import { intervalMs, num, scaled } from '../../shared/options.js';
import type { BaseStoreOptions, StoredRecord, WriteContext } from '../../shared/types.js';

/** Options of {@link MemoryStore}: the shared options plus a bound on the number of sessions. */
export interface MemoryStoreOptions<Stored = string> extends BaseStoreOptions<Stored> {
  /**
   * Most sessions kept (memorystore's name). Past it, the least recently used session is dropped and `'evict'`
   * is emitted with its sid: that user is logged out, so size this well above your active sessions.
   * Tombstones (what `destroy()` leaves so that a slow request cannot log a user back in) are kept apart and never
   * evict a session; at most `max` of them are kept, the oldest dropped first (a late write of a session whose
   * tombstone was dropped is taken). Default 1,000,000.
   */
  max?: number;
  /** memorystore's name for `pruneIntervalMs` (ms). */
  checkPeriod?: number;
}

/** Entries a scan looks at before letting the event loop run. */
const SCAN_SLICE = 10_000;

/** A stored session, with the "recently used" bit of the CLOCK eviction and its owner. */
interface Entry<Stored> extends StoredRecord<Stored> {
  used: boolean;
  owner: string | null;
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
 * least-recently-used: a read only sets a bit instead of reordering the map, which keeps reads cheap). Tombstones
 * live in a map of their own, bounded by `max` too, so that logouts never evict sessions.
 *
 * @example
 * ```ts
 * import { MemoryStore } from 'session-stores/memory';
 * const store = new MemoryStore({ max: 100_000 });
 * ```
 */
export class MemoryStore<Stored = string> extends SessionStore<Stored, SessionMap> {
  /** Sessions, in CLOCK order: the hand is the front; a session given a second chance moves to the back. */
  readonly #sessions = new Map<string, Entry<Stored>>();
  /** Tombstones left by `destroy()` (revocation): sid → until when no write may replace it. Oldest first. */
  readonly #revoked = new Map<string, number>();
  /** Owner → its sids (the `owner` option); kept in step with every write, destroy and prune. */
  readonly #owners = new Map<string, Set<string>>();
  readonly #max: number;

  constructor(options: MemoryStoreOptions<Stored> = {}) {
    const opts = storeOptions<MemoryStoreOptions<Stored>>(options, OPTIONS);
    super(opts, { name: 'memory', pruneIntervalMs: 60_000, timeouts: false, capabilities: { revocation: true } });
    this.#max = opts.max ?? 1_000_000;
  }

  protected override async _get(sid: string): Promise<StoredRecord<Stored> | undefined> {
    const entry = this.#sessions.get(sid);
    if (!entry) return undefined;
    entry.used = true;
    return entry;
  }

  protected override async _set(sid: string, data: Stored, expiresAt: number, now: number, context: WriteContext): Promise<void> {
    if (this.#revoked.size > 0) {
      const until = this.#revoked.get(sid);
      if (until !== undefined) {
        if (context.guarded && until > now) return; // logged out: a late write stays out
        this.#revoked.delete(sid);
      }
    }
    const entry = this.#sessions.get(sid);
    this.#index(sid, entry?.owner ?? null, context.owner);
    if (entry) {
      entry.data = data;
      entry.expiresAt = expiresAt;
      entry.used = true;
      entry.owner = context.owner;
      return;
    }
    this.#sessions.set(sid, { data, expiresAt, used: false, owner: context.owner });
    if (this.#sessions.size > this.#max) this.#evict();
  }

  /**
   * CLOCK with the hand at the front of the map: the first session not used since the hand last passed goes; a
   * used one loses its bit and moves to the back (its second chance). Every session the hand passes is either
   * dropped or moved behind all the others, so an eviction costs O(1) amortized (one pass over a map of
   * sessions that were all read ends at the first one passed).
   */
  #evict(): void {
    for (const [sid, entry] of this.#sessions) {
      if (!entry.used) {
        this.#remove(sid, entry);
        this.emit('evict', sid);
        return;
      }
      entry.used = false;
      this.#sessions.delete(sid);
      this.#sessions.set(sid, entry);
    }
  }

  protected override async _touch(sid: string, expiresAt: number, now: number): Promise<boolean> {
    const record = this.#sessions.get(sid);
    if (!record || (record.expiresAt !== null && record.expiresAt <= now)) return false;
    record.expiresAt = expiresAt;
    return true;
  }

  protected override async _destroy(sid: string, _now: number, tombstoneUntil: number | null): Promise<void> {
    const entry = this.#sessions.get(sid);
    if (entry) this.#remove(sid, entry);
    if (tombstoneUntil === null) return;
    // A plain delete (tombstoneUntil null) leaves a tombstone alone; a logout renews it, at the back of the queue.
    this.#revoked.delete(sid);
    this.#revoked.set(sid, tombstoneUntil);
    if (this.#revoked.size > this.#max) this.#revoked.delete(this.#revoked.keys().next().value as string);
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

  protected override async *_sessionsOf(owner: string): AsyncIterable<[string, StoredRecord<Stored>]> {
    for (const sid of this.#owners.get(owner) ?? []) {
      const entry = this.#sessions.get(sid);
      if (entry) yield [sid, { data: entry.data, expiresAt: entry.expiresAt }];
    }
  }

  protected override async _clear(): Promise<void> {
    this.#sessions.clear();
    this.#revoked.clear();
    this.#owners.clear();
  }

  /** Deletes an entry and its owner index entry. */
  #remove(sid: string, entry: Entry<Stored>): void {
    this.#sessions.delete(sid);
    this.#index(sid, entry.owner, null);
  }

  /** Moves `sid` from `before`'s index entry to `after`'s. */
  #index(sid: string, before: string | null, after: string | null): void {
    if (before === after) return;
    if (before !== null) {
      const sids = this.#owners.get(before);
      sids?.delete(sid);
      if (sids?.size === 0) this.#owners.delete(before);
    }
    if (after !== null) {
      let sids = this.#owners.get(after);
      if (!sids) this.#owners.set(after, (sids = new Set()));
      sids.add(sid);
    }
  }

  protected override async *_prune(now: number, batchSize: number): AsyncIterable<number> {
    let deleted = 0;
    let scanned = 0;
    for (const [sid, record] of this.#sessions) {
      if (record.expiresAt !== null && record.expiresAt <= now) {
        this.#remove(sid, record);
        deleted++;
      }
      // A batch ends after batchSize deletions or a slice of scanning, whichever comes first.
      scanned++;
      if (deleted >= batchSize || scanned % SCAN_SLICE === 0) {
        yield deleted;
        deleted = 0;
      }
    }
    // Expired tombstones go too, but only sessions are counted.
    for (const [sid, until] of this.#revoked) {
      if (until <= now) this.#revoked.delete(sid);
      if (++scanned % SCAN_SLICE === 0) yield 0;
    }
    yield deleted;
  }

  protected override async _close(): Promise<void> {
    // Closing frees the memory: the same as clear().
    await this._clear();
  }
}

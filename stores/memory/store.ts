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

/** Slots the columns start with; they double when full. */
const INITIAL_SLOTS = 1024;

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
  /**
   * Sessions, in CLOCK order: the hand is the front; a session given a second chance moves to the back. A session
   * is a slot in three columns (its data, its expiry, its "recently used" bit) rather than an object of its own:
   * an object and its boxed expiry cost ~70 bytes per session, the columns ~18 (1M sessions: RSS 750 → 699 MB, express-session's MemoryStore 696–703).
   */
  readonly #sessions = new Map<string, number>();
  /** Slot → stored data (`undefined` when the slot is free). */
  #data: (Stored | undefined)[] = [];
  /** Slot → expiry in epoch ms, NaN for none. */
  #expires = new Float64Array(INITIAL_SLOTS);
  /** Slot → 1 when read since the CLOCK hand last passed it. */
  #used = new Uint8Array(INITIAL_SLOTS);
  /** Slots freed by deletes, reused first; slots from `#next` on were never used. */
  #free: number[] = [];
  #next = 0;
  /** sid → owner, for the sessions saved with one (the `owner` option). */
  readonly #ownerOf = new Map<string, string>();
  /**
   * Tombstones left by `destroy()` (revocation): sid → until when no write may replace it, in epoch seconds rounded
   * up (a small integer V8 keeps unboxed, where epoch ms would be a heap number per tombstone; the window lasts up
   * to a second longer, never shorter). Oldest first.
   */
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
    const slot = this.#sessions.get(sid);
    if (slot === undefined) return undefined;
    this.#used[slot] = 1;
    return this.#record(slot);
  }

  /** The record in `slot`. */
  #record(slot: number): StoredRecord<Stored> {
    const expiresAt = this.#expires[slot]!;
    return { data: this.#data[slot] as Stored, expiresAt: expiresAt === expiresAt ? expiresAt : null };
  }

  /** A slot for a new session, the columns grown (doubled) when every slot is taken. */
  #allocate(): number {
    const reused = this.#free.pop();
    if (reused !== undefined) return reused;
    const slot = this.#next++;
    if (slot === this.#expires.length) {
      const expires = new Float64Array(slot * 2);
      expires.set(this.#expires);
      this.#expires = expires;
      const used = new Uint8Array(slot * 2);
      used.set(this.#used);
      this.#used = used;
    }
    return slot;
  }

  protected override async _set(sid: string, data: Stored, expiresAt: number, now: number, context: WriteContext): Promise<void> {
    if (this.#revoked.size > 0) {
      const until = this.#revoked.get(sid);
      if (until !== undefined) {
        if (context.guarded && until * 1000 > now) return; // logged out: a late write stays out
        this.#revoked.delete(sid);
      }
    }
    if (this.#owners.size > 0 || context.owner !== null) this.#index(sid, context.owner);
    let slot = this.#sessions.get(sid);
    if (slot !== undefined) {
      this.#used[slot] = 1;
    } else {
      slot = this.#allocate();
      this.#used[slot] = 0;
      this.#sessions.set(sid, slot);
    }
    this.#data[slot] = data;
    this.#expires[slot] = expiresAt ?? NaN;
    if (this.#sessions.size > this.#max) this.#evict();
  }

  /**
   * CLOCK with the hand at the front of the map: the first session not used since the hand last passed goes; a
   * used one loses its bit and moves to the back (its second chance). Every session the hand passes is either
   * dropped or moved behind all the others, so an eviction costs O(1) amortized (one pass over a map of
   * sessions that were all read ends at the first one passed).
   */
  #evict(): void {
    for (const [sid, slot] of this.#sessions) {
      if (this.#used[slot] === 0) {
        this.#remove(sid, slot);
        this.emit('evict', sid);
        return;
      }
      this.#used[slot] = 0;
      this.#sessions.delete(sid);
      this.#sessions.set(sid, slot);
    }
  }

  protected override async _touch(sid: string, expiresAt: number, now: number): Promise<boolean> {
    const slot = this.#sessions.get(sid);
    // NaN (no expiry) is never <= now.
    if (slot === undefined || this.#expires[slot]! <= now) return false;
    this.#expires[slot] = expiresAt;
    return true;
  }

  protected override async _destroy(sid: string, _now: number, tombstoneUntil: number | null): Promise<void> {
    const slot = this.#sessions.get(sid);
    if (slot !== undefined) this.#remove(sid, slot);
    if (tombstoneUntil === null) return;
    // A plain delete (tombstoneUntil null) leaves a tombstone alone; a logout renews it, at the back of the queue.
    this.#revoked.delete(sid);
    this.#revoked.set(sid, Math.ceil(tombstoneUntil / 1000));
    if (this.#revoked.size > this.#max) this.#revoked.delete(this.#revoked.keys().next().value as string);
  }

  protected override async *_entries(): AsyncIterable<[string, StoredRecord<Stored>]> {
    // The live map: a Map iterator skips entries deleted meanwhile and visits those added, so callers may modify
    // the store while the base iterates (and yields to the event loop) without a copy of a million entries.
    for (const [sid, slot] of this.#sessions) yield [sid, this.#record(slot)];
  }

  protected override async *_ids(now: number): AsyncIterable<string> {
    let scanned = 0;
    for (const [sid, slot] of this.#sessions) {
      if (!(this.#expires[slot]! <= now)) yield sid;
      if (++scanned % SCAN_SLICE === 0) await yieldToEventLoop();
    }
  }

  protected override async *_sessionsOf(owner: string): AsyncIterable<[string, StoredRecord<Stored>]> {
    for (const sid of this.#owners.get(owner) ?? []) {
      const slot = this.#sessions.get(sid);
      if (slot !== undefined) yield [sid, this.#record(slot)];
    }
  }

  protected override async _clear(): Promise<void> {
    this.#sessions.clear();
    this.#data = [];
    this.#expires = new Float64Array(INITIAL_SLOTS);
    this.#used = new Uint8Array(INITIAL_SLOTS);
    this.#free = [];
    this.#next = 0;
    this.#revoked.clear();
    this.#owners.clear();
    this.#ownerOf.clear();
  }

  /** Deletes a session, frees its slot, and drops it from the owner index. */
  #remove(sid: string, slot: number): void {
    this.#sessions.delete(sid);
    this.#data[slot] = undefined;
    this.#free.push(slot);
    if (this.#owners.size > 0) this.#index(sid, null);
  }

  /** Moves `sid` to `after`'s index entry (none: out of the index). */
  #index(sid: string, after: string | null): void {
    const before = this.#ownerOf.get(sid) ?? null;
    if (before === after) return;
    if (after === null) this.#ownerOf.delete(sid);
    else this.#ownerOf.set(sid, after);
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
    for (const [sid, slot] of this.#sessions) {
      if (this.#expires[slot]! <= now) {
        this.#remove(sid, slot);
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
      if (until * 1000 <= now) this.#revoked.delete(sid);
      if (++scanned % SCAN_SLICE === 0) yield 0;
    }
    yield deleted;
  }

  protected override async _close(): Promise<void> {
    // Closing frees the memory: the same as clear().
    await this._clear();
  }
}

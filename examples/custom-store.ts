// A complete store of your own: extend SessionStore, implement the hooks, run the conformance suite on it.
import { SessionStore, storeOptions, type BaseStoreOptions, type SessionMap, type StoredRecord } from 'session-stores';

/** What MapStore keeps per session: the base hands it serialized data and an absolute expiry in ms. */
type Entry = StoredRecord<string>;

/** Options of MapStore: the shared options (ttl, touchAfter, …) plus the Map that holds the sessions. */
export interface MapStoreOptions extends BaseStoreOptions<string> {
  /** Where sessions live; stores given different maps are different namespaces. Default: a new Map. */
  map?: Map<string, Entry>;
}

/** Sessions in a Map. The base does the rest: validation, expiry, touch policy, callbacks, errors, close(). */
export class MapStore extends SessionStore<string, SessionMap> {
  readonly #map: Map<string, Entry>;

  constructor(options: MapStoreOptions = {}) {
    // Validate every option before super(): bad options throw before the store starts anything.
    const opts = storeOptions<MapStoreOptions>(options, { options: { map: (value) => value } });
    const map = opts.map ?? new Map<string, Entry>();
    super(opts, { name: 'map', namespace: namespaceOf(map), timeouts: false });
    this.#map = map;
  }

  // The record, or null. It may be expired: the base filters it.
  protected override async _get(sid: string): Promise<Entry | null> {
    return this.#map.get(sid) ?? null;
  }

  // expiresAt is absolute epoch ms, always in the future.
  protected override async _set(sid: string, data: string, expiresAt: number): Promise<void> {
    this.#map.set(sid, { data, expiresAt });
  }

  // Only an existing, unexpired session: touch must never create or resurrect one.
  protected override async _touch(sid: string, expiresAt: number, now: number): Promise<boolean> {
    const entry = this.#map.get(sid);
    if (!entry || (entry.expiresAt !== null && entry.expiresAt <= now)) return false;
    entry.expiresAt = expiresAt;
    return true;
  }

  protected override async _destroy(sid: string): Promise<void> {
    this.#map.delete(sid);
  }

  // Optional hooks: each one enables a method (here all(), ids(), length() and clear()).
  protected override async *_entries(): AsyncIterable<[string, Entry]> {
    yield* this.#map;
  }

  protected override async _clear(): Promise<void> {
    this.#map.clear();
  }
}

// A name per Map, so that the conformance suite can tell two stores are in different namespaces.
const names = new WeakMap<Map<string, Entry>, string>();
let counter = 0;
function namespaceOf(map: Map<string, Entry>): string {
  if (!names.has(map)) names.set(map, `map-${++counter}`);
  return names.get(map)!;
}

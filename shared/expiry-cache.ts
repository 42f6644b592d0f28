/**
 * Remembers, per sid, the expiry this process last read or wrote, so that lazy touch can skip writes without
 * asking the database. A bounded map in insertion order serves as an LRU: a hit moves the entry to the end.
 */
export class ExpiryCache {
  readonly #entries = new Map<string, number>();

  constructor(private readonly capacity: number) {}

  get(sid: string): number | undefined {
    const value = this.#entries.get(sid);
    if (value !== undefined) {
      this.#entries.delete(sid);
      this.#entries.set(sid, value);
    }
    return value;
  }

  set(sid: string, expiresAt: number | null): void {
    this.#entries.delete(sid);
    if (expiresAt === null || this.capacity <= 0) return;
    this.#entries.set(sid, expiresAt);
    if (this.#entries.size > this.capacity) {
      const oldest = this.#entries.keys().next().value as string;
      this.#entries.delete(oldest);
    }
  }

  delete(sid: string): void {
    this.#entries.delete(sid);
  }

  clear(): void {
    this.#entries.clear();
  }
}

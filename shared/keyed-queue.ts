/**
 * Runs operations on one key one after another, in the order they were started, while operations on different
 * keys run concurrently: for backends whose conditional write is a check followed by a separate write (files; a
 * FerretDB update, which reads the document, then rewrites it), so that two writes of one session by this process
 * never interleave. It orders this process only; it is no lock between processes.
 */
export class KeyedQueue {
  /** The tail of the operations in flight per key. */
  readonly #tails = new Map<string, Promise<unknown>>();

  /** Runs `body` once every operation on `key` started before it has settled. */
  run<T>(key: string, body: () => Promise<T>): Promise<T> {
    const previous = this.#tails.get(key);
    const result = previous ? previous.then(body, body) : body();
    const tail = result.catch(() => {});
    this.#tails.set(key, tail);
    void tail.then(() => {
      if (this.#tails.get(key) === tail) this.#tails.delete(key);
    });
    return result;
  }
}

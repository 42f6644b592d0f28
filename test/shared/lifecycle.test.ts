/**
 * The lifecycle the base owns for every store: open on the next tick (after every constructor has run),
 * operations waiting for it, a failed open reported and retried, close() waiting for operations in flight and
 * for a pruning pass, one pruning pass at a time. Each test here failed on the first-round base.
 */
import { describe, expect, it } from 'vitest';
import { ErrorCode, SessionStoreError } from '../../shared/index.js';
import type { WriteContext } from '../../shared/types.js';
import { MemoryStore } from '../../stores/memory/index.js';
import { PostgresStore } from '../../stores/postgres/index.js';

const future = (ms = 60_000) => new Date(Date.now() + ms);
const sess = (expires: Date | null) => ({ cookie: { originalMaxAge: 60_000, expires, httpOnly: true, path: '/' } }) as never;
/** Lets every nextTick, microtask and immediate queued so far run (an open scheduled on the next tick included). */
const settle = () => new Promise((resolve) => setImmediate(resolve));

/** A promise with its resolve function, to hold a hook open for as long as a test wants. */
function gate(): { promise: Promise<void>; open: () => void } {
  let open!: () => void;
  const promise = new Promise<void>((resolve) => (open = resolve));
  return { promise, open };
}

describe('lifecycle', () => {
  it('a constructor that throws on its options starts nothing (pruning starts only after an open)', async () => {
    let opened = 0;
    class Watched extends MemoryStore {
      protected override async _open(): Promise<void> {
        opened++;
      }
    }
    expect(() => new Watched({ max: 0, pruneIntervalMs: 5 })).toThrow(expect.objectContaining({ code: ErrorCode.INVALID_OPTION }));
    expect(() => new PostgresStore({ layout: 'bogus' as never, pruneIntervalMs: 5 })).toThrow(
      expect.objectContaining({ code: ErrorCode.INVALID_OPTION }),
    );
    await settle();
    expect(opened).toBe(0);
  });

  it('opens on the next tick, starts pruning only once open, and ready() resolves', async () => {
    const events: string[] = [];
    class Traced extends MemoryStore {
      constructor() {
        super({ pruneIntervalMs: 1 });
        events.push('constructed');
      }
      protected override async _open(): Promise<void> {
        events.push('open');
      }
      protected override async *_prune(): AsyncIterable<number> {
        events.push('prune');
        yield 0;
      }
    }
    const store = new Traced();
    expect(events).toEqual(['constructed']);
    await store.ready();
    expect(events.slice(0, 2)).toEqual(['constructed', 'open']);
    while (!events.includes('prune')) await new Promise((r) => setTimeout(r, 5));
    await store.close();
    const runs = events.length;
    await new Promise((r) => setTimeout(r, 20));
    expect(events.length).toBe(runs); // closed: no pass after close()
  });

  it('operations issued before the open completes wait for it', async () => {
    const opening = gate();
    const order: string[] = [];
    class Slow extends MemoryStore {
      protected override async _open(): Promise<void> {
        await opening.promise;
        order.push('opened');
      }
    }
    const store = new Slow();
    const set = store.set('a', sess(future())).then(() => order.push('set'));
    await settle();
    expect(order).toEqual([]);
    opening.open();
    await set;
    expect(order).toEqual(['opened', 'set']);
    expect(await store.get('a')).not.toBeNull();
    await store.close();
  });

  it("a failed open fails the operations with the reason as cause, emits 'error', and is retried", async () => {
    let attempts = 0;
    const cause = new Error('database unreachable');
    class Flaky extends MemoryStore {
      protected override async _open(): Promise<void> {
        if (++attempts === 1) throw cause;
      }
    }
    const store = new Flaky();
    const errors: unknown[] = [];
    store.on('error', (err) => errors.push(err));
    const err = await store.get('a').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SessionStoreError);
    expect(err).toMatchObject({ code: ErrorCode.BACKEND, cause });
    expect(errors).toEqual([err]);
    // The next operation opens again, and this time it works.
    await store.set('a', sess(future()));
    expect(await store.get('a')).not.toBeNull();
    expect(attempts).toBe(2);
    await store.close();
  });

  it('close() waits for 100 operations in flight, lets them finish, and refuses new ones', async () => {
    const release = gate();
    class Held extends MemoryStore {
      protected override async _set(sid: string, data: string, expiresAt: number, now: number, context: WriteContext): Promise<void> {
        await release.promise;
        return super._set(sid, data, expiresAt, now, context);
      }
    }
    const store = new Held();
    await store.ready();
    const settled: string[] = [];
    const ops = Array.from({ length: 100 }, (_, i) =>
      store.set(`s${i}`, sess(future())).then(
        () => settled.push('ok'),
        (e: unknown) => settled.push(String(e)),
      ),
    );
    let closed = false;
    const closing = store.close().then(() => (closed = true));
    await expect(store.get('x')).rejects.toMatchObject({ code: ErrorCode.CLOSED });
    await settle();
    expect(closed).toBe(false);
    release.open();
    await closing;
    expect(settled).toEqual(Array(100).fill('ok'));
    await Promise.all(ops);
  });

  it('close() stops a running pruning pass after its current batch and waits for it, its cleanup included', async () => {
    const batch = gate();
    const log: string[] = [];
    class SlowPrune extends MemoryStore {
      protected override async *_prune(): AsyncIterable<number> {
        try {
          log.push('batch 1');
          await batch.promise;
          yield 1;
          log.push('batch 2');
          yield 1;
        } finally {
          // Cleanup that takes a while (Postgres releases its advisory lock with a query): close() waits for it.
          await settle();
          log.push('pass ended');
        }
      }
      protected override async _close(): Promise<void> {
        log.push('_close');
      }
    }
    const store = new SlowPrune({ pruneIntervalMs: false });
    const pass = store.prune();
    await settle();
    const closing = store.close();
    await settle();
    expect(log).toEqual(['batch 1']);
    batch.open();
    await closing;
    expect(log).toEqual(['batch 1', 'pass ended', '_close']);
    expect(await pass).toBe(1);
  });

  it('two overlapping prune() calls run one pass: the second joins the first', async () => {
    let running = 0;
    let most = 0;
    let passes = 0;
    const batch = gate();
    class Counting extends MemoryStore {
      protected override async *_prune(): AsyncIterable<number> {
        passes++;
        running++;
        most = Math.max(most, running);
        try {
          await batch.promise;
          yield 3;
        } finally {
          running--;
        }
      }
    }
    const store = new Counting({ pruneIntervalMs: false });
    const first = store.prune();
    const second = store.prune();
    batch.open();
    expect(await Promise.all([first, second])).toEqual([3, 3]);
    expect(passes).toBe(1);
    expect(most).toBe(1);
    expect(await store.prune()).toBe(3); // a later call starts a new pass
    expect(passes).toBe(2);
    await store.close();
  });

  it('a store closed before it opened never opens, and close() still releases it', async () => {
    const log: string[] = [];
    class Traced extends MemoryStore {
      protected override async _open(): Promise<void> {
        log.push('open');
      }
      protected override async _close(): Promise<void> {
        log.push('close');
      }
    }
    const store = new Traced();
    await store.close();
    await settle();
    expect(log).toEqual(['close']);
    await expect(store.ready()).rejects.toMatchObject({ code: ErrorCode.CLOSED });
  });
});

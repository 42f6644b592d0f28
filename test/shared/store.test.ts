import { describe, expect, it } from 'vitest';
import { SessionStoreError, ErrorCode, SessionStore, type StoredRecord } from '../../shared/index.js';
import type { WriteContext } from '../../shared/types.js';
import { MemoryStore } from '../../stores/memory/index.js';

const future = (ms = 60_000) => new Date(Date.now() + ms);
const sess = (expires: Date | null, extra: Record<string, unknown> = {}) =>
  ({ cookie: { originalMaxAge: expires ? expires.getTime() - Date.now() : null, expires, httpOnly: true, path: '/' }, ...extra }) as never;

/** A store that records which hooks ran, to prove what reaches the database and what does not. */
class RecordingStore extends MemoryStore {
  readonly calls: string[] = [];
  protected override async _touch(sid: string, expiresAt: number, now: number): Promise<boolean> {
    this.calls.push(`touch:${sid}`);
    return super._touch(sid, expiresAt, now);
  }
  protected override async _set(sid: string, data: string, expiresAt: number, now: number, context: WriteContext): Promise<void> {
    this.calls.push(`set:${sid}`);
    return super._set(sid, data, expiresAt, now, context);
  }
}

describe('shared SessionStore', () => {
  it('rejects invalid options with SESSION_STORE_INVALID_OPTION at construction', () => {
    for (const options of [
      { ttl: -1 },
      { ttl: Number.NaN },
      { touchAfter: -5 },
      { maxSidLength: 0 },
      { pruneIntervalMs: -1 },
      { max: 0 },
    ]) {
      expect(() => new MemoryStore(options as never), JSON.stringify(options)).toThrow(
        expect.objectContaining({ code: ErrorCode.INVALID_OPTION }),
      );
    }
  });

  it('uses a ttl function of the session, in seconds, for browser-session cookies', async () => {
    const store = new MemoryStore({ ttl: (s) => ((s as { long?: boolean }).long ? 3600 : 0) });
    await store.set('short', sess(null));
    await store.set('long', sess(null, { long: true }));
    expect(await store.get('short')).toBeNull();
    expect(await store.get('long')).toMatchObject({ long: true });
    await store.close();
  });

  it('fails with SESSION_STORE_INVALID_OPTION when a ttl function returns a non-number', async () => {
    const store = new MemoryStore({ ttl: () => 'soon' as never });
    await expect(store.set('a', sess(null))).rejects.toMatchObject({ code: ErrorCode.INVALID_OPTION });
    await store.close();
  });

  it('lazy touch skips writes inside the window and writes beyond it', async () => {
    const store = new RecordingStore({ touchAfter: 60 });
    const expires = future(3_600_000);
    await store.set('a', sess(expires));
    await store.touch('a', sess(new Date(expires.getTime() + 30_000)));
    expect(store.calls).toEqual(['set:a']);
    await store.touch('a', sess(new Date(expires.getTime() + 61_000)));
    expect(store.calls).toEqual(['set:a', 'touch:a']);
    expect((await store.get('a'))?.cookie.expires).toBe(new Date(expires.getTime() + 61_000).toISOString());
    await store.close();
  });

  it('lazy touch never skips for a sid it has not seen, nor after destroy', async () => {
    const store = new RecordingStore({ touchAfter: 60 });
    const expires = future(3_600_000);
    await store.touch('unknown', sess(expires));
    await store.set('a', sess(expires));
    await store.destroy('a');
    await store.touch('a', sess(new Date(expires.getTime() + 1)));
    expect(store.calls).toEqual(['touch:unknown', 'set:a', 'touch:a']);
    expect(await store.get('a')).toBeNull();
    await store.close();
  });

  it('disableTouch makes touch a successful no-op', async () => {
    const store = new RecordingStore({ disableTouch: true });
    await store.set('a', sess(future()));
    await store.touch('a', sess(future(120_000)));
    expect(store.calls).toEqual(['set:a']);
    expect(store.supports.touch).toBe(false);
    await store.close();
  });

  it("treats an undecodable record as missing by default and reports it only to 'error' listeners", async () => {
    const store = new MemoryStore({
      serializer: {
        stringify: JSON.stringify,
        parse: () => {
          throw new Error('bad bytes');
        },
      },
    });
    await store.set('a', sess(future()));
    expect(await store.get('a')).toBeNull(); // no listener: no throw, no crash
    const errors: unknown[] = [];
    store.on('error', (err) => errors.push(err));
    expect(await store.get('a')).toBeNull();
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ code: ErrorCode.DECODE_FAILED });
    expect((errors[0] as SessionStoreError).cause).toBeInstanceOf(Error);
    await store.close();
  });

  it("fails get with SESSION_STORE_DECODE_FAILED when onDecodeError is 'error'", async () => {
    const store = new MemoryStore({ onDecodeError: 'error', serializer: { stringify: JSON.stringify, parse: () => 42 as never } });
    await store.set('a', sess(future()));
    await expect(store.get('a')).rejects.toMatchObject({ code: ErrorCode.DECODE_FAILED });
    await store.close();
  });

  it('wraps backend failures in SESSION_STORE_BACKEND with the cause kept', async () => {
    const cause = new Error('connection reset');
    class Broken extends MemoryStore {
      protected override async _get(): Promise<StoredRecord | undefined> {
        throw cause;
      }
    }
    const store = new Broken();
    const err = await store.get('a').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SessionStoreError);
    expect(err).toMatchObject({ code: ErrorCode.BACKEND, cause });
    await store.close();
  });

  it("emits 'connect' and 'disconnect' only on changes", () => {
    class Flappy extends MemoryStore {
      flip(up: boolean) {
        this.setConnected(up);
      }
    }
    const store = new Flappy();
    const events: string[] = [];
    store.on('connect', () => events.push('connect')).on('disconnect', () => events.push('disconnect'));
    store.flip(true);
    store.flip(false);
    store.flip(false);
    store.flip(true);
    expect(events).toEqual(['disconnect', 'connect']);
    expect(store.connected).toBe(true);
  });

  it('prunes in bounded batches and returns the count', async () => {
    const batches: number[] = [];
    class Counting extends MemoryStore {
      protected override async *_prune(now: number, limit: number): AsyncIterable<number> {
        for await (const n of super._prune!(now, limit)) {
          if (n > 0) batches.push(n);
          yield n;
        }
      }
    }
    const store = new Counting({ pruneBatchSize: 7, pruneIntervalMs: false });
    for (let i = 0; i < 20; i++) await store.set(`x${i}`, sess(future(3_600_000)));
    // A touch whose cookie has already expired moves the stored expiry into the past: they expire in place.
    for (let i = 0; i < 20; i++) await store.touch(`x${i}`, sess(new Date(Date.now() - 1)));
    expect(await store.length()).toBe(0);
    expect(await store.prune()).toBe(20);
    expect(batches).toEqual([7, 7, 6]);
    await store.close();
  });

  it('closes idempotently, stops pruning and rejects later calls with SESSION_STORE_CLOSED', async () => {
    const store = new MemoryStore({ pruneIntervalMs: 10 });
    await store.close();
    await store.close();
    for (const call of [() => store.get('a'), () => store.set('a', sess(future())), () => store.ids(), () => store.prune()]) {
      await expect(call()).rejects.toMatchObject({ code: ErrorCode.CLOSED });
    }
    expect(store.closed).toBe(true);
  });

  it('is an abstract base: backends implement only hooks', () => {
    expect(Object.getPrototypeOf(MemoryStore.prototype)).toBe(SessionStore.prototype);
    expect(typeof (SessionStore.prototype as unknown as { _get?: unknown })._get).toBe('undefined');
  });
});

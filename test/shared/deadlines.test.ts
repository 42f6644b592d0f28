import { describe, expect, it } from 'vitest';
import { Deadlines } from '../../shared/deadlines.js';
import { ErrorCode } from '../../shared/errors.js';

const never = () => new Promise<never>(() => {});

describe('Deadlines', () => {
  it('times out an operation that never settles, behind and ahead of thousands that did', async () => {
    const deadlines = new Deadlines(50, undefined, 'test ');
    try {
      for (let i = 0; i < 3_000; i++) await deadlines.run('fast', async () => i);
      const stuck = deadlines.run('stuck', never);
      const after: Array<Promise<number>> = [];
      for (let i = 0; i < 3_000; i++) after.push(deadlines.run('fast', async () => i));
      const late = deadlines.run('late', never);
      expect(await Promise.all(after)).toHaveLength(3_000);
      await expect(stuck).rejects.toMatchObject({ code: ErrorCode.TIMEOUT, message: 'test stuck did not complete within 50 ms' });
      await expect(late).rejects.toMatchObject({ code: ErrorCode.TIMEOUT });
    } finally {
      deadlines.clear();
    }
  });

  it('passes results and failures through, and a late result after the timeout changes nothing', async () => {
    const deadlines = new Deadlines(30);
    try {
      await expect(deadlines.run('ok', async () => 'v')).resolves.toBe('v');
      await expect(deadlines.run('fails', async () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
      // A hook that throws instead of returning a promise fails the operation; it does not throw at the caller.
      let thrown: Promise<unknown> | undefined;
      expect(() => {
        thrown = deadlines.run('throws', () => {
          throw new Error('sync');
        });
      }).not.toThrow();
      await expect(thrown).rejects.toThrow('sync');
      let finish!: (v: string) => void;
      const slow = deadlines.run('slow', () => new Promise<string>((resolve) => (finish = resolve)));
      await expect(slow).rejects.toMatchObject({ code: ErrorCode.TIMEOUT });
      finish('too late');
      await expect(slow).rejects.toMatchObject({ code: ErrorCode.TIMEOUT });
    } finally {
      deadlines.clear();
    }
  });

  it('an operation started from onTimeout (a health check) is bounded too', async () => {
    const timedOut: string[] = [];
    let check: Promise<unknown> | undefined;
    const deadlines: Deadlines = new Deadlines(30, (label) => {
      timedOut.push(label);
      // What a store does on a timeout: asks the server, through the same deadlines.
      if (label === 'op') check = deadlines.run('check', never);
    });
    try {
      // Many settled ones in front, so that the sweep that fails `op` also drops them.
      for (let i = 0; i < 2_000; i++) await deadlines.run('fast', async () => i);
      await expect(deadlines.run('op', never)).rejects.toMatchObject({ code: ErrorCode.TIMEOUT });
      expect(check).toBeDefined();
      await expect(check).rejects.toMatchObject({ code: ErrorCode.TIMEOUT });
      expect(timedOut).toEqual(['op', 'check']);
    } finally {
      deadlines.clear();
    }
  });
});

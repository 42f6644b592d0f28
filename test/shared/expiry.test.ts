import { describe, expect, it } from 'vitest';
import { MAX_EXPIRY_MS, isoString } from '../../shared/expiry.js';

const DAY = 86_400_000;

describe('isoString', () => {
  it('gives the text toISOString() gives, across the range a store keeps and beyond it', () => {
    const samples: number[] = [
      0,
      -1,
      1,
      DAY - 1,
      DAY,
      -DAY,
      -DAY - 1,
      MAX_EXPIRY_MS,
      MAX_EXPIRY_MS + 1,
      Date.UTC(0, 0, 1),
      Date.UTC(0, 0, 1) - 1,
    ];
    // Deterministic pseudo-random instants (a fixed LCG seed), each also at its day's first and last millisecond.
    let seed = 12345;
    const next = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    for (let i = 0; i < 20_000; i++) {
      const ms = Math.floor((next() * 2 - 0.5) * MAX_EXPIRY_MS);
      const day = Math.floor(ms / DAY) * DAY;
      samples.push(ms, day, day + DAY - 1);
    }
    // Around now, where expiries are: consecutive milliseconds and every second of a day.
    const now = Date.now();
    for (let i = 0; i < 2_000; i++) samples.push(now + i, now + i * 1_000 + (i % 1000));
    for (const ms of samples) expect(isoString(ms), String(ms)).toBe(new Date(ms).toISOString());
    // Asked twice, from the cached day prefix this time.
    for (const ms of samples.slice(0, 5_000)) expect(isoString(ms), String(ms)).toBe(new Date(ms).toISOString());
  });

  it('truncates fractional milliseconds as Date does', () => {
    for (const ms of [1.5, -1.5, 1_700_000_000_000.9, -0.5]) expect(isoString(ms)).toBe(new Date(ms).toISOString());
  });

  it('throws the RangeError toISOString() throws for an invalid time', () => {
    for (const ms of [NaN, Infinity, -Infinity, 8.64e15 + 1]) expect(() => isoString(ms)).toThrow(RangeError);
  });
});

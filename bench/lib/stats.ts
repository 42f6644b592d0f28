/** Latency samples of one measured cell, in nanoseconds, appended without reallocating on every op. */
export class Samples {
  #data = new Float64Array(1 << 14);
  #n = 0;

  /** Records one latency in nanoseconds. */
  add(ns: number): void {
    if (this.#n === this.#data.length) {
      const bigger = new Float64Array(this.#data.length * 2);
      bigger.set(this.#data);
      this.#data = bigger;
    }
    this.#data[this.#n++] = ns;
  }

  /** How many samples were recorded. */
  get count(): number {
    return this.#n;
  }

  /** The given percentiles (0–100) in microseconds, nearest-rank on the sorted samples. */
  percentilesUs(...ps: number[]): number[] {
    if (this.#n === 0) return ps.map(() => NaN);
    const sorted = this.#data.subarray(0, this.#n).sort();
    return ps.map((p) => sorted[Math.min(this.#n - 1, Math.max(0, Math.ceil((p / 100) * this.#n) - 1))]! / 1000);
  }
}

/** The median of `xs` (mean of the middle two for an even count); NaN for none. */
export function median(xs: readonly number[]): number {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** Median, min and max of per-round values. */
export interface Spread {
  median: number;
  min: number;
  max: number;
}

/** Summarizes per-round values as median and min–max. */
export function spread(xs: readonly number[]): Spread {
  const finite = xs.filter((x) => Number.isFinite(x));
  return { median: median(finite), min: Math.min(...finite), max: Math.max(...finite) };
}

/** Geometric mean: the right average for ratios. NaN for none. */
export function geomean(xs: readonly number[]): number {
  const finite = xs.filter((x) => Number.isFinite(x) && x > 0);
  if (finite.length === 0) return NaN;
  return Math.exp(finite.reduce((a, x) => a + Math.log(x), 0) / finite.length);
}

/** Formats a rate or latency with 3 significant digits and thousands separators, e.g. `12,300` or `0.412`. */
export function fmt(x: number): string {
  if (!Number.isFinite(x)) return '–';
  if (x >= 1000) return Math.round(Number(x.toPrecision(3))).toLocaleString('en-US');
  return Number(x.toPrecision(3)).toString();
}

/** A cell's verdict against its target, from the spread of its paired ratios. */
export type Verdict = 'met' | 'missed' | 'undecided';

/** The paired per-round ratios of a cell: their median, quartiles, min–max, and how many rounds were paired. */
export interface PairedRatio extends Spread {
  /** First and third quartile (nearest rank). */
  q1: number;
  q3: number;
  rounds: number;
}

/**
 * The ratios `ours[i] ÷ other[i]` of the rounds both measured (same index = same round, run back to back with the
 * machine in the same state), summarized. A ratio of medians would mix rounds of different machine states; the
 * per-round ratio cancels what both contenders of a round suffered alike.
 */
export function pairedRatio(ours: readonly number[], other: readonly number[]): PairedRatio {
  const xs: number[] = [];
  for (let i = 0; i < Math.min(ours.length, other.length); i++) {
    const r = ours[i]! / other[i]!;
    if (Number.isFinite(r) && r > 0) xs.push(r);
  }
  if (xs.length === 0) return { median: NaN, min: NaN, max: NaN, q1: NaN, q3: NaN, rounds: 0 };
  const s = [...xs].sort((a, b) => a - b);
  const rank = (p: number) => s[Math.min(s.length - 1, Math.max(0, Math.ceil(p * s.length) - 1))]!;
  return { median: median(s), min: s[0]!, max: s[s.length - 1]!, q1: rank(0.25), q3: rank(0.75), rounds: s.length };
}

/**
 * Decided only when the whole min–max spread of the paired ratios lies on one side of the target: `met` (every
 * round at or above it), `missed` (every round below), else `undecided` (noise could explain the median).
 */
export function verdict(r: PairedRatio, target: number): Verdict {
  if (!(r.rounds > 0)) return 'undecided';
  if (r.min >= target) return 'met';
  if (r.max < target) return 'missed';
  return 'undecided';
}

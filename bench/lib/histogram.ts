/**
 * A mergeable log-bucket histogram for latencies in milliseconds: each bucket spans 2 % of its
 * value, so quantiles are exact to 2 % whatever the range, and workers can ship their buckets to the
 * parent as a few hundred pairs instead of every sample.
 */

/** Growth factor between bucket bounds: quantiles are reported to within this ratio. */
const GROWTH = 1.02;
const LOG_GROWTH = Math.log(GROWTH);
/** Values below this (ms) share one bucket; no loopback round trip is faster. */
const FLOOR_MS = 0.001;

/** The wire form of a histogram (JSON-safe). */
export interface HistogramData {
  /** [bucket index, count] pairs. */
  buckets: Array<[number, number]>;
  count: number;
  sum: number;
  min: number;
  max: number;
}

/** Quantile summary in milliseconds. */
export interface LatencySummary {
  count: number;
  mean: number;
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
}

/** See the file comment. */
export class LogHistogram {
  private readonly counts = new Map<number, number>();
  private n = 0;
  private total = 0;
  private lo = Number.POSITIVE_INFINITY;
  private hi = 0;

  /** Records one value in ms (negative values count as 0). */
  record(ms: number): void {
    const v = Math.max(ms, FLOOR_MS);
    const index = Math.ceil(Math.log(v) / LOG_GROWTH);
    this.counts.set(index, (this.counts.get(index) ?? 0) + 1);
    this.n += 1;
    this.total += v;
    if (v < this.lo) this.lo = v;
    if (v > this.hi) this.hi = v;
  }

  /** Adds another histogram's data (from a worker). */
  merge(data: HistogramData): void {
    for (const [index, count] of data.buckets) this.counts.set(index, (this.counts.get(index) ?? 0) + count);
    this.n += data.count;
    this.total += data.sum;
    if (data.count > 0) {
      this.lo = Math.min(this.lo, data.min);
      this.hi = Math.max(this.hi, data.max);
    }
  }

  get count(): number {
    return this.n;
  }

  /** The upper bound of the bucket holding quantile `q` (0..1), capped at the exact maximum. */
  quantile(q: number): number {
    if (this.n === 0) return 0;
    const rank = Math.max(1, Math.ceil(q * this.n));
    const sorted = [...this.counts.entries()].sort((a, b) => a[0] - b[0]);
    let seen = 0;
    for (const [index, count] of sorted) {
      seen += count;
      if (seen >= rank) return Math.min(GROWTH ** index, this.hi);
    }
    return this.hi;
  }

  /** p50/p90/p99/p99.9/max/mean, rounded to 0.01 ms. */
  summary(): LatencySummary {
    const r = (v: number) => Math.round(v * 100) / 100;
    return {
      count: this.n,
      mean: r(this.n === 0 ? 0 : this.total / this.n),
      p50: r(this.quantile(0.5)),
      p90: r(this.quantile(0.9)),
      p99: r(this.quantile(0.99)),
      p999: r(this.quantile(0.999)),
      max: r(this.hi),
    };
  }

  /** The JSON-safe form, for IPC. */
  toData(): HistogramData {
    return {
      buckets: [...this.counts.entries()],
      count: this.n,
      sum: this.total,
      min: this.n === 0 ? 0 : this.lo,
      max: this.hi,
    };
  }
}

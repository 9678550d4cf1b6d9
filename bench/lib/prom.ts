/**
 * Just enough of the Prometheus text format to read the controller's own figures: an unlabelled
 * histogram's cumulative buckets (to diff two scrapes and estimate quantiles the way
 * `histogram_quantile` does) and plain gauge/counter values.
 */

/** A cumulative histogram: upper bound (s) → count of observations ≤ it. */
export interface PromHistogram {
  buckets: Array<{ le: number; count: number }>;
  sum: number;
  count: number;
}

/** Reads histogram `name` from a scrape; null when absent. */
export function parseHistogram(text: string, name: string): PromHistogram | null {
  const buckets: Array<{ le: number; count: number }> = [];
  let sum = Number.NaN;
  let count = Number.NaN;
  for (const line of text.split('\n')) {
    if (line.startsWith(`${name}_bucket{`)) {
      const m = /le="([^"]+)"\}\s+(\S+)/.exec(line);
      if (m?.[1] !== undefined && m[2] !== undefined) buckets.push({ le: m[1] === '+Inf' ? Number.POSITIVE_INFINITY : Number(m[1]), count: Number(m[2]) });
    } else if (line.startsWith(`${name}_sum `)) {
      sum = Number(line.split(' ')[1]);
    } else if (line.startsWith(`${name}_count `)) {
      count = Number(line.split(' ')[1]);
    }
  }
  if (buckets.length === 0 || Number.isNaN(count)) return null;
  buckets.sort((a, b) => a.le - b.le);
  return { buckets, sum, count };
}

/** The first sample value of metric `name` (any labels), or null. */
export function parseValue(text: string, name: string): number | null {
  for (const line of text.split('\n')) {
    if (line.startsWith(`${name} `) || line.startsWith(`${name}{`)) {
      const v = Number(line.slice(line.lastIndexOf(' ') + 1));
      return Number.isFinite(v) ? v : null;
    }
  }
  return null;
}

/** end − start, bucket by bucket (observations made between two scrapes). */
export function diffHistogram(end: PromHistogram, start: PromHistogram | null): PromHistogram {
  if (start === null) return end;
  return {
    buckets: end.buckets.map((b, i) => ({ le: b.le, count: b.count - (start.buckets[i]?.count ?? 0) })),
    sum: end.sum - start.sum,
    count: end.count - start.count,
  };
}

/**
 * Quantile `q` by linear interpolation inside the bucket that holds it (Prometheus
 * `histogram_quantile`); a quantile in the +Inf bucket reports the last finite bound.
 */
export function histogramQuantile(h: PromHistogram, q: number): number {
  if (h.count <= 0) return 0;
  const rank = q * h.count;
  let prevLe = 0;
  let prevCount = 0;
  for (const b of h.buckets) {
    if (b.count >= rank) {
      if (!Number.isFinite(b.le)) return prevLe;
      const inBucket = b.count - prevCount;
      return inBucket <= 0 ? b.le : prevLe + ((b.le - prevLe) * (rank - prevCount)) / inBucket;
    }
    prevLe = b.le;
    prevCount = b.count;
  }
  return prevLe;
}

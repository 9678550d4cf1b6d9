/**
 * Pure analysis of a VIP chaos run: the client probe's trace (one record per HTTPS request through
 * the VIP) and the sampler's trace (which hosts had the VIP on eth0 at each tick), cut to one
 * scenario's time window. No I/O here, so it is unit-tested on synthetic traces (analysis.test.ts).
 */

/** One probe request: start time (epoch ms, sub-ms), duration, outcome. */
export interface ProbeRecord {
  t: number;
  d: number;
  ok: boolean;
  /** Error code or HTTP status when not ok. */
  e?: string;
}

/** One sampler tick: when it started, which hosts had the VIP, how long the reads took. */
export interface SampleRecord {
  t: number;
  on: string[];
  /** Milliseconds the tick's reads took (all hosts queried concurrently). */
  q?: number;
  /** Hosts whose read failed in this tick (unknown state). */
  err?: string[];
}

/** A half-open time window [from, to] in epoch ms. */
export interface TimeWindow {
  from: number;
  to: number;
}

/** What one scenario round amounts to. */
export interface WindowAnalysis {
  /**
   * Longest time the client went without a successful answer: between the completions of two
   * consecutive successes (the last success before the window counts as the start), or up to the
   * window's end when none came after.
   */
  longestGapMs: number;
  /** Where that gap began and ended (epoch ms). */
  gapFrom: number;
  gapTo: number;
  /** True when a success completed in the last `recoveredWithinMs` of the window. */
  recovered: boolean;
  requests: number;
  failures: number;
  samples: number;
  /** Samples that saw the VIP on two or more hosts at once (must be 0). */
  dualSamples: number;
  /** Times of the first few dual samples, with the hosts, for the report. */
  duals: Array<{ t: number; on: string[] }>;
  /** The host holding the VIP in the window's last sample that saw exactly one holder; null if none. */
  finalHolder: string | null;
  /** Distinct holders in order of appearance (consecutive repeats collapsed). */
  holders: string[];
  /** Sampling period actually achieved in the window (gaps between consecutive ticks). */
  samplePeriodMs: { p50: number; p99: number; max: number };
}

/** The q-quantile (0..1) of `values` (nearest rank); NaN when empty. */
export function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[rank]!;
}

/** Options of {@link analyseWindow}. */
export interface AnalyseOptions {
  probes: readonly ProbeRecord[];
  samples: readonly SampleRecord[];
  window: TimeWindow;
  /** A window counts as recovered when a success completed this close to its end (default 1000 ms). */
  recoveredWithinMs?: number;
}

/** Analyses one scenario window. Records need not be sorted. */
export function analyseWindow(options: AnalyseOptions): WindowAnalysis {
  const { window } = options;
  const recoveredWithinMs = options.recoveredWithinMs ?? 1000;
  const ends = options.probes
    .filter((p) => p.ok)
    .map((p) => p.t + p.d)
    .sort((a, b) => a - b);
  // The last success before the window is where an outage that starts with the fault began.
  const before = ends.filter((e) => e < window.from).at(-1) ?? window.from;
  const inside = ends.filter((e) => e >= window.from && e <= window.to);
  const points = [before, ...inside, window.to];
  let longestGapMs = 0;
  let gapFrom = window.from;
  let gapTo = window.from;
  for (let i = 1; i < points.length; i++) {
    const gap = points[i]! - points[i - 1]!;
    if (gap > longestGapMs) {
      longestGapMs = gap;
      gapFrom = points[i - 1]!;
      gapTo = points[i]!;
    }
  }
  const inWindow = options.probes.filter((p) => p.t >= window.from && p.t <= window.to);
  const samples = options.samples.filter((s) => s.t >= window.from && s.t <= window.to).sort((a, b) => a.t - b.t);
  const dual = samples.filter((s) => s.on.length >= 2);
  const holders: string[] = [];
  let finalHolder: string | null = null;
  for (const s of samples) {
    if (s.on.length !== 1) continue;
    const h = s.on[0]!;
    finalHolder = h;
    if (holders.at(-1) !== h) holders.push(h);
  }
  const periods = samples.slice(1).map((s, i) => s.t - samples[i]!.t);
  const lastEnd = inside.at(-1);
  return {
    longestGapMs: round(longestGapMs),
    gapFrom,
    gapTo,
    recovered: lastEnd !== undefined && window.to - lastEnd <= recoveredWithinMs,
    requests: inWindow.length,
    failures: inWindow.filter((p) => !p.ok).length,
    samples: samples.length,
    dualSamples: dual.length,
    duals: dual.slice(0, 5).map((s) => ({ t: s.t, on: [...s.on] })),
    finalHolder,
    holders,
    samplePeriodMs: {
      p50: round(quantile(periods, 0.5)),
      p99: round(quantile(periods, 0.99)),
      max: round(periods.length === 0 ? Number.NaN : Math.max(...periods)),
    },
  };
}

/** Summary of several rounds' gaps and dual samples (the bench table's cells). */
export interface GapSummary {
  rounds: number;
  gapMs: { p50: number; p99: number; max: number; min: number };
  dualSamples: number;
  roundsWithDual: number;
  unrecovered: number;
}

/** Summarises rounds: gap quantiles, total dual samples and rounds that saw any. */
export function summarise(rounds: readonly WindowAnalysis[]): GapSummary {
  const gaps = rounds.map((r) => r.longestGapMs);
  return {
    rounds: rounds.length,
    gapMs: {
      p50: round(quantile(gaps, 0.5)),
      p99: round(quantile(gaps, 0.99)),
      max: round(gaps.length === 0 ? Number.NaN : Math.max(...gaps)),
      min: round(gaps.length === 0 ? Number.NaN : Math.min(...gaps)),
    },
    dualSamples: rounds.reduce((n, r) => n + r.dualSamples, 0),
    roundsWithDual: rounds.filter((r) => r.dualSamples > 0).length,
    unrecovered: rounds.filter((r) => !r.recovered).length,
  };
}

/** Parses JSON lines, skipping a torn last line (the writer may be mid-write). */
export function parseJsonLines<T>(text: string): T[] {
  const out: T[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (line === '') continue;
    try {
      out.push(JSON.parse(line) as T);
    } catch (err) {
      // Only the last line may be incomplete; anything else is a broken trace.
      if (i < lines.length - 1) throw new Error(`failed to parse trace line ${i + 1}: ${line.slice(0, 80)}`, { cause: err });
    }
  }
  return out;
}

function round(ms: number): number {
  return Number.isNaN(ms) ? ms : Math.round(ms * 10) / 10;
}

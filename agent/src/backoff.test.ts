import { describe, expect, it } from 'vitest';
import { createBackoff, MIN_BACKOFF_MS } from './backoff.js';

/** Small seeded PRNG (mulberry32) so the 10,000-agent simulation is deterministic. */
function seeded(seed: number): () => number {
  let s = seed;
  return () => {
    s = (s + 0x6d2b79f5) | 0;
    let t = Math.imul(s ^ (s >>> 15), 1 | s);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function histogram(values: number[], bucketMs: number): Map<number, number> {
  const buckets = new Map<number, number>();
  for (const v of values) {
    const key = Math.floor(v / bucketMs);
    buckets.set(key, (buckets.get(key) ?? 0) + 1);
  }
  return buckets;
}

function largestShare(values: number[], bucketMs: number): number {
  return Math.max(...histogram(values, bucketMs).values()) / values.length;
}

describe('createBackoff', () => {
  it('uses the defaults: first delay within [500, 1500], cap 30 s', () => {
    const low = createBackoff({ random: () => 0 });
    const high = createBackoff({ random: () => 0.999999 });
    expect(low.next()).toBe(500);
    expect(high.next()).toBe(1500);
    for (let i = 0; i < 20; i++) high.next();
    expect(high.next()).toBe(30_000);
  });

  it('never returns less than the floor, even with a tiny base', () => {
    const backoff = createBackoff({ baseMs: 1, random: () => 0 });
    for (let i = 0; i < 10; i++) expect(backoff.next()).toBeGreaterThanOrEqual(MIN_BACKOFF_MS);
  });

  it('stays within bounds with a misbehaving random source', () => {
    for (const r of [Number.NaN, -1, 1, 2, Number.POSITIVE_INFINITY]) {
      const backoff = createBackoff({ capMs: 5_000, random: () => r });
      for (let i = 0; i < 10; i++) {
        const d = backoff.next();
        expect(d).toBeGreaterThanOrEqual(500);
        expect(d).toBeLessThanOrEqual(5_000);
      }
    }
  });

  it('counts attempts and reset() starts over', () => {
    const backoff = createBackoff({ random: () => 0.999999 });
    backoff.next();
    backoff.next();
    backoff.next();
    expect(backoff.attempts).toBe(3);
    backoff.reset();
    expect(backoff.attempts).toBe(0);
    expect(backoff.next()).toBe(1500);
  });

  it('treats a cap below the base as the base', () => {
    const backoff = createBackoff({ baseMs: 1_000, capMs: 10, random: () => 0.5 });
    expect(backoff.next()).toBe(1_000);
  });

  it('spreads 10,000 agents reconnecting after a controller restart', () => {
    const random = seeded(42);
    const arrivals: number[][] = [[], [], []];
    for (let agent = 0; agent < 10_000; agent++) {
      const backoff = createBackoff({ random });
      let t = 0;
      for (let attempt = 0; attempt < 3; attempt++) {
        t += backoff.next();
        arrivals[attempt]!.push(t);
      }
    }
    const [first, second, third] = arrivals as [number[], number[], number[]];
    // Nobody retries before the base delay.
    expect(Math.min(...first)).toBeGreaterThanOrEqual(500);
    // The first attempts share a 1 s window, so ~10% per 100 ms bucket is the best possible.
    expect(largestShare(first, 100)).toBeLessThan(0.12);
    expect(largestShare(second, 100)).toBeLessThan(0.06);
    expect(largestShare(third, 100)).toBeLessThan(0.03);
    // All 30,000 connection attempts the controller sees: no 100 ms bucket holds more than 5%.
    expect(largestShare([...first, ...second, ...third], 100)).toBeLessThan(0.05);
  });

  it('holds the cap after many attempts without piling agents onto it', () => {
    const random = seeded(7);
    const capMs = 30_000;
    const all: number[] = [];
    const fiftieth: number[] = [];
    for (let agent = 0; agent < 10_000; agent++) {
      const backoff = createBackoff({ capMs, random });
      for (let attempt = 0; attempt < 50; attempt++) all.push(backoff.next());
      fiftieth.push(all[all.length - 1]!);
    }
    expect(all.reduce((a, b) => Math.max(a, b))).toBeLessThanOrEqual(capMs);
    expect(all.reduce((a, b) => Math.min(a, b))).toBeGreaterThanOrEqual(500);
    // Clamping the range before drawing keeps long-failing agents spread over [base, cap] instead of
    // two thirds of them sleeping exactly `cap` and retrying together.
    expect(fiftieth.filter((d) => d === capMs).length / fiftieth.length).toBeLessThan(0.01);
    // Decorrelated jitter may fall back towards the base, so the steady state leans to shorter
    // delays (mean ~10 s for a 30 s cap) but no 1 s window holds more than ~11% of the agents.
    expect(largestShare(fiftieth, 1_000)).toBeLessThan(0.13);
  });
});

import { describe, expect, it } from 'vitest';
import { analyseWindow, type ProbeRecord, parseJsonLines, quantile, type SampleRecord, summarise } from './analysis.js';

// Pure: runs anywhere (no root, no lab). Synthetic traces with known answers.

/** A probe every 20 ms from `from` to `to`, failing inside the `down` intervals; each takes 5 ms. */
function probes(from: number, to: number, down: Array<[number, number]>): ProbeRecord[] {
  const out: ProbeRecord[] = [];
  for (let t = from; t <= to; t += 20) {
    const failing = down.some(([a, b]) => t >= a && t < b);
    out.push(failing ? { t, d: 100, ok: false, e: 'ETIMEDOUT' } : { t, d: 5, ok: true });
  }
  return out;
}

/** A sample every 20 ms; `holderAt(t)` says who holds the VIP. */
function samples(from: number, to: number, holderAt: (t: number) => string[]): SampleRecord[] {
  const out: SampleRecord[] = [];
  for (let t = from; t <= to; t += 20) out.push({ t, on: holderAt(t) });
  return out;
}

describe('analyseWindow', () => {
  it('finds the longest gap between successful answers, counting from the last success before the window', () => {
    // Outage from 1000 (the fault) to 3000; the window starts at 1010.
    const a = analyseWindow({
      probes: probes(0, 5000, [[1000, 3000]]),
      samples: samples(0, 5000, (t) => (t < 2000 ? ['host1'] : t < 2900 ? [] : ['host2'])),
      window: { from: 1010, to: 5000 },
    });
    // Last success 980 (+5 ms) → first success after the outage 3000 (+5 ms).
    expect(a.longestGapMs).toBe(2020);
    expect(a.gapFrom).toBe(985);
    expect(a.gapTo).toBe(3005);
    expect(a.recovered).toBe(true);
    expect(a.dualSamples).toBe(0);
    expect(a.finalHolder).toBe('host2');
    expect(a.holders).toEqual(['host1', 'host2']);
    expect(a.samplePeriodMs).toEqual({ p50: 20, p99: 20, max: 20 });
    expect(a.failures).toBe(99); // 1020..2980: the one at 1000 started before the window
  });

  it('counts every sample that saw the VIP on two hosts', () => {
    const a = analyseWindow({
      probes: probes(0, 2000, []),
      samples: samples(0, 2000, (t) => (t >= 1000 && t < 1100 ? ['host1', 'host3'] : t < 1000 ? ['host1'] : ['host3'])),
      window: { from: 0, to: 2000 },
    });
    expect(a.dualSamples).toBe(5);
    expect(a.duals[0]).toEqual({ t: 1000, on: ['host1', 'host3'] });
    expect(a.finalHolder).toBe('host3');
    // No outage: the longest gap is the probe period.
    expect(a.longestGapMs).toBe(20);
  });

  it('reports an unrecovered window: the gap runs to the window end', () => {
    const a = analyseWindow({ probes: probes(0, 4000, [[1000, 9999]]), samples: samples(0, 4000, () => []), window: { from: 1000, to: 4000 } });
    expect(a.recovered).toBe(false);
    expect(a.longestGapMs).toBe(4000 - 985);
    expect(a.finalHolder).toBeNull();
  });

  it('measures the sampling period actually achieved, including stalls', () => {
    const s: SampleRecord[] = [0, 20, 40, 60, 200, 220].map((t) => ({ t, on: ['host1'] }));
    const a = analyseWindow({ probes: [], samples: s, window: { from: 0, to: 300 } });
    expect(a.samplePeriodMs.p50).toBe(20);
    expect(a.samplePeriodMs.max).toBe(140);
  });

  it('ignores records outside the window and accepts unsorted input', () => {
    const s = samples(0, 1000, (t) => (t < 500 ? ['host1', 'host2'] : ['host2'])).reverse();
    const a = analyseWindow({ probes: probes(0, 1000, []).reverse(), samples: s, window: { from: 500, to: 1000 } });
    expect(a.dualSamples).toBe(0);
    expect(a.samples).toBe(26);
  });
});

describe('summarise and helpers', () => {
  it('gives gap quantiles over rounds and totals dual samples', () => {
    const round = (gap: number, dual: number) =>
      analyseWindow({
        probes: probes(0, 10_000, [[1000, 1000 + gap]]),
        samples: samples(0, 10_000, (t) => (dual > 0 && t < 20 * dual ? ['a', 'b'] : ['a'])),
        window: { from: 0, to: 10_000 },
      });
    const s = summarise([round(1000, 0), round(2000, 2), round(3000, 0)]);
    expect(s.rounds).toBe(3);
    expect(s.gapMs.p50).toBe(2020);
    expect(s.gapMs.max).toBe(3020);
    expect(s.gapMs.min).toBe(1020);
    expect(s.dualSamples).toBe(2);
    expect(s.roundsWithDual).toBe(1);
    expect(s.unrecovered).toBe(0);
  });

  it('quantile uses nearest rank', () => {
    expect(quantile([5, 1, 3, 2, 4], 0.5)).toBe(3);
    expect(quantile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 0.99)).toBe(10);
    expect(quantile([], 0.5)).toBeNaN();
  });

  it('parses JSON lines and tolerates only a torn last line', () => {
    expect(parseJsonLines<{ a: number }>('{"a":1}\n{"a":2}\n{"a":')).toEqual([{ a: 1 }, { a: 2 }]);
    expect(() => parseJsonLines('{"a":\n{"a":2}\n')).toThrow(/line 1/);
  });
});

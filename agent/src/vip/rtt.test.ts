import { describe, expect, it } from 'vitest';
import { createRttWindow } from './rtt.js';

describe('renew RTT window', () => {
  it('is empty at first, then gives nearest-rank quantiles over the last N samples only', () => {
    const w = createRttWindow(100);
    expect(w.quantile(0.5)).toBeNull();
    for (let i = 1; i <= 100; i += 1) w.add(i);
    expect([w.quantile(0.5), w.quantile(0.99), w.size()]).toEqual([50, 99, 100]);
    for (let i = 0; i < 100; i += 1) w.add(1000 + i); // the old samples fall out of the ring
    expect([w.quantile(0.5), w.quantile(0.99), w.size()]).toEqual([1049, 1098, 100]);
    w.add(-1);
    w.add(Number.NaN);
    expect(w.size()).toBe(100);
    w.clear();
    expect(w.quantile(0.99)).toBeNull();
  });
});

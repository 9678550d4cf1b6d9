import { describe, expect, it } from 'vitest';
import { CLOCK_SAMPLE_WINDOW, createClockOffsetEstimator } from './clock.js';

describe('createClockOffsetEstimator', () => {
  it('knows nothing before the first sample', () => {
    expect(createClockOffsetEstimator().offsetMs()).toBeNull();
  });

  it('computes the NTP offset: server time minus the midpoint of send and receive', () => {
    const estimator = createClockOffsetEstimator();
    // Host clock 1000 ms behind the controller, 40 ms symmetric round trip.
    estimator.addSample(10_000, 11_020, 10_040);
    expect(estimator.offsetMs()).toBe(1_000);
  });

  it('reports a negative offset when the host is ahead', () => {
    const estimator = createClockOffsetEstimator();
    estimator.addSample(10_000, 9_510, 10_020);
    expect(estimator.offsetMs()).toBe(-500);
  });

  it('trusts the sample with the smallest round trip', () => {
    const estimator = createClockOffsetEstimator();
    estimator.addSample(0, 300, 400); // slow, asymmetric: offset 100
    estimator.addSample(1_000, 1_005, 1_010); // fast: offset 0
    estimator.addSample(2_000, 2_450, 2_600); // slow: offset 150
    expect(estimator.offsetMs()).toBe(0);
  });

  it('prefers the newest of equally fast samples', () => {
    const estimator = createClockOffsetEstimator();
    estimator.addSample(0, 15, 10);
    estimator.addSample(1_000, 1_025, 1_010);
    expect(estimator.offsetMs()).toBe(20);
  });

  it(`forgets samples older than the last ${CLOCK_SAMPLE_WINDOW}`, () => {
    const estimator = createClockOffsetEstimator();
    estimator.addSample(0, 5_001, 2); // very fast, offset 5000
    for (let i = 1; i <= CLOCK_SAMPLE_WINDOW - 1; i++) estimator.addSample(i * 1_000, i * 1_000 + 50, i * 1_000 + 100);
    expect(estimator.offsetMs()).toBe(5_000);
    estimator.addSample(100_000, 100_050, 100_100); // pushes the fast one out
    expect(estimator.offsetMs()).toBe(0);
  });

  it('ignores impossible samples', () => {
    const estimator = createClockOffsetEstimator();
    estimator.addSample(1_000, 5_000, 900); // clock stepped back mid-exchange
    estimator.addSample(Number.NaN, 1, 2);
    estimator.addSample(1, Number.POSITIVE_INFINITY, 2);
    expect(estimator.offsetMs()).toBeNull();
  });
});

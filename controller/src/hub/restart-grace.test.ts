import { describe, expect, it } from 'vitest';
import { RestartGrace, restartGracePolicy } from './restart-grace.js';

describe('RestartGrace', () => {
  it('derives the quiet window and the bound from --restart-grace', () => {
    expect(restartGracePolicy(45_000)).toEqual({ graceMs: 45_000, quietMs: 15_000, maxMs: 180_000 });
    expect(restartGracePolicy(8000)).toEqual({ graceMs: 8000, quietMs: 8000, maxMs: 32_000 });
  });

  it('covers awaited hosts until it begins and for at least the grace, and ends once, reporting who stayed away', () => {
    const g = new RestartGrace({ graceMs: 10_000, quietMs: 5000, maxMs: 40_000 });
    g.expect(['a', 'b', 'c']);
    // Still starting (not listening): covered whatever the clock says, and never settled.
    expect(g.covers('a', 1_000_000)).toBe(true);
    expect(g.settle(1_000_000)).toBeNull();
    g.begin(0);
    expect(g.endsAt()).toBe(10_000);
    g.returned('a', 8000); // extends to 13 s
    expect(g.covers('a', 9000)).toBe(false); // back: its heartbeats decide
    expect(g.endsAt()).toBe(13_000);
    g.forget('c'); // removed from the fleet
    expect(g.covers('c', 9000)).toBe(false);
    expect(g.covers('b', 12_999)).toBe(true);
    expect(g.settle(12_999)).toBeNull();
    expect(g.settle(13_000)).toEqual({ away: 1, lastReturnAt: 8000, startedAt: 0 });
    expect(g.covers('b', 13_000)).toBe(false);
    expect(g.settle(20_000)).toBeNull(); // only once
    expect(g.awaitingCount).toBe(0);
  });

  it('is not extended by a host that was not awaited', () => {
    const g = new RestartGrace({ graceMs: 10_000, quietMs: 5000, maxMs: 40_000 });
    g.expect(['a']);
    g.begin(0);
    g.returned('new-host', 9000); // enrolled after the start: not a return
    expect(g.endsAt()).toBe(10_000);
  });
});

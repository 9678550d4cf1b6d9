import { afterEach, describe, expect, it, vi } from 'vitest';
import { ConnectionStorm, type StormSink } from './connection-storm.js';

afterEach(() => {
  vi.useRealTimers();
});

function setup(perWindow = 3) {
  vi.useFakeTimers();
  const rows: Array<Parameters<StormSink>[0]> = [];
  const storm = new ConnectionStorm({ perWindow, windowMs: 10_000, sampleNames: 2, now: Date.now, sink: (e) => rows.push(e) });
  return { storm, rows };
}

describe('ConnectionStorm', () => {
  it('writes the first connection events of a window one by one and summarises the rest when it ends', () => {
    const { storm, rows } = setup();
    for (let i = 0; i < 10; i++) storm.event({ host: `node-${i}`, kind: 'connected', message: 'connected' });
    storm.event({ host: 'node-0', kind: 'state', message: 'healthy' }); // other kinds pass untouched
    expect(rows.map((r) => r.host)).toEqual(['node-0', 'node-1', 'node-2', 'node-0']);
    vi.advanceTimersByTime(10_000);
    expect(rows).toHaveLength(5);
    expect(rows[4]).toMatchObject({ host: null, kind: 'connected', data: { coalesced: 7, sample: ['node-3', 'node-4'] } });
    expect(rows[4]?.message).toMatch(/^7 more hosts connected within 10 s .*: node-3, node-4 and 5 more$/);
    expect(storm.coalescedTotal).toBe(7);
    // A new window: one by one again.
    storm.event({ host: 'node-9', kind: 'connected', message: 'connected' });
    expect(rows.at(-1)?.host).toBe('node-9');
  });

  it('counts each kind against its own budget, and flush() writes pending summaries at once (shutdown)', () => {
    const { storm, rows } = setup(1);
    for (let i = 0; i < 3; i++) storm.event({ host: `node-${i}`, kind: 'disconnected', message: 'gone' });
    storm.event({ host: 'node-0', kind: 'connected', message: 'back' });
    expect(rows.map((r) => `${r.kind}:${r.host}`)).toEqual(['disconnected:node-0', 'connected:node-0']);
    storm.flush();
    expect(rows.at(-1)).toMatchObject({ host: null, kind: 'disconnected', data: { coalesced: 2 } });
    storm.flush(); // nothing pending: nothing written
    expect(rows).toHaveLength(3);
  });

  it('bounds a 10,000-host storm to perWindow + 1 rows per kind per window', () => {
    const { storm, rows } = setup(100);
    for (let i = 0; i < 10_000; i++) storm.event({ host: `node-${i}`, kind: 'connected', message: 'connected' });
    storm.flush();
    expect(rows).toHaveLength(101);
  });
});

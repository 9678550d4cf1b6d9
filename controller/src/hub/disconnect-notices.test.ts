import { afterEach, describe, expect, it, vi } from 'vitest';
import { DisconnectNotices } from './disconnect-notices.js';

describe('DisconnectNotices', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('a reconnect within the grace drops the pending event and says how long the host was away', () => {
    vi.useFakeTimers({ now: 10_000 });
    const written: string[] = [];
    const n = new DisconnectNotices({ graceMs: 3000, now: Date.now, sink: (e) => written.push(`${e.kind}:${e.message}`) });
    n.dropped('host3', 1006, '');
    vi.advanceTimersByTime(480);
    expect(n.reconnected('host3')).toEqual({ code: 1006, reason: '', downMs: 480 });
    vi.advanceTimersByTime(10_000);
    expect(written).toEqual([]);
    expect(n.reconnected('host3')).toBeNull();
  });

  it('a host that stays away gets its event after the grace, naming when it dropped', () => {
    vi.useFakeTimers({ now: Date.parse('2026-12-07T01:00:00Z') });
    const written: string[] = [];
    const n = new DisconnectNotices({ graceMs: 3000, now: Date.now, sink: (e) => written.push(`${e.kind}:${e.message}`) });
    n.dropped('host2', 1001, 'controller shutting down');
    vi.advanceTimersByTime(2999);
    expect(written).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(written).toEqual(['disconnected:agent disconnected (code 1001: controller shutting down) at 2026-12-07T01:00:00.000Z']);
  });

  it('flush writes what is pending at once', () => {
    vi.useFakeTimers({ now: 0 });
    const written: string[] = [];
    const n = new DisconnectNotices({ graceMs: 3000, now: Date.now, sink: (e) => written.push(e.host) });
    n.dropped('a', 1006, '');
    n.dropped('b', 1006, '');
    n.flush();
    expect(written).toEqual(['a', 'b']);
    vi.advanceTimersByTime(5000);
    expect(written).toEqual(['a', 'b']);
  });
});

import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../../shared/src/log.js';
import { HostTracker, type SessionHandle, type TrackerSink } from './host-tracker.js';

function setup() {
  let now = 1_000_000;
  const changes: Array<{ name: string; from: string; to: string }> = [];
  const sink: TrackerSink = { transition: (c) => changes.push({ name: c.name, from: c.from, to: c.to }) };
  const tracker = new HostTracker({ sink, log: silentLogger(), now: () => now });
  const advance = (ms: number) => {
    now += ms;
  };
  return { tracker, changes, advance, at: () => now };
}

function session(id: string): SessionHandle & { closed: string[] } {
  const closed: string[] = [];
  return { sessionId: id, closed, close: (_c, reason) => closed.push(reason), request: () => Promise.reject(new Error('not used')) };
}

describe('HostTracker', () => {
  it('goes pending → healthy on the first heartbeat and unreachable after 3 s of silence', () => {
    const { tracker, changes, advance, at } = setup();
    tracker.add({ id: 'h1', name: 'node-1', enrolledAt: at() });
    tracker.attach('h1', session('s1'));
    tracker.heartbeat('h1', at());
    expect(tracker.get('h1')?.state).toBe('healthy');
    advance(3000);
    tracker.evaluateAll();
    expect(tracker.get('h1')?.state).toBe('healthy');
    advance(1);
    tracker.evaluateAll();
    expect(changes).toEqual([
      { name: 'node-1', from: 'pending', to: 'healthy' },
      { name: 'node-1', from: 'healthy', to: 'unreachable' },
    ]);
  });

  it('marks degraded while a check fails and healthy when it passes again', () => {
    const { tracker, advance, at } = setup();
    tracker.add({ id: 'h1', name: 'n', enrolledAt: at() });
    tracker.attach('h1', session('s'));
    tracker.heartbeat('h1', at());
    tracker.setFailingChecks('h1', ['disk:/']);
    expect(tracker.get('h1')?.state).toBe('degraded');
    advance(500);
    tracker.heartbeat('h1', at());
    expect(tracker.get('h1')?.state).toBe('degraded');
    tracker.setFailingChecks('h1', []);
    expect(tracker.get('h1')?.state).toBe('healthy');
  });

  it('closes the older session when the same host connects again', () => {
    const { tracker, at } = setup();
    tracker.add({ id: 'h1', name: 'n', enrolledAt: at() });
    const s1 = session('s1');
    const s2 = session('s2');
    tracker.attach('h1', s1);
    tracker.attach('h1', s2);
    expect(s1.closed).toEqual(['replaced by a newer connection']);
    tracker.detach('h1', s1); // the late close of the old socket must not unbind the new one
    expect(tracker.get('h1')?.session).toBe(s2);
    expect(tracker.connectedCount()).toBe(1);
  });

  it('gives loaded hosts a grace period after a controller restart, counted from start (listening), not load', () => {
    const { tracker, changes, advance, at } = setup();
    tracker.load([{ id: 'h1', name: 'n', state: 'healthy', stateSince: 0, lastHeartbeatAt: at() - 60_000 }], 5000);
    advance(4000); // the rest of the controller starting on a busy machine
    tracker.start(60_000);
    try {
      tracker.evaluateAll();
      expect(tracker.get('h1')?.state).toBe('healthy');
      advance(4999);
      tracker.evaluateAll();
      expect(tracker.get('h1')?.state).toBe('healthy');
      advance(2);
      tracker.evaluateAll();
      expect(changes).toEqual([{ name: 'n', from: 'healthy', to: 'unreachable' }]);
    } finally {
      tracker.stop();
    }
  });

  it('extends the restart grace while hosts keep coming back, and ends it once they stop (bounded)', () => {
    const { tracker, changes, advance, at } = setup();
    const stale = at() - 60_000;
    const loaded = Array.from({ length: 4 }, (_, i) => ({ id: `h${i}`, name: `n${i}`, state: 'healthy' as const, stateSince: 0, lastHeartbeatAt: stale }));
    tracker.load(loaded, 10_000); // quiet window min(10 s, 15 s) = 10 s, at most 40 s
    tracker.start(60_000);
    try {
      expect(tracker.awaitingReconnect()).toBe(4);
      // h0 returns at 9 s: the grace now lasts until 19 s.
      advance(9000);
      tracker.attach('h0', session('s0'));
      tracker.heartbeat('h0', at());
      advance(9000); // 18 s: past the 10 s minimum, within the extension
      tracker.attach('h1', session('s1')); // ... and h1 extends it to 28 s
      tracker.heartbeat('h1', at());
      advance(9999); // 27.999 s
      tracker.heartbeat('h0', at());
      tracker.heartbeat('h1', at());
      tracker.evaluateAll();
      expect(changes).toEqual([]);
      expect(tracker.awaitingReconnect()).toBe(2);
      advance(2);
      tracker.evaluateAll();
      expect(changes.map((c) => `${c.name}→${c.to}`).sort()).toEqual(['n2→unreachable', 'n3→unreachable']);
      expect(tracker.awaitingReconnect()).toBe(0);
    } finally {
      tracker.stop();
    }
  });

  it('never extends the restart grace beyond 4× --restart-grace', () => {
    const { tracker, changes, advance, at } = setup();
    const loaded = Array.from({ length: 20 }, (_, i) => ({ id: `h${i}`, name: `n${i}`, state: 'healthy' as const, stateSince: 0, lastHeartbeatAt: at() - 60_000 }));
    tracker.load(loaded, 5000);
    tracker.start(60_000);
    try {
      // One host back every 2 s keeps extending it (quiet window 5 s), but only up to 20 s.
      const beatAll = (n: number) => {
        for (let j = 0; j < n; j++) tracker.heartbeat(`h${j}`, at());
      };
      for (let i = 0; i < 9; i++) {
        advance(2000);
        tracker.attach(`h${i}`, session(`s${i}`));
        beatAll(i + 1);
        tracker.evaluateAll();
      }
      advance(1999); // 19.999 s
      beatAll(9);
      tracker.evaluateAll();
      expect(changes).toEqual([]);
      advance(2); // 20.001 s: over, although the last return was 2 s ago
      beatAll(9);
      tracker.evaluateAll();
      expect(changes.filter((c) => c.to === 'unreachable')).toHaveLength(11);
    } finally {
      tracker.stop();
    }
  });

  it('does not mark a host unreachable in the first deadline after its agent connected (first heartbeat still queued)', () => {
    const { tracker, changes, advance, at } = setup();
    tracker.load([{ id: 'h1', name: 'n', state: 'healthy', stateSince: 0, lastHeartbeatAt: at() - 60_000 }], 1000);
    tracker.start(60_000);
    try {
      advance(900);
      tracker.attach('h1', session('s1')); // back within the grace, but no heartbeat read yet
      advance(3000); // the grace is over; 3 s since the connection
      tracker.evaluateAll();
      expect(changes).toEqual([]);
      advance(1); // silent for more than a deadline since it connected: its silence counts
      tracker.evaluateAll();
      expect(changes).toEqual([{ name: 'n', from: 'healthy', to: 'unreachable' }]);
    } finally {
      tracker.stop();
    }
  });

  it('does not blame connected hosts for a stall of its own event loop, but still marks closed ones', () => {
    const { tracker, changes, advance, at } = setup();
    tracker.add({ id: 'a', name: 'a', enrolledAt: at() });
    tracker.add({ id: 'b', name: 'b', enrolledAt: at() });
    tracker.attach('a', session('sa'));
    const sb = session('sb');
    tracker.attach('b', sb);
    tracker.heartbeat('a', at());
    tracker.heartbeat('b', at());
    expect(tracker.noteTick(250)).toBe(true);
    tracker.detach('b', sb);
    advance(5000); // one tick 4.75 s late: the loop was stalled
    expect(tracker.noteTick(250)).toBe(false);
    expect(tracker.stalls).toBe(1);
    tracker.evaluateAll();
    const unreachable = () => changes.filter((c) => c.to === 'unreachable').map((c) => c.name);
    expect(unreachable()).toEqual(['b']); // closed: no pass
    advance(2999);
    expect(tracker.noteTick(2999)).toBe(true);
    tracker.evaluateAll();
    expect(tracker.get('a')?.state).toBe('healthy');
    advance(2); // the pass is over and still nothing was read from a: its silence counts again
    tracker.evaluateAll();
    expect(unreachable()).toEqual(['b', 'a']);
  });

  it('reports counts, connected sessions and the oldest heartbeat age', () => {
    const { tracker, advance, at } = setup();
    tracker.add({ id: 'a', name: 'a', enrolledAt: at() });
    tracker.add({ id: 'b', name: 'b', enrolledAt: at() });
    tracker.attach('a', session('s'));
    tracker.heartbeat('a', at());
    advance(700);
    expect(tracker.countByState()).toEqual({ pending: 1, healthy: 1, degraded: 0, unreachable: 0 });
    expect(tracker.connectedCount()).toBe(1);
    expect(tracker.oldestHeartbeatAgeMs()).toBe(700);
    tracker.remove('a');
    expect(tracker.connectedCount()).toBe(0);
  });
});

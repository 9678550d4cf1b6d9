import { describe, expect, it } from 'vitest';
import { isBallastError } from '../errors.js';
import { RequestTracker, type TimerPort } from './rpc.js';

/** Manual timers: deadlines fire only when the test says so. */
function manualTimers() {
  const pending = new Map<number, () => void>();
  let next = 0;
  const port: TimerPort = {
    setTimeout: (fn) => {
      next += 1;
      pending.set(next, fn);
      return next;
    },
    clearTimeout: (h) => {
      pending.delete(h as number);
    },
  };
  return { port, fireAll: () => {
      for (const f of [...pending.values()]) f();
    }, count: () => pending.size };
}

describe('RequestTracker', () => {
  it('resolves a request with its response and clears the deadline', async () => {
    const t = manualTimers();
    const tracker = new RequestTracker('c', t.port);
    const id = tracker.nextId();
    const sent: string[] = [];
    const p = tracker.start({ id, type: 'req.ping', timeoutMs: 1000, send: () => sent.push(id) });
    expect(sent).toEqual(['c-1']);
    expect(tracker.complete({ type: 'res', id, ok: true, result: { ts: 5 } })).toBe(true);
    await expect(p).resolves.toEqual({ ts: 5 });
    expect(t.count()).toBe(0);
    expect(tracker.size).toBe(0);
  });

  it('rejects with the peer error code', async () => {
    const tracker = new RequestTracker('c', manualTimers().port);
    const p = tracker.start({ id: 'c-9', type: 'req.facts', timeoutMs: 1000, send: () => {} });
    tracker.complete({ type: 'res', id: 'c-9', ok: false, error: { code: 'BALLAST_ERR_INTERNAL', message: 'disk on fire' } });
    await expect(p).rejects.toSatisfy((e: unknown) => isBallastError(e, 'BALLAST_ERR_INTERNAL') && /disk on fire/.test((e as Error).message));
  });

  it('rejects with DEADLINE_EXCEEDED when no answer comes, and ignores the late answer', async () => {
    const t = manualTimers();
    const tracker = new RequestTracker('c', t.port);
    const p = tracker.start({ id: 'c-1', type: 'req.ping', timeoutMs: 250, send: () => {} });
    t.fireAll();
    await expect(p).rejects.toSatisfy((e: unknown) => isBallastError(e, 'BALLAST_ERR_DEADLINE_EXCEEDED') && /250 ms/.test((e as Error).message));
    expect(tracker.complete({ type: 'res', id: 'c-1', ok: true })).toBe(false);
  });

  it('fails every waiting request when the peer goes away', async () => {
    const tracker = new RequestTracker('c', manualTimers().port);
    const a = tracker.start({ id: 'c-1', type: 'req.ping', timeoutMs: 1000, send: () => {} });
    const b = tracker.start({ id: 'c-2', type: 'req.ping', timeoutMs: 1000, send: () => {} });
    tracker.failAll('socket closed');
    await expect(a).rejects.toSatisfy((e: unknown) => isBallastError(e, 'BALLAST_ERR_PEER_GONE'));
    await expect(b).rejects.toSatisfy((e: unknown) => isBallastError(e, 'BALLAST_ERR_PEER_GONE'));
  });

  it('rejects at once when sending throws', async () => {
    const t = manualTimers();
    const tracker = new RequestTracker('c', t.port);
    const p = tracker.start({
      id: 'c-1',
      type: 'req.ping',
      timeoutMs: 1000,
      send: () => {
        throw new Error('socket is not open');
      },
    });
    await expect(p).rejects.toSatisfy((e: unknown) => isBallastError(e, 'BALLAST_ERR_PEER_GONE'));
    expect(t.count()).toBe(0);
  });

  it('ignores a response for an unknown id', () => {
    const tracker = new RequestTracker('c', manualTimers().port);
    expect(tracker.complete({ type: 'res', id: 'nope', ok: true })).toBe(false);
  });
});

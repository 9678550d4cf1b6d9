import { describe, expect, expectTypeOf, it } from 'vitest';
import { isBallastError } from '../errors.js';
import type { WireRunSpec } from '../tasks/task.js';
import type { Facts } from './facts.js';
import { ControllerMessageSchemas, type RunSummary } from './messages.js';
import { parseResponse, RESPONSE_SCHEMAS, type ResponseOf } from './responses.js';
import { RequestTracker, type TimerPort } from './rpc.js';
import type { VipAgentStatus, VipExcludeResult, VipHandoverResult } from './vip.js';

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

describe('RequestTracker reply validation', () => {
  const vipStatus = {
    host: 'cp1',
    configured: true,
    name: 'api',
    address: '198.18.0.250',
    prefixLength: 32,
    interface: 'eth0',
    state: 'holder',
    holder: 'cp1',
    term: '7',
    leaseLeftMs: 1600,
    lastRenewRttMs: 3,
    renewRttP50Ms: 2,
    renewRttP99Ms: 4,
    renewSamples: 10,
    healthy: true,
    healthMessage: 'ok',
    candidate: true,
    excluded: false,
  } as const;

  it('passes a valid reply through, typed by the request (no cast at the caller)', async () => {
    const tracker = new RequestTracker('c', manualTimers().port);
    const p = tracker.start({ id: 'c-1', type: 'req.run', timeoutMs: 1000, run: runSpec(), send: () => {} });
    const summary = { runId: 'run-1', ok: 3, changed: 1, failed: 0, skipped: 0, cancelled: false, durationMs: 12 };
    tracker.complete({ type: 'res', id: 'c-1', ok: true, result: summary });
    const result = await p;
    // Compiles only because result is a RunSummary.
    const changed: number = result.changed;
    expect(changed).toBe(1);
    expect(result).toEqual(summary);
  });

  it('fails the request with FRAME_INVALID naming the request type and the JSON path', async () => {
    const tracker = new RequestTracker('c', manualTimers().port);
    const p = tracker.start({ id: 'c-2', type: 'req.run', timeoutMs: 1000, run: runSpec(), send: () => {} });
    tracker.complete({ type: 'res', id: 'c-2', ok: true, result: { runId: 'run-1', ok: 'three', changed: 0, failed: 0, skipped: 0, cancelled: false, durationMs: 1 } });
    await expect(p).rejects.toSatisfy(
      (e: unknown) => isBallastError(e, 'BALLAST_ERR_FRAME_INVALID') && e.path === '/ok' && /^failed to accept the answer to req\.run request c-2: invalid result at \/ok: /.test(e.message),
    );
    expect(tracker.size).toBe(0);
  });

  it('rejects an ok reply without a result at the root path', async () => {
    const tracker = new RequestTracker('c', manualTimers().port);
    const p = tracker.start({ id: 'c-3', type: 'req.cancel', timeoutMs: 1000, runId: 'run-1', send: () => {} });
    tracker.complete({ type: 'res', id: 'c-3', ok: true });
    await expect(p).rejects.toSatisfy((e: unknown) => isBallastError(e, 'BALLAST_ERR_FRAME_INVALID') && e.path === '/' && /req\.cancel request c-3/.test(e.message));
  });

  it('checks req.vip replies against the schema of the action asked', async () => {
    const tracker = new RequestTracker('c', manualTimers().port);
    const status = tracker.start({ id: 'c-4', type: 'req.vip', timeoutMs: 1000, action: 'status', send: () => {} });
    tracker.complete({ type: 'res', id: 'c-4', ok: true, result: vipStatus });
    const s = await status;
    expect(s.state).toBe('holder');

    // A status is not a valid answer to a move: the handover's fields are missing.
    const move = tracker.start({ id: 'c-5', type: 'req.vip', timeoutMs: 1000, action: 'move', to: 'cp2', send: () => {} });
    tracker.complete({ type: 'res', id: 'c-5', ok: true, result: vipStatus });
    await expect(move).rejects.toSatisfy((e: unknown) => isBallastError(e, 'BALLAST_ERR_FRAME_INVALID') && /req\.vip move request c-5: invalid result at \/from/.test(e.message));
  });
});

describe('parseResponse', () => {
  it('returns a valid result typed and throws the coded error for an invalid one', () => {
    const ping = { type: 'req.ping', id: 'c-1', timeoutMs: 1000 } as const;
    const ts: number = parseResponse(ping, { ts: 42 }).ts;
    expect(ts).toBe(42);
    expect(() => parseResponse(ping, { ts: 'now' })).toThrow(/failed to accept the answer to req\.ping request c-1: invalid result at \/ts/);
  });
});

describe('RESPONSE_SCHEMAS', () => {
  it('types each reply by request type, and req.vip by action (checked by tsc)', () => {
    expectTypeOf<ResponseOf<'req.run'>>().toEqualTypeOf<RunSummary>();
    expectTypeOf<ResponseOf<'req.facts'>>().toEqualTypeOf<Facts>();
    expectTypeOf<ResponseOf<'req.cancel'>>().toEqualTypeOf<{ cancelled: boolean }>();
    expectTypeOf<ResponseOf<{ type: 'req.vip'; id: string; timeoutMs: number; action: 'move'; to: string }>>().toEqualTypeOf<VipHandoverResult>();
    expectTypeOf<ResponseOf<{ type: 'req.vip'; id: string; timeoutMs: number; action: 'include' }>>().toEqualTypeOf<VipAgentStatus>();
    expectTypeOf<ResponseOf<'req.vip'>>().toEqualTypeOf<VipAgentStatus | VipHandoverResult | VipExcludeResult>();
  });

  it('has a reply schema for every request type the controller sends', () => {
    const requestTypes = Object.keys(ControllerMessageSchemas).filter((t) => t.startsWith('req.'));
    expect(Object.keys(RESPONSE_SCHEMAS).sort()).toEqual(requestTypes.sort());
  });
});

function runSpec(): WireRunSpec {
  return { runId: 'run-1', check: false, diff: false, tasks: [], handlers: [] };
}

describe('RequestTracker peer errors', () => {
  it('keeps an error code this build does not know in the message, under INTERNAL', async () => {
    const tracker = new RequestTracker('c', manualTimers().port);
    const p = tracker.start({ id: 'c-1', type: 'req.ping', timeoutMs: 1000, send: () => {} });
    tracker.complete({ type: 'res', id: 'c-1', ok: false, error: { code: 'BALLAST_ERR_FROM_THE_FUTURE', message: 'new' } });
    await expect(p).rejects.toSatisfy((e: unknown) => isBallastError(e, 'BALLAST_ERR_INTERNAL') && e.message === 'req.ping failed on peer: BALLAST_ERR_FROM_THE_FUTURE: new');
  });
});

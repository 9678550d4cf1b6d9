import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BallastError } from '../../../shared/src/errors.js';
import type { RunCreateRequest } from '../../../shared/src/runs-api.js';
import { FakeSession, flush, peerGone, type RunFixture, runEvent, runFixture, taskResult } from './fakes.js';
import { SECRET_DIFF } from '../../../shared/src/tasks/secrets.js';

const req = (over: Partial<RunCreateRequest> = {}): RunCreateRequest => ({ role: 'os-prep', hosts: ['node-1', 'node-2'], check: false, diff: false, vars: {}, ...over });

describe('RunOrchestrator', () => {
  let fx: RunFixture;
  beforeEach(async () => {
    fx = await runFixture(3);
  });
  afterEach(async () => {
    await fx.cleanup();
  });
  const session = (name: string) => {
    const s = fx.sessions.get(name);
    if (s === undefined) throw new Error(name);
    return s;
  };
  const host = (name: string) => ({ id: `h_${name}`, name });

  it('persists the run and its hosts before sending req.run, then sends the rendered, validated spec', () => {
    const seenAtDispatch: string[] = [];
    session('node-1').onRun = (r) => {
      const stored = fx.store.runs.get(r.run.runId);
      const hosts = fx.store.runs.hosts(r.run.runId);
      seenAtDispatch.push(`${stored?.status}:${hosts.map((h) => `${h.name}=${h.status}`).join(',')}`);
    };
    const doc = fx.orchestrator.start(req({ check: true }), 'otto');
    expect(seenAtDispatch).toEqual(['running:node-1=running,node-2=pending']);
    const spec = session('node-1').runRequest(doc.id).run;
    expect(spec).toMatchObject({ runId: doc.id, check: true, diff: false });
    expect(spec.tasks.map((t) => t.module)).toEqual(['swap', 'kmod', 'kmod', 'sysctl', 'sysctl', 'sysctl']);
    expect(doc).toMatchObject({ status: 'running', role: 'os-prep', check: true, createdBy: 'otto' });
    expect(doc.hosts.map((h) => [h.name, h.status, h.plan.length])).toEqual([
      ['node-1', 'running', 6],
      ['node-2', 'running', 6],
    ]);
  });

  it('records every event and the summaries, and ends ok with an Ansible recap', async () => {
    const { id } = fx.orchestrator.start(req(), 'otto');
    fx.orchestrator.onRunEvent(host('node-1'), runEvent(id, 0, 'started'));
    expect(fx.orchestrator.get(id).hosts[0]?.current).toMatchObject({ index: 0, name: 'Disable swap' });
    fx.orchestrator.onRunEvent(host('node-1'), runEvent(id, 0, 'finished', taskResult('changed', { diff: 'swap: on → off\n' })));
    fx.orchestrator.onRunEvent(host('node-2'), runEvent(id, 0, 'finished', taskResult('ok')));
    fx.orchestrator.onRunEvent(host('node-1'), runEvent(id, 1, 'finished', taskResult('skipped')));
    session('node-1').finish(id, { ok: 4, changed: 1, skipped: 1 });
    session('node-2').finish(id, { ok: 6 });
    await flush();
    const doc = fx.orchestrator.get(id);
    expect(doc.status).toBe('succeeded');
    expect(doc.finishedAt).not.toBeNull();
    expect(doc.recap).toEqual({ ok: 10, changed: 1, failed: 0, skipped: 1 });
    const n1 = doc.hosts[0];
    expect(n1?.recap).toEqual({ ok: 4, changed: 1, failed: 0, skipped: 1 });
    expect(n1?.current).toBeNull();
    // Names come from the plan, not from what the agent said.
    expect(n1?.results.map((r) => [r.seq, r.name, r.status, r.diff])).toEqual([
      [4, 'Disable swap', 'changed', 'swap: on → off\n'],
      [6, 'Load kernel module overlay', 'skipped', ''],
    ]);
    const kinds = fx.store.events.list({ limit: 50 }).map((e) => `${e.kind}:${e.host ?? '-'}`);
    expect(kinds).toEqual(['run.started:-', 'run.task:node-1', 'run.task:node-2', 'run.task:node-1', 'run.finished:-']);
    expect(fx.store.events.list({ limit: 50 })[1]?.message).toBe(`${id} os-prep: TASK [Disable swap] changed`);
  });

  it('marks hosts failed on a failed task, a lost agent, a deadline or an invalid summary; the run fails', async () => {
    const { id } = fx.orchestrator.start(req({ hosts: ['node-1', 'node-2', 'node-3'] }), 'otto');
    fx.orchestrator.onRunEvent(host('node-1'), runEvent(id, 0, 'finished', taskResult('failed', { error: { code: 'BALLAST_ERR_IO', message: 'disk full' } })));
    session('node-1').finish(id, { failed: 1, skipped: 5 });
    session('node-2').fail(id, peerGone());
    session('node-3').finish(id, { runId: 'run-000000000000' });
    await flush();
    const doc = fx.orchestrator.get(id);
    expect(doc.status).toBe('failed');
    expect(doc.hosts.map((h) => [h.name, h.status, h.error?.code ?? null])).toEqual([
      ['node-1', 'failed', null],
      ['node-2', 'failed', 'BALLAST_ERR_PEER_GONE'],
      ['node-3', 'failed', 'BALLAST_ERR_FRAME_INVALID'],
    ]);
    expect(doc.hosts[1]?.error?.message).toMatch(/^agent disconnected before the run finished/);
    expect(doc.hosts[0]?.results[0]?.error).toEqual({ code: 'BALLAST_ERR_IO', message: 'disk full' });
    expect(fx.store.events.list({ limit: 50 }).at(-1)?.message).toBe(`${id}: role os-prep failed (3 of 3 hosts failed)`);

    const { id: id2 } = fx.orchestrator.start(req({ hosts: ['node-1'] }), 'otto');
    session('node-1').fail(id2, new BallastError('BALLAST_ERR_DEADLINE_EXCEEDED', 'no answer within 1800000 ms'));
    await flush();
    expect(fx.orchestrator.get(id2).hosts[0]?.error?.code).toBe('BALLAST_ERR_DEADLINE_EXCEEDED');
  });

  it('fails a host whose summary does not match the reply schema, with the path the reply check names', async () => {
    const { id } = fx.orchestrator.start(req({ hosts: ['node-1'] }), 'otto');
    session('node-1').finish(id, { failed: 'none' });
    await flush();
    const doc = fx.orchestrator.get(id);
    expect(doc.status).toBe('failed');
    expect(doc.hosts[0]?.error).toEqual({ code: 'BALLAST_ERR_FRAME_INVALID', message: expect.stringMatching(/^failed to accept the answer to req\.run request c-1: invalid result at \/failed: /) });
  });

  it('refuses a bad request with every problem at once, and stores nothing', () => {
    fx.targets.set('node-2', { ...(fx.targets.get('node-2') as NonNullable<ReturnType<typeof fx.targets.get>>), session: null });
    fx.targets.set('node-3', { ...(fx.targets.get('node-3') as NonNullable<ReturnType<typeof fx.targets.get>>), arch: null });
    let err: unknown;
    try {
      fx.orchestrator.start(req({ hosts: ['node-1', 'ghost', 'node-2', 'node-1', 'node-3'], vars: { swapOff: 'yes', bogus: 1 } }), 'otto');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(BallastError);
    const e = err as BallastError;
    expect(e.code).toBe('BALLAST_ERR_VALIDATION');
    expect(e.message).toContain('6 problems');
    expect(e.message).toContain('/hosts/1: host "ghost" is not enrolled');
    expect(e.message).toContain('/hosts/2: host "node-2" has no agent connected');
    expect(e.message).toContain('/hosts/3: host "node-1" is listed twice');
    expect(e.message).toContain('/hosts/4: host "node-3" has not reported its facts yet');
    // Vars problems are found per host but shown once, without a host list, when all rendered hosts share them.
    expect(e.message).toMatch(/\/vars\/swapOff: expected boolean(;|$)/);
    expect(e.message).toMatch(/\/vars\/bogus: unknown variable(;|$)/);
    expect(fx.store.runs.list(10)).toEqual([]);
    expect(session('node-1').requests).toEqual([]);
  });

  it('refuses a host that is busy with another run until that run ends', async () => {
    const { id } = fx.orchestrator.start(req({ hosts: ['node-1'] }), 'otto');
    expect(() => fx.orchestrator.start(req({ hosts: ['node-1', 'node-2'] }), 'otto')).toThrow(`host "node-1" is busy with ${id}`);
    session('node-1').finish(id);
    await flush();
    expect(fx.orchestrator.start(req({ hosts: ['node-1'] }), 'otto').status).toBe('running');
  });

  it('cancel sends req.cancel to hosts still running and the run ends cancelled; cancelling again changes nothing', async () => {
    const { id } = fx.orchestrator.start(req(), 'otto');
    session('node-2').finish(id, { ok: 6 });
    await flush();
    const doc = await fx.orchestrator.cancel(id, 'carol');
    expect(doc.cancelRequestedBy).toBe('carol');
    expect(session('node-1').requests.map((r) => r.type)).toEqual(['req.run', 'req.cancel']);
    expect(session('node-2').requests.map((r) => r.type)).toEqual(['req.run']);
    session('node-1').finish(id, { ok: 1, skipped: 5, cancelled: true });
    await flush();
    const after = fx.orchestrator.get(id);
    expect(after.status).toBe('cancelled');
    expect(after.hosts.map((h) => h.status)).toEqual(['cancelled', 'succeeded']);
    const again = await fx.orchestrator.cancel(id, 'dave');
    expect(again.cancelRequestedBy).toBe('carol');
    expect(session('node-1').requests).toHaveLength(2);
  });

  it('a restarted controller marks runs that were in flight interrupted; late agent events are dropped', () => {
    const { id } = fx.orchestrator.start(req(), 'otto');
    fx.orchestrator.onRunEvent(host('node-1'), runEvent(id, 0, 'finished', taskResult('changed')));
    const restarted = fx.restart();
    const doc = restarted.get(id);
    expect(doc.status).toBe('interrupted');
    expect(doc.hosts.map((h) => [h.status, h.error?.code])).toEqual([
      ['interrupted', 'BALLAST_ERR_PEER_GONE'],
      ['interrupted', 'BALLAST_ERR_PEER_GONE'],
    ]);
    expect(doc.hosts[0]?.results).toHaveLength(1);
    restarted.onRunEvent(host('node-1'), runEvent(id, 1, 'finished', taskResult('ok')));
    expect(restarted.get(id).hosts[0]?.results).toHaveLength(1);
    expect(fx.store.events.list({ limit: 50 }).map((e) => e.kind)).toContain('run.interrupted');
  });

  it('a restarted controller tells a reconnecting agent to cancel the run it lost, once', async () => {
    const { id } = fx.orchestrator.start(req({ hosts: ['node-1'] }), 'otto');
    const restarted = fx.restart();
    const fresh = new FakeSession();
    restarted.onAgentConnected(host('node-1'), fresh);
    restarted.onAgentConnected(host('node-1'), fresh);
    await flush();
    expect(fresh.requests).toEqual([{ type: 'req.cancel', id: 'c-1', timeoutMs: 5000, runId: id }]);
    restarted.onAgentConnected(host('node-2'), fresh);
    expect(fresh.requests).toHaveLength(1);
  });

  it('an agent that dropped mid-run is told to cancel it when it reconnects', async () => {
    const { id } = fx.orchestrator.start(req({ hosts: ['node-1'] }), 'otto');
    session('node-1').fail(id, peerGone());
    await flush();
    expect(fx.orchestrator.get(id).hosts[0]?.status).toBe('failed');
    const fresh = new FakeSession();
    fx.orchestrator.onAgentConnected(host('node-1'), fresh);
    await flush();
    expect(fresh.requests.map((r) => r.type)).toEqual(['req.cancel']);
  });

  it('a controller shutting down ends in-flight hosts interrupted, not failed', async () => {
    const { id } = fx.orchestrator.start(req({ hosts: ['node-1'] }), 'otto');
    fx.orchestrator.close();
    session('node-1').fail(id, peerGone());
    await flush();
    expect(fx.orchestrator.get(id)).toMatchObject({ status: 'interrupted', hosts: [{ status: 'interrupted' }] });
    expect(() => fx.orchestrator.start(req(), 'otto')).toThrow(/shutting down/);
  });

  it('drops events from another host, for another run, or without a result', () => {
    const { id } = fx.orchestrator.start(req({ hosts: ['node-1'] }), 'otto');
    fx.orchestrator.onRunEvent(host('node-2'), runEvent(id, 0, 'finished', taskResult('changed')));
    fx.orchestrator.onRunEvent({ id: 'h_impostor', name: 'node-1' }, runEvent(id, 0, 'finished', taskResult('changed')));
    fx.orchestrator.onRunEvent(host('node-1'), runEvent('run-ffffffffffff', 0, 'finished', taskResult('changed')));
    fx.orchestrator.onRunEvent(host('node-1'), runEvent(id, 0, 'finished'));
    expect(fx.orchestrator.get(id).hosts[0]?.results).toEqual([]);
  });

  it('hides the diff of tasks that write secrets', async () => {
    const tls = { caCert: pemOf('CERTIFICATE'), serverCert: pemOf('CERTIFICATE'), serverKey: pemOf('KEY'), peerCert: pemOf('CERTIFICATE'), peerKey: pemOf('KEY') };
    const { id, vars } = fx.orchestrator.start(req({ role: 'etcd', hosts: ['node-1'], diff: true, vars: { tls } }), 'otto');
    expect((vars.tls as Record<string, string>).serverKey).toBe('<redacted>');
    const spec = session('node-1').runRequest(id).run;
    const keyIndex = spec.tasks.findIndex((t) => t.name === 'Write /etc/etcd/pki/server.key');
    expect(spec.tasks[keyIndex]?.sensitive).toBe(true); // the agent hides it at the source too
    fx.orchestrator.onRunEvent(host('node-1'), runEvent(id, keyIndex, 'finished', taskResult('changed', { diff: '+SECRET\n' })));
    fx.orchestrator.onRunEvent(host('node-1'), runEvent(id, keyIndex - 1, 'finished', taskResult('changed', { diff: '+CERT\n' })));
    const diffs = fx.orchestrator.get(id).hosts[0]?.results.map((r) => r.diff);
    expect(diffs).toEqual([SECRET_DIFF, '+CERT\n']);
    expect(JSON.stringify(fx.store.runs.get(id))).not.toContain('KEY-----');
  });

  it('long-poll: waitForChange wakes on the next change, progress returns only newer results', async () => {
    const { id, seq } = fx.orchestrator.start(req({ hosts: ['node-1'] }), 'otto');
    const t0 = Date.now();
    const waiting = fx.orchestrator.waitForChange(id, seq, 5000);
    setTimeout(() => fx.orchestrator.onRunEvent(host('node-1'), runEvent(id, 0, 'finished', taskResult('ok'))), 30);
    await waiting;
    expect(Date.now() - t0).toBeLessThan(2000);
    const p = fx.orchestrator.progress(id, seq, 100);
    expect(p.results.map((r) => r.name)).toEqual(['Disable swap']);
    expect(fx.orchestrator.progress(id, p.seq, 100).results).toEqual([]);
    const t1 = Date.now();
    await fx.orchestrator.waitForChange(id, p.seq, 50);
    expect(Date.now() - t1).toBeGreaterThanOrEqual(40);
    session('node-1').finish(id);
    await flush();
    // A finished run never parks the caller.
    await fx.orchestrator.waitForChange(id, 10_000, 5000);
    expect(() => fx.orchestrator.get('run-000000000000')).toThrow(/does not exist/);
  });
});

function pemOf(label: string): string {
  return `-----BEGIN ${label}-----\nAAAA\n-----END ${label}-----\n`;
}

import { afterEach, describe, expect, it } from 'vitest';
import { isBallastError } from '../../../shared/src/errors.js';
import { type OpsFixture, opsFixture, until } from './fakes.js';

describe('OperationEngine (real SQLite file, test executors)', () => {
  let fx: OpsFixture;
  afterEach(async () => fx.cleanup());

  const start = (hosts = ['h1', 'h2'], opts: { cluster?: string; check?: boolean; secret?: string } = {}) =>
    fx.engine.start('test.rollout', { hosts, ...(opts.secret === undefined ? {} : { secret: opts.secret }) }, { actor: 'alice', cluster: opts.cluster ?? 'prod', check: opts.check === true });
  const steps = (id: string) => fx.store.operations.steps(id).map((s) => `${s.key}:${s.state}:${s.attempts}`);
  const events = () => fx.store.events.list({ limit: 100 }).map((e) => `${e.kind}|${e.host ?? '-'}`);

  it('persists the plan before the first step and every step before and after it runs', async () => {
    fx = await opsFixture();
    fx.ledger.blocked.add('prep/h2');
    const doc = await start(['h1', 'h2'], { secret: 's3cret' });
    expect(doc).toMatchObject({ kind: 'test.rollout', cluster: 'prod', state: 'pending', check: false, createdBy: 'alice', progress: { done: 0, total: 5 } });
    expect(doc.input).toEqual({ hosts: ['h1', 'h2'], secret: '<redacted>' });
    expect(doc.steps.map((s) => s.key)).toEqual(['prep/h1', 'prep/h2', 'join/h1', 'join/h2', 'gate/healthy']);

    // While prep/h2 runs, a second connection (another reader of the file) sees it running.
    await until(() => fx.ledger.block.has('prep/h2'), 'prep/h2 to block');
    const reader = fx.restart().store;
    expect(reader.operations.steps(doc.id).map((s) => `${s.key}:${s.state}:${s.attempts}`)).toEqual([
      'prep/h1:succeeded:1', 'prep/h2:running:1', 'join/h1:pending:0', 'join/h2:pending:0', 'gate/healthy:pending:0',
    ]);
    const live = fx.engine.get(doc.id);
    expect(live.state).toBe('running');
    expect(live.current).toMatchObject({ key: 'prep/h2', phase: 'prep', host: 'h2', state: 'running', progress: 'waiting for prep/h2' });

    fx.ledger.release('prep/h2');
    await fx.engine.idle(doc.id);
    const done = fx.engine.get(doc.id);
    expect(done).toMatchObject({ state: 'succeeded', progress: { done: 5, total: 5 }, current: null, error: null });
    expect(done.endedAt).not.toBeNull();
    expect(done.steps[0]).toMatchObject({ state: 'succeeded', changed: true, message: 'Prepare h1 (attempt 1)', data: { attempt: 1 }, error: null });
    expect([...fx.ledger.executions.values()]).toEqual([1, 1, 1, 1, 1]);
    expect(events()).toEqual(['op.started|-', 'op.step|h1', 'op.step|h2', 'op.step|h1', 'op.step|h2', 'op.step|-', 'op.finished|-']);
  });

  it('resumes after a crash mid-step: the interrupted step runs once more, finished steps never again', async () => {
    fx = await opsFixture();
    fx.ledger.hangOnce.add('join/h1'); // the process "dies" inside this step: it never settles
    const doc = await start(['h1', 'h2']);
    await until(() => fx.ledger.count('join/h1') === 1, 'join/h1 to start');
    expect(fx.store.operations.get(doc.id)?.state).toBe('running');

    // A new controller over the same file, without closing the old one: as after SIGKILL.
    const next = fx.restart();
    expect(next.engine.recover()).toEqual([doc.id]);
    await next.engine.idle(doc.id);

    const after = next.engine.get(doc.id);
    expect(after.state).toBe('succeeded');
    expect(after.steps.find((s) => s.key === 'join/h1')).toMatchObject({ state: 'succeeded', attempts: 2, message: 'Join h1 (attempt 2)' });
    expect(Object.fromEntries(fx.ledger.executions)).toEqual({ 'prep/h1': 1, 'prep/h2': 1, 'join/h1': 2, 'join/h2': 1, 'gate/healthy': 1 });
    expect(next.store.events.list({ limit: 100 }).map((e) => e.kind)).toContain('op.resumed');
  });

  it('leaves paused operations paused at restart, and a graceful close leaves the step to run again', async () => {
    fx = await opsFixture();
    fx.ledger.failures.set('prep/h1', 1);
    const paused = await start(['h1'], { cluster: 'a' });
    await fx.engine.idle(paused.id);
    fx.ledger.blocked.add('prep/h9');
    const running = await start(['h9'], { cluster: 'b' });
    await until(() => fx.ledger.block.has('prep/h9'), 'prep/h9 to block');
    await fx.engine.close(); // shutdown aborts the step; it must not count as a failure
    expect(fx.store.operations.step(running.id, 'prep/h9')?.state).toBe('running');

    fx.ledger.blocked.clear();
    const next = fx.restart();
    expect(next.engine.recover()).toEqual([running.id]);
    await next.engine.idle(running.id);
    expect(next.engine.get(running.id).state).toBe('succeeded');
    expect(fx.ledger.count('prep/h9')).toBe(2);
    expect(next.engine.get(paused.id).state).toBe('paused');
  });

  it('pauses on a failing host with the error, the step and the host; resume re-runs the step and continues', async () => {
    fx = await opsFixture();
    fx.ledger.failures.set('join/h2', 1);
    const doc = await start(['h1', 'h2', 'h3']);
    await fx.engine.idle(doc.id);
    const paused = fx.engine.get(doc.id);
    expect(paused.state).toBe('paused');
    expect(paused.error).toEqual({ code: 'BALLAST_ERR_COMMAND_FAILED', message: 'failed to run Join h2: exit status 1', host: 'h2', stepKey: 'join/h2' });
    expect(paused.current).toMatchObject({ key: 'join/h2', state: 'failed', attempts: 1 });
    expect(fx.ledger.count('join/h3')).toBe(0); // nothing after the failure ran, nothing was torn down
    expect(events()).toContain('op.paused|h2');

    await expect(start(['h4'])).rejects.toSatisfy((e) => isBallastError(e, 'BALLAST_ERR_RUN_BUSY') && e.message.includes(doc.id));

    const resumed = fx.engine.resume(doc.id, 'bob');
    expect(resumed.state).toBe('running');
    expect(resumed.error).toBeNull();
    await fx.engine.idle(doc.id);
    const end = fx.engine.get(doc.id);
    expect(end.state).toBe('succeeded');
    expect(end.steps.find((s) => s.key === 'join/h2')).toMatchObject({ state: 'succeeded', attempts: 2 });
    expect(fx.ledger.count('join/h2')).toBe(2);
    expect(fx.ledger.count('join/h1')).toBe(1);
    expect(() => fx.engine.resume(doc.id, 'bob')).toThrow(/it is succeeded; only a paused operation can be resumed/);
  });

  it('aborts: the running step is cancelled through its signal and recorded; nothing else runs', async () => {
    fx = await opsFixture();
    fx.ledger.blocked.add('join/h1');
    const doc = await start(['h1', 'h2']);
    await until(() => fx.ledger.block.has('join/h1'), 'join/h1 to block');
    const aborted = await fx.engine.abort(doc.id, 'carol');
    expect(aborted.state).toBe('aborted');
    expect(aborted.endedAt).not.toBeNull();
    expect(steps(doc.id)).toEqual(['prep/h1:succeeded:1', 'prep/h2:succeeded:1', 'join/h1:failed:1', 'join/h2:pending:0', 'gate/healthy:pending:0']);
    expect(aborted.steps[2]?.error).toEqual({ code: 'BALLAST_ERR_CANCELLED', message: `operation ${doc.id} was aborted by carol` });
    expect(events()).toContain('op.aborted|-');
    // Aborting again changes nothing; the cluster is free again.
    expect((await fx.engine.abort(doc.id, 'carol')).seq).toBe(aborted.seq);
    expect((await start(['h5'])).state).toBe('pending');
  });

  it('check mode runs every check, changes nothing, and ends failed when a check failed', async () => {
    fx = await opsFixture();
    fx.ledger.failures.set('prep/h2', 1);
    const doc = await start(['h1', 'h2'], { check: true });
    await fx.engine.idle(doc.id);
    const end = fx.engine.get(doc.id);
    expect(end).toMatchObject({ state: 'failed', check: true, current: null });
    expect(steps(doc.id)).toEqual(['prep/h1:succeeded:1', 'prep/h2:failed:1', 'join/h1:succeeded:1', 'join/h2:succeeded:1', 'gate/healthy:succeeded:1']);
    expect(end.steps[0]).toMatchObject({ changed: true, message: 'would prepare h1' });
    expect(fx.ledger.executions.size).toBe(0);
    expect(fx.ledger.checks.size).toBe(5);
  });

  it('persists steps an executor inserts right after it, atomically with its completion', async () => {
    fx = await opsFixture();
    fx.ledger.insert.set('join/h1', [
      { key: 'rollback/h1/a', phase: 'rollback', host: 'h1', title: 'Undo a on h1', kind: 'test.count' },
      { key: 'rollback/h1/b', phase: 'rollback', host: 'h1', title: 'Undo b on h1', kind: 'test.count' },
    ]);
    const doc = await start(['h1', 'h2']);
    await fx.engine.idle(doc.id);
    const end = fx.engine.get(doc.id);
    expect(end.state).toBe('succeeded');
    expect(end.steps.map((s) => `${s.idx}:${s.key}`)).toEqual([
      '0:prep/h1', '1:prep/h2', '2:join/h1', '3:rollback/h1/a', '4:rollback/h1/b', '5:join/h2', '6:gate/healthy',
    ]);
    expect(end.progress).toEqual({ done: 7, total: 7 });
  });

  it('pauses instead of inserting an invalid step, and refuses bad input and bad plans with paths', async () => {
    fx = await opsFixture();
    fx.ledger.insert.set('prep/h1', [{ key: 'prep/h1', phase: 'x', title: 'dup', kind: 'nope' }]);
    const doc = await start(['h1']);
    await fx.engine.idle(doc.id);
    const paused = fx.engine.get(doc.id);
    expect(paused.state).toBe('paused');
    expect(paused.error).toMatchObject({ code: 'BALLAST_ERR_VALIDATION', stepKey: 'prep/h1' });
    expect(paused.error?.message).toContain('/insertAfter/0/key: duplicate step key "prep/h1"');
    expect(paused.error?.message).toContain('/insertAfter/0/kind: no executor is registered for step kind "nope"');

    await expect(fx.engine.start('test.rollout', { hosts: [] }, { actor: 'a', cluster: 'other' })).rejects.toMatchObject({ code: 'BALLAST_ERR_VALIDATION', path: '/input/hosts' });
    await expect(fx.engine.start('nope', {}, { actor: 'a' })).rejects.toMatchObject({ code: 'BALLAST_ERR_VALIDATION', path: '/kind' });
    await expect(fx.engine.start('test.rollout', { hosts: ['bad host!'] }, { actor: 'a', cluster: 'other' })).rejects.toMatchObject({ path: '/steps/0/key' });
    expect(fx.store.operations.list(10)).toHaveLength(1);
  });

  it('allows one unfinished operation per cluster, naming it; other clusters and finished ones do not block', async () => {
    fx = await opsFixture();
    fx.ledger.blocked.add('prep/h1');
    const first = await start(['h1'], { cluster: 'prod' });
    const err = await start(['h2'], { cluster: 'prod' }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'BALLAST_ERR_RUN_BUSY', path: '/cluster' });
    expect((err as Error).message).toContain(`operation ${first.id} (test.rollout) is`);
    const other = await start(['h2'], { cluster: 'staging' });
    fx.ledger.release('prep/h1');
    await fx.engine.idle(first.id);
    await fx.engine.idle(other.id);
    expect((await start(['h3'], { cluster: 'prod' })).state).toBe('pending');
  });

  it('fails a step whose deadline passes and pauses with BALLAST_ERR_DEADLINE_EXCEEDED', async () => {
    fx = await opsFixture({ stepTimeoutMs: 50 });
    fx.ledger.blocked.add('prep/h1');
    const doc = await start(['h1']);
    await fx.engine.idle(doc.id);
    expect(fx.engine.get(doc.id).error).toMatchObject({ code: 'BALLAST_ERR_DEADLINE_EXCEEDED', stepKey: 'prep/h1', host: 'h1' });
  });

  it('wakes long-pollers on each change', async () => {
    fx = await opsFixture();
    fx.ledger.blocked.add('prep/h1');
    const doc = await start(['h1']);
    await until(() => fx.ledger.block.has('prep/h1'), 'prep/h1 to block');
    const seq = fx.engine.get(doc.id).seq;
    const t0 = Date.now();
    setTimeout(() => fx.ledger.release('prep/h1'), 30);
    await fx.engine.waitForChange(doc.id, seq, 5000);
    expect(Date.now() - t0).toBeLessThan(4000);
    expect(fx.engine.get(doc.id).seq).toBeGreaterThan(seq);
  });
});

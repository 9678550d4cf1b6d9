import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../../shared/src/log.js';
import { collectHealth } from '../health.js';
import { FakeSystemd } from '../tasks/testing.js';
import type { ProbeResult, SupervisedUnit } from './supervised-unit.js';
import { createUnitSupervisor, type RepairPolicy } from './supervisor.js';

/** Records sendEvent calls. */
function fakeEvents() {
  const sent: { kind: string; message: string; data?: Record<string, unknown> }[] = [];
  return { sent, sendEvent: (kind: string, message: string, data?: Record<string, unknown>) => sent.push({ kind, message, data }) };
}

/** A component whose probe answers whatever the test sets. */
function fakeComponent(name: string, unit = `${name}.service`) {
  const state: { result: ProbeResult; calls: number } = { result: { ok: true, message: `${name} answers` }, calls: 0 };
  const component: SupervisedUnit = {
    name,
    unit,
    probe: async () => {
      state.calls += 1;
      return state.result;
    },
  };
  return { component, state };
}

const POLICY: RepairPolicy = { intervalMs: 10_000, failureThreshold: 3, backoffInitialMs: 5_000, backoffMaxMs: 40_000, probeTimeoutMs: 1_000 };

function setup(components: SupervisedUnit[], opts: { paused?: () => boolean } = {}) {
  let now = 0;
  const systemd = new FakeSystemd();
  const events = fakeEvents();
  const supervisor = createUnitSupervisor({
    source: async () => components,
    systemd,
    events,
    log: silentLogger(),
    policy: POLICY,
    now: () => now,
    paused: opts.paused,
  });
  /** Advances the fake clock by `ms` and runs one pass. */
  const at = async (ms: number) => {
    now = ms;
    await supervisor.tick();
  };
  return { supervisor, systemd, events, at };
}

describe('component supervisor', () => {
  it('probes enabled components on their interval and reports checks', async () => {
    const etcd = fakeComponent('etcd');
    const { supervisor, systemd, events, at } = setup([etcd.component]);
    systemd.enabled.add('etcd.service');
    systemd.active.add('etcd.service');
    await at(0);
    await at(5_000); // not due yet
    await at(10_000);
    expect(etcd.state.calls).toBe(2);
    expect(systemd.calls).toEqual([]);
    expect(events.sent).toEqual([]);
    const checks = supervisor.checks();
    expect(checks.map((c) => c.name)).toEqual(['component:etcd']);
    expect(await checks[0]?.run()).toEqual({ ok: true, message: 'etcd answers' });
    // The check reads the latest probe when it runs, not when it was listed.
    etcd.state.result = { ok: false, message: 'no leader' };
    // One failed probe of a running unit is not a verdict yet (no flapping); the second is.
    await at(20_000);
    expect(await checks[0]?.run()).toEqual({ ok: true, message: 'no leader (one failed probe; checking again)' });
    await at(30_000);
    expect(await checks[0]?.run()).toEqual({ ok: false, message: 'no leader' });
    const health = await collectHealth({ checks: supervisor.checks(), clockOffsetMs: () => null, mounts: async () => [] });
    expect(health.checks).toEqual([{ name: 'component:etcd', ok: false, message: 'no leader' }]);
  });

  it('leaves a unit that is not enabled alone and reports no check for it', async () => {
    const kubelet = fakeComponent('kubelet');
    const { supervisor, systemd, at } = setup([kubelet.component]);
    await at(0);
    expect(kubelet.state.calls).toBe(0);
    expect(systemd.calls).toEqual([]);
    expect(supervisor.checks()).toEqual([]);
  });

  it('restarts an inactive unit at once and reports the repair when it is healthy again', async () => {
    const containerd = fakeComponent('containerd');
    const { supervisor, systemd, events, at } = setup([containerd.component]);
    systemd.enabled.add('containerd.service');
    await at(0);
    expect(systemd.calls).toEqual(['restart containerd.service']);
    expect(events.sent).toHaveLength(1);
    expect(events.sent[0]).toMatchObject({
      kind: 'component.failed',
      data: { component: 'containerd', unit: 'containerd.service', reason: 'containerd.service is not active', attempt: 1, restarted: true, nextAttemptInMs: 5_000 },
    });
    expect(await supervisor.checks()[0]?.run()).toEqual({ ok: false, message: 'containerd.service is not active' });
    await at(10_000);
    expect(events.sent[1]).toEqual({
      kind: 'component.repaired',
      message: 'containerd is healthy again after 1 restart: containerd answers',
      data: { component: 'containerd', unit: 'containerd.service', restarts: 1 },
    });
    expect(supervisor.status()[0]).toMatchObject({ restarts: 0, consecutiveFailures: 0, last: { ok: true } });
  });

  it('leaves a unit that is being stopped alone: a restart would cancel the stop job; once down it is restarted', async () => {
    const etcd = fakeComponent('etcd');
    const { supervisor, systemd, at } = setup([etcd.component]);
    systemd.enabled.add('etcd.service');
    systemd.states.set('etcd.service', 'deactivating');
    await at(0);
    expect(systemd.calls).toEqual([]);
    expect(etcd.state.calls).toBe(0);
    expect(await supervisor.checks()[0]?.run()).toEqual({ ok: false, message: 'etcd.service is stopping' });
    systemd.states.delete('etcd.service'); // stopped, and still enabled and registered
    await at(10_000);
    expect(systemd.calls).toEqual(['restart etcd.service']);
  });

  it('restarts an active unit only after failureThreshold failed probes', async () => {
    const etcd = fakeComponent('etcd');
    const { systemd, events, at } = setup([etcd.component]);
    systemd.enabled.add('etcd.service');
    systemd.active.add('etcd.service');
    etcd.state.result = { ok: false, message: 'connect ECONNREFUSED' };
    await at(0);
    await at(10_000);
    expect(systemd.calls).toEqual([]);
    await at(20_000);
    expect(systemd.calls).toEqual(['restart etcd.service']);
    expect(events.sent[0]?.message).toBe(
      'etcd unhealthy (connect ECONNREFUSED); restarted etcd.service (attempt 1, next no sooner than 5 s)',
    );
  });

  it('backs off exponentially up to the cap while the unit will not come back', async () => {
    const etcd = fakeComponent('etcd');
    const { systemd, events, at, supervisor } = setup([etcd.component]);
    systemd.enabled.add('etcd.service');
    systemd.failing.add('etcd.service');
    const restartsAt: number[] = [];
    for (let t = 0; t <= 200_000; t += 10_000) {
      const before = systemd.calls.length;
      await at(t);
      if (systemd.calls.length > before) restartsAt.push(t);
    }
    // Delays 5 s, 10 s, 20 s, 40 s, 40 s … rounded up to the 10 s probe interval.
    expect(restartsAt).toEqual([0, 10_000, 20_000, 40_000, 80_000, 120_000, 160_000, 200_000]);
    expect(events.sent.every((e) => e.kind === 'component.failed')).toBe(true);
    expect(events.sent[0]?.message).toContain('failed to restart etcd.service: Job for etcd.service failed');
    expect(events.sent.map((e) => e.data?.nextAttemptInMs)).toEqual([5_000, 10_000, 20_000, 40_000, 40_000, 40_000, 40_000, 40_000]);
    expect(supervisor.status()[0]?.restarts).toBe(8);
    // Once it comes back, the count and the backoff start over.
    systemd.failing.delete('etcd.service');
    systemd.active.add('etcd.service');
    await at(210_000);
    expect(events.sent.at(-1)).toMatchObject({ kind: 'component.repaired', data: { restarts: 8 } });
    expect(supervisor.status()[0]?.restarts).toBe(0);
  });

  it('does not restart while paused (a task run is in progress), but still reports', async () => {
    let paused = true;
    const etcd = fakeComponent('etcd');
    const { systemd, supervisor, at } = setup([etcd.component], { paused: () => paused });
    systemd.enabled.add('etcd.service');
    await at(0);
    expect(systemd.calls).toEqual([]);
    expect(await supervisor.checks()[0]?.run()).toMatchObject({ ok: false });
    paused = false;
    await at(10_000);
    expect(systemd.calls).toEqual(['restart etcd.service']);
  });

  it('counts a probe that throws or hangs as failed', async () => {
    const hung: SupervisedUnit = { name: 'hung', unit: 'hung.service', probe: () => new Promise(() => {}) };
    const thrower: SupervisedUnit = {
      name: 'thrower',
      unit: 'thrower.service',
      probe: async () => {
        throw new Error('boom');
      },
    };
    const { systemd, supervisor, at } = setup([hung, thrower]);
    for (const unit of ['hung.service', 'thrower.service']) {
      systemd.enabled.add(unit);
      systemd.active.add(unit);
    }
    await at(0);
    await at(10_000);
    const results = await Promise.all(supervisor.checks().map(async (c) => [c.name, await c.run()]));
    expect(results).toEqual([
      ['component:hung', { ok: false, message: 'probe gave no answer within 1000 ms' }],
      ['component:thrower', { ok: false, message: 'boom' }],
    ]);
  });

  it('forgets components that are no longer listed', async () => {
    const a = fakeComponent('a');
    const list = [a.component];
    const systemd = new FakeSystemd({ enabled: ['a.service'], active: ['a.service'] });
    const supervisor = createUnitSupervisor({ source: async () => list, systemd, events: fakeEvents(), log: silentLogger(), now: () => 0 });
    await supervisor.tick();
    expect(supervisor.checks()).toHaveLength(1);
    list.pop();
    await supervisor.tick();
    expect(supervisor.checks()).toEqual([]);
  });

  it('forgetRemoved (after a run): drops a removed component at once, without probing or restarting the rest', async () => {
    const a = fakeComponent('a');
    const b = fakeComponent('b');
    const list = [a.component, b.component];
    const systemd = new FakeSystemd({ enabled: ['a.service', 'b.service'], active: ['b.service'] });
    const supervisor = createUnitSupervisor({ source: async () => list, systemd, events: fakeEvents(), log: silentLogger(), now: () => 0, paused: () => true });
    await supervisor.tick();
    expect(supervisor.checks().map((c) => c.name)).toEqual(['component:a', 'component:b']);
    list.shift(); // the run stopped a, then removed its component file
    await supervisor.forgetRemoved();
    expect(supervisor.checks().map((c) => c.name)).toEqual(['component:b']);
    expect([a.state.calls, b.state.calls]).toEqual([0, 1]);
    expect(systemd.calls.filter((c) => /^(re)?start /.test(c))).toEqual([]);
  });

  it('runs its own loop until stopped', async () => {
    const a = fakeComponent('a');
    const systemd = new FakeSystemd({ enabled: ['a.service'], active: ['a.service'] });
    const supervisor = createUnitSupervisor({
      source: async () => [a.component],
      systemd,
      events: fakeEvents(),
      log: silentLogger(),
      policy: { intervalMs: 1 },
      tickMs: 5,
    });
    supervisor.start();
    await new Promise((resolve) => setTimeout(resolve, 100));
    await supervisor.stop();
    const calls = a.state.calls;
    expect(calls).toBeGreaterThan(2);
    await new Promise((resolve) => setTimeout(resolve, 30));
    expect(a.state.calls).toBe(calls);
  });
});

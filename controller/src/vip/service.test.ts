import { afterEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../../shared/src/log.js';
import { createMetrics } from '../metrics.js';
import { VipService, type VipServiceOptions } from './service.js';
import { FakeEvents, fakeVipFleet, vipHealth } from './testing.js';

describe('VipService (fake agents)', () => {
  const services: VipService[] = [];
  afterEach(() => {
    for (const s of services.splice(0)) s.close();
  });

  /** cp1..cp3 are VIP hosts (cp3 disconnected unless asked), w1 a worker without VIP. */
  function setup(opts: { connected?: string[]; extra?: Partial<VipServiceOptions> } = {}) {
    const fleet = fakeVipFleet(['cp1', 'cp2', 'cp3', 'w1'], opts.connected ?? ['cp1', 'cp2', 'w1']);
    const events = new FakeEvents();
    const metrics = createMetrics({ collectProcess: false });
    const vip = new VipService({ hosts: fleet.directory, events, metrics, log: silentLogger(), movePollMs: 5, ...opts.extra });
    services.push(vip);
    vip.seed([
      { id: 'h_cp1', health: vipHealth() },
      { id: 'h_cp2', health: vipHealth() },
      { id: 'h_cp3', health: vipHealth() },
      { id: 'h_w1', health: null },
    ]);
    vip.observeHealth('h_w1', vipHealth(false));
    fleet.cluster.holder = 'cp1';
    return { ...fleet, events, metrics, vip };
  }
  const gauge = async (m: { get(): Promise<{ values: { labels: Partial<Record<string, string | number>>; value: number }[] }> }) =>
    Object.fromEntries((await m.get()).values.map((v) => [`${v.labels.vip}/${v.labels.host}${v.labels.quantile === undefined ? '' : `/${v.labels.quantile}`}`, v.value]));

  it('aggregates the VIP hosts in parallel: holder, term, lease, candidates; the worker is not asked', async () => {
    const { vip, agent, metrics, cluster } = setup();
    agent('cp2').renewP99 = 4;
    const res = await vip.status();
    expect(res.items).toHaveLength(1);
    const v = res.items[0]!;
    expect(v).toMatchObject({ name: 'api', address: '198.18.0.250', prefixLength: 32, interface: 'eth0', holder: 'cp1', holderSource: 'holder', term: String(cluster.term), leaseLeftMs: 1600 });
    expect(v.candidates.map((c) => [c.host, c.reachable, c.state, c.healthy, c.candidate, c.excluded, c.renewRttP99Ms])).toEqual([
      ['cp1', true, 'holder', true, true, false, 9.5],
      ['cp2', true, 'candidate', true, true, false, 4],
      ['cp3', false, 'unknown', false, false, false, null],
    ]);
    expect(v.candidates[2]?.error?.code).toBe('BALLAST_ERR_PEER_GONE');
    expect(agent('w1').received).toEqual([]);
    expect(agent('cp1').received[0]).toMatchObject({ type: 'req.vip', action: 'status', timeoutMs: 1500 });
    expect(await gauge(metrics.vipHolder)).toEqual({ 'api/cp1': 1, 'api/cp2': 0, 'api/cp3': 0 });
    expect(await gauge(metrics.vipRenewRtt)).toEqual({ 'api/cp1/0.5': 0.0025, 'api/cp1/0.99': 0.0095, 'api/cp2/0.99': 0.004 });
    expect(await gauge(metrics.vipHolders)).toEqual({ 'api/undefined': 1 });
    expect(await gauge(metrics.vipTerm)).toEqual({ 'api/undefined': cluster.term });
  });

  it('keeps the last report of a host that stops answering, marked unreachable; shows the observed holder when the holder is silent', async () => {
    const { vip, agent, metrics } = setup();
    await vip.status();
    agent('cp1').mode = 'hang';
    const v = (await vip.status()).items[0]!;
    expect(v).toMatchObject({ holder: 'cp1', holderSource: 'observed', leaseLeftMs: null });
    expect(v.candidates[0]).toMatchObject({ host: 'cp1', reachable: false, state: 'holder', error: { code: 'BALLAST_ERR_DEADLINE_EXCEEDED' } });
    expect(v.candidates[0]?.observedAt).not.toBeNull();
    // The silent holder's stale self-report is not counted: no reachable host holds the VIP.
    expect((await metrics.vipHolders.get()).values.map((x) => x.value)).toEqual([0]);
  });

  it('refuses an unfit target with the reason, and records each refusal as an event', async () => {
    const { vip, agent, events } = setup();
    const refusal = async (to: string) => {
      try {
        await vip.move(to, 'admin');
      } catch (err) {
        return { code: (err as { code: string }).code, message: (err as Error).message };
      }
      throw new Error('moved');
    };
    expect(await refusal('nope')).toMatchObject({ code: 'BALLAST_ERR_NOT_FOUND' });
    expect(await refusal('cp3')).toEqual({ code: 'BALLAST_ERR_VIP_TARGET_UNFIT', message: 'failed to move the VIP to cp3: cp3 is not connected to the controller (state pending)' });
    agent('cp2').healthy = false;
    agent('cp2').healthMessage = 'connect ECONNREFUSED 127.0.0.1:6443';
    expect((await refusal('cp2')).message).toBe("failed to move the VIP to cp2: cp2's VIP health check fails: connect ECONNREFUSED 127.0.0.1:6443");
    agent('cp2').healthy = true;
    agent('cp2').excluded = true;
    expect((await refusal('cp2')).message).toMatch(/cp2 is excluded for maintenance \(ballastctl vip include cp2\)/);
    agent('cp2').excluded = false;
    agent('cp2').candidate = false;
    expect((await refusal('cp2')).message).toMatch(/cp2 is not a VIP candidate/);
    agent('cp2').candidate = true;
    agent('cp2').mode = 'unsupported';
    expect((await refusal('cp2')).message).toMatch(/did not report its VIP status \(BALLAST_ERR_UNSUPPORTED/);
    agent('cp2').mode = 'garbage';
    expect((await refusal('cp2')).message).toMatch(/BALLAST_ERR_FRAME_INVALID/);
    agent('w1').configured = false;
    expect((await refusal('w1')).message).toBe('failed to move the VIP to w1: no VIP is configured on w1');
    expect(events.kinds().filter((k) => k.startsWith('vip.move-refused'))).toHaveLength(7);
    expect(agent('cp1').received.filter((r) => r.action === 'move')).toEqual([]);
  });

  it('moves: asks the holder, waits until the target holds, reports from/to/term/took, records an event and the gauge', async () => {
    const { vip, agent, events, metrics, cluster } = setup();
    const before = String(cluster.term);
    const res = await vip.move('cp2', 'admin');
    expect(res).toMatchObject({ vip: 'api', from: 'cp1', to: 'cp2', moved: true, previousTerm: before, term: String(cluster.term) });
    expect(res.tookMs).toBeGreaterThanOrEqual(0);
    expect(cluster.holder).toBe('cp2');
    expect(agent('cp1').received.find((r) => r.action === 'move')).toMatchObject({ to: 'cp2', timeoutMs: 5000 });
    expect(agent('cp2').received.filter((r) => r.action === 'status').length).toBeGreaterThanOrEqual(2); // it waited
    expect(events.items.at(-1)).toMatchObject({ kind: 'vip.moved', host: 'cp2', data: { from: 'cp1', to: 'cp2', by: 'admin' } });
    expect((await gauge(metrics.vipHolder))['api/cp2']).toBe(1);
    expect(await vip.move('cp2', 'admin')).toMatchObject({ moved: false, from: 'cp2', to: 'cp2', tookMs: 0 });
  });

  it('fails a move the target never completes (coded, with what it saw) and one with no reachable holder', async () => {
    const { vip, cluster, events } = setup({ extra: { moveWaitMs: 100 } });
    cluster.takeAfterPolls = Number.POSITIVE_INFINITY;
    await expect(vip.move('cp2', 'admin')).rejects.toMatchObject({ code: 'BALLAST_ERR_VIP_MOVE_TIMEOUT', message: expect.stringMatching(/cp1 handed it over, but cp2 did not report holding it within 100 ms \(state candidate, holder none\)/) });
    expect(events.kinds()).toContain('vip.move-failed:cp2');

    const other = setup({ connected: ['cp2', 'cp3'] });
    await expect(other.vip.move('cp2', 'admin')).rejects.toMatchObject({ code: 'BALLAST_ERR_VIP_NO_HOLDER', message: expect.stringMatching(/etcd names cp1 \(term \d+\), which is not connected/) });
  });

  it('excludes the holder by handing over to the best candidate first; include lets it campaign again', async () => {
    const { vip, agent, events, cluster } = setup({ connected: ['cp1', 'cp2', 'cp3'] });
    agent('cp2').renewP99 = 30;
    agent('cp3').renewP99 = 5; // the better etcd member
    const ex = await vip.exclude('cp1', 'admin');
    expect(ex).toMatchObject({ action: 'exclude', host: 'cp1', vip: 'api', wasHolder: true, handedOverTo: 'cp3', candidate: { state: 'excluded', excluded: true } });
    expect(cluster.holder).toBe('cp3');
    expect(events.items.find((e) => e.kind === 'vip.excluded')).toMatchObject({ host: 'cp1', message: 'cp1 excluded from VIP election api, handing the VIP over to cp3' });

    // Nobody fit: the holder resigns.
    agent('cp2').healthy = false;
    const alone = await vip.exclude('cp3', 'admin');
    expect(alone).toMatchObject({ wasHolder: true, handedOverTo: null });
    expect(agent('cp3').received.at(-1)).toEqual(expect.not.objectContaining({ to: expect.anything() }));

    const inc = await vip.include('cp1', 'admin');
    expect(inc).toMatchObject({ action: 'include', host: 'cp1', candidate: { excluded: false, state: 'candidate' } });
    expect(events.kinds()).toContain('vip.included:cp1');
    await expect(vip.exclude('w9', 'admin')).rejects.toMatchObject({ code: 'BALLAST_ERR_NOT_FOUND' });
    const down = setup({ connected: ['cp1'] });
    await expect(down.vip.include('cp2', 'admin')).rejects.toMatchObject({ code: 'BALLAST_ERR_PEER_GONE', message: expect.stringMatching(/remove \/var\/lib\/ballast\/vip-excluded/) });
  });

  it('counts agent vip.acquired events as transitions and moves the holder gauge at once', async () => {
    const { vip, events, metrics } = setup();
    await vip.status();
    events.append({ host: 'cp2', kind: 'agent.vip.acquired', message: 'won the VIP election (term 9)', data: { vip: 'api', term: '9' } });
    events.append({ host: 'cp2', kind: 'agent.vip.acquired', message: 'x', data: { vip: 'Not A Name' } });
    events.append({ host: 'cp2', kind: 'agent.vip.released', message: 'x', data: { vip: 'api' } });
    expect((await metrics.vipTransitions.get()).values).toEqual([{ labels: { vip: 'api' }, value: 1 }]);
    expect(await gauge(metrics.vipHolder)).toMatchObject({ 'api/cp1': 0, 'api/cp2': 1 });
    vip.close();
    events.append({ host: 'cp1', kind: 'agent.vip.acquired', message: 'x', data: { vip: 'api' } });
    expect((await metrics.vipTransitions.get()).values[0]?.value).toBe(1);
  });

  it('forgets a host whose health no longer has a vip check', async () => {
    const { vip } = setup();
    vip.observeHealth('h_cp3', vipHealth(false));
    expect((await vip.status()).items[0]?.candidates.map((c) => c.host)).toEqual(['cp1', 'cp2']);
  });

  it('learns VIP hosts from the directory\'s health events, forgets removed hosts, and stops listening when closed', async () => {
    const { vip, hostEvents, agent } = setup({ connected: ['cp1', 'cp2', 'cp3', 'w1'] });
    hostEvents.emit({ type: 'host.health', host: { id: 'h_w1', name: 'w1' }, health: vipHealth(), at: 1 });
    hostEvents.emit({ type: 'host.removed', host: { id: 'h_cp3', name: 'cp3' } });
    expect((await vip.status()).items[0]?.candidates.map((c) => c.host)).toEqual(['cp1', 'cp2', 'w1']);
    expect(agent('cp3').received).toHaveLength(0);
    vip.close();
    expect(hostEvents.listenerCount('host.health') + hostEvents.listenerCount('host.removed')).toBe(0);
  });
});

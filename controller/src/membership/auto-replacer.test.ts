import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { matchesSelector } from '../../../shared/src/labels.js';
import { silentLogger } from '../../../shared/src/log.js';
import { createMetrics, reportAutoReplace } from '../metrics.js';
import { AUTO_ACTOR, AutoReplacer, type AutoReplacerOptions, type AutoReplaceState } from './auto-replacer.js';
import { specSource } from './specs.js';
import { type MembershipFixture, membershipFixture } from './testing.js';

const POLICY = { autoReplace: { after: '3s', spares: ['h4', 'h5'], minHealthyPeriod: '1h' } };

describe('automatic replacement (real engine and SQLite, modelled hosts)', () => {
  let fx: MembershipFixture;
  afterEach(async () => fx.cleanup());

  const replacer = (downSince: Map<string, number>, counts: string[], report?: (s: AutoReplaceState[]) => void, nodesOf?: AutoReplacerOptions['nodesOf']) =>
    new AutoReplacer({
      report,
      nodesOf,
      specs: specSource(fx.engine, fx.store.membership),
      membership: fx.membership,
      ops: fx.engine,
      labelled: (selector) => fx.store.hosts.list().filter((h) => matchesSelector(h.labels, selector)).map((h) => h.name),
      downSince: (h) => downSince.get(h) ?? null,
      events: fx.store.events,
      count: (o) => counts.push(o),
      log: silentLogger(),
    });

  it('replaces the dead init node with the first spare once it has been down `after`; then waits minHealthyPeriod', async () => {
    const marker = join(process.env.TMPDIR ?? '/tmp', `ballast-auto-fence-${process.pid}-${Date.now()}`);
    fx = await membershipFixture({ hosts: { h1: { kind: 'command', argv: [process.execPath, '-e', "require('fs').writeFileSync(process.argv[1], 'off')", marker], timeoutMs: 10_000 } } });
    await fx.create(POLICY);
    const downSince = new Map<string, number>();
    const counts: string[] = [];
    const reported: AutoReplaceState[][] = [];
    const auto = replacer(downSince, counts, (s) => reported.push(s));
    expect((await auto.tick()).get('lab')).toEqual({ kind: 'none', reason: 'every host is up' });
    expect(reported.at(-1)).toEqual([{ cluster: 'lab', decision: 'none', hostsDown: 0, sparesUsable: 2 }]);
    fx.fleet.offline.add('h1');
    downSince.set('h1', Date.now()); // just down: not due for 3 s
    expect((await auto.tick()).get('lab')?.kind).toBe('wait');
    downSince.set('h1', Date.now() - 5000);
    expect((await auto.tick()).get('lab')).toMatchObject({ kind: 'replace', old: 'h1', spare: 'h4' });
    expect(reported.at(-1)).toEqual([{ cluster: 'lab', decision: 'replace', hostsDown: 1, sparesUsable: 2 }]);
    const op = fx.engine.list(5).find((o) => o.kind === 'node.replace');
    expect(op).toBeDefined();
    await fx.engine.idle(op?.id ?? '');
    const done = fx.engine.get(op?.id ?? '');
    expect([done.state, done.createdBy]).toEqual(['succeeded', AUTO_ACTOR]);
    expect(fx.fleet.members.map((m) => m.name)).toEqual(['h2', 'h3', 'h4']);
    // h2 dies next: the policy waits for minHealthyPeriod since the last automatic replacement.
    fx.fleet.offline.add('h2');
    downSince.set('h2', Date.now() - 5000);
    expect((await auto.tick()).get('lab')?.reason).toMatch(/^the last automatic replacement finished \d+(ms|s) ago; the next may start in (59m|1h) \(minHealthyPeriod\)$/);
    expect(counts).toEqual(['started']);
    const events = fx.store.events.list({ limit: 50 }).filter((e) => e.kind === 'autoreplace.decision').map((e) => e.message);
    expect(events[0]).toBe('cluster lab: none: every host is up');
    expect(events.some((m) => /^cluster lab: replace: h1 down for \d+s \(≥ 3s\): replacing it with h4 \(op-[0-9a-f]{12}\)$/.test(m))).toBe(true);
  });

  it('holds when more than maxUnhealthy is down, counting it once, and never starts anything', async () => {
    fx = await membershipFixture();
    await fx.create(POLICY);
    const downSince = new Map([['h1', 0], ['h2', 0]]);
    const counts: string[] = [];
    const metrics = createMetrics({ collectProcess: false });
    const auto = replacer(downSince, counts, (states) => reportAutoReplace(metrics, states));
    const d = (await auto.tick()).get('lab');
    // The current state as gauges: hold in force, 2 hosts down, both spares (h4, h5: enrolled, connected, in no cluster) usable.
    const text = await metrics.registry.metrics();
    expect(text).toContain('ballast_autoreplace_decision{cluster="lab",decision="hold"} 1');
    expect(text).toContain('ballast_autoreplace_decision{cluster="lab",decision="replace"} 0');
    expect(text).toContain('ballast_autoreplace_hosts_down{cluster="lab"} 2');
    expect(text).toContain('ballast_autoreplace_spares_usable{cluster="lab"} 2');
    expect(d).toEqual({ kind: 'hold', reason: '2 of 4 hosts down (50% > maxUnhealthy 40%): a partition or a power event, not dead hosts; nothing is replaced automatically' });
    await auto.tick();
    expect(counts).toEqual(['held']);
    expect(fx.engine.list(5).filter((o) => o.kind === 'node.replace')).toEqual([]);
  });

  it("replaces a host whose agent answers but whose Node has been NotReady for `after` (kubelet dead); an API that does not answer leaves only the agents' word", async () => {
    fx = await membershipFixture();
    await fx.create(POLICY);
    const counts: string[] = [];
    let api: 'down' | 'h2-not-ready' = 'down';
    const nodesOf: AutoReplacerOptions['nodesOf'] = async (spec) => {
      if (api === 'down') throw new Error('failed to list nodes: no answer within 4000 ms');
      return spec.hosts.map((h) => ({ name: h.name, notReadySince: h.name === 'h2' ? Date.now() - 5000 : null }));
    };
    const auto = replacer(new Map(), counts, undefined, nodesOf);
    expect((await auto.tick()).get('lab')).toEqual({ kind: 'none', reason: 'every host is up' });
    api = 'h2-not-ready';
    expect((await auto.tick()).get('lab')).toMatchObject({ kind: 'replace', old: 'h2', spare: 'h4' });
    const op = fx.engine.list(5).find((o) => o.kind === 'node.replace');
    await fx.engine.idle(op?.id ?? '');
    expect(fx.engine.get(op?.id ?? '').state).toBe('succeeded');
    expect(counts).toEqual(['started']);
  });

  it('starts nothing while another operation runs on the cluster (a create: its Nodes are NotReady while they join)', async () => {
    fx = await membershipFixture();
    await fx.create(POLICY);
    const auto = new AutoReplacer({
      specs: specSource(fx.engine, fx.store.membership),
      membership: fx.membership,
      ops: { ...fx.engine, start: fx.engine.start.bind(fx.engine), find: fx.engine.find.bind(fx.engine), list: () => [{ ...fx.engine.list(1)[0]!, kind: 'cluster.create', id: 'op-000000000001', state: 'running' }] },
      downSince: (h) => (h === 'h1' ? 0 : null),
      labelled: () => [],
      events: fx.store.events,
      log: silentLogger(),
    });
    expect((await auto.tick()).get('lab')).toEqual({ kind: 'wait', reason: 'cluster.create op-000000000001 is running on the cluster' });
  });

  it('sparePool: uses only hosts with the label (resolved each tick, by name), never an unlabelled one', async () => {
    const marker = join(process.env.TMPDIR ?? '/tmp', `ballast-pool-fence-${process.pid}-${Date.now()}`);
    fx = await membershipFixture({ hosts: { h1: { kind: 'command', argv: [process.execPath, '-e', "require('fs').writeFileSync(process.argv[1], 'off')", marker], timeoutMs: 10_000 } } });
    await fx.create({ autoReplace: { after: '3s', sparePool: 'pool=spare', minHealthyPeriod: '1h' } });
    // Real host rows in the SQLite store: h4 and w2 (both connected, in no cluster) stay unlabelled.
    for (const name of ['w2', 'h5', 'h4']) fx.store.hosts.create({ id: `id-${name}`, name, certSerial: `serial-${name}`, certNotAfter: Date.now() + 86_400_000, enrolledAt: Date.now() });
    const downSince = new Map([['h1', Date.now() - 5000]]);
    fx.fleet.offline.add('h1');
    const counts: string[] = [];
    const auto = replacer(downSince, counts);
    expect((await auto.tick()).get('lab')).toEqual({ kind: 'wait', reason: 'h1 is due for replacement but the spare pool pool=spare is empty (no enrolled host has the label)' });
    expect(fx.engine.list(5).filter((o) => o.kind === 'node.replace')).toEqual([]);
    // An operator labels h5 and w2 through the API; h4, first of the model's spares by name, has no label.
    for (const name of ['w2', 'h5']) expect((await fx.call('PATCH', `/v1/hosts/${name}/labels`, { set: { pool: 'spare' } })).statusCode).toBe(200);
    expect((await auto.tick()).get('lab')).toMatchObject({ kind: 'replace', old: 'h1', spare: 'h5', reason: expect.stringMatching(/: replacing it with h5 from the spare pool pool=spare$/) });
    const op = fx.engine.list(5).find((o) => o.kind === 'node.replace');
    await fx.engine.idle(op?.id ?? '');
    expect(fx.engine.get(op?.id ?? '').state).toBe('succeeded');
    expect(fx.fleet.members.map((m) => m.name)).toEqual(['h2', 'h3', 'h5']);
    expect(counts).toEqual(['started']);
    const events = fx.store.events.list({ limit: 50 }).filter((e) => e.kind === 'autoreplace.decision').map((e) => e.message);
    expect(events.some((m) => m.includes('the spare pool pool=spare is empty'))).toBe(true);
    expect(events.some((m) => / replacing it with h5 from the spare pool pool=spare \(op-[0-9a-f]{12}\)$/.test(m))).toBe(true);
  });
});

import 'reflect-metadata';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../../shared/src/log.js';
import type { ClusterSpec } from '../cluster/spec.js';
import { OperationEngine } from '../ops/engine.js';
import { openStore, type Store } from '../store/store.js';
import { FakeFleet } from './fakes.js';
import { CLUSTER_CREATE } from './kind.js';
import { hostChain } from './executors/hosts.js';
import { hostRoleVars } from './executors/prepare.js';
import { bootstrapPlan, workerBatches } from './plan.js';
import { CLUSTER_RESET, resetPlan } from './reset.js';
import { bootstrapRegistry, checkedSpec, fleetBootstrapDeps, LAB_CLUSTER_DOC, LAB_CONTROL_PLANES } from './testing.js';

/** 3 stacked control planes, 2 workers, one worker per batch; `overrides` replace any field. */
function spec(overrides: Record<string, unknown> = {}): ClusterSpec {
  return checkedSpec({
    ...LAB_CLUSTER_DOC,
    hosts: [...LAB_CONTROL_PLANES, { name: 'w1', address: '198.18.0.14', roles: ['worker'] }, { name: 'w2', address: '198.18.0.15', roles: ['worker'] }],
    rollout: { workerBatch: 1 },
    ...overrides,
  });
}

describe('bootstrapPlan', () => {
  it('orders phases safely: preflight, pki, hosts, etcd one member at a time with gates, VIP, control plane, workers', () => {
    expect(bootstrapPlan(spec()).map((s) => s.key)).toEqual([
      'validate', 'preflight', 'pki', 'hosts',
      'etcd/start/h1', 'etcd/health/1', 'etcd/join/h2', 'etcd/health/2', 'etcd/join/h3', 'etcd/health/3',
      'vip/bootstrap', 'kube/init/h1', 'kube/readyz/1', 'vip/control-plane', 'kube/cni',
      'kube/join/h2', 'kube/readyz/2', 'kube/join/h3', 'kube/readyz/3',
      'workers/1/join', 'workers/1/ready', 'workers/2/join', 'workers/2/ready', 'record',
    ]);
  });

  it('batches workers by count or percentage, and gives etcd-only hosts neither containerd nor kubelet', () => {
    const s = spec({ rollout: { workerBatch: '50%' } });
    expect(workerBatches(s)).toEqual([['w1'], ['w2']]);
    expect(workerBatches(spec({ rollout: { workerBatch: 5 } }))).toEqual([['w1', 'w2']]);
    const external = spec({
      hosts: [
        { name: 'e1', address: '198.18.0.21', roles: ['etcd'] },
        { name: 'c1', address: '198.18.0.11', roles: ['control-plane'] },
      ],
    });
    expect(bootstrapPlan(external).find((p) => p.key === 'hosts')?.args).toEqual({ hosts: ['e1', 'c1'] });
    const chain = (host: string) => hostChain(external, null, host).map((l) => l.role);
    expect(chain('e1')).toEqual(['os-prep']); // + etcd once the PKI is there
    expect(chain('c1')).toEqual(['os-prep', 'containerd', 'kube-node', 'images']);
  });

  it('gives the images role the cluster version, and the control-plane images to control planes only', () => {
    const s = spec();
    expect(hostRoleVars(s, 'images', 'h1')).toEqual({ kubernetesVersion: s.versions.kubernetes, controlPlane: true, kubeProxy: true, coreDns: true });
    expect(hostRoleVars(s, 'images', 'w1')).toEqual({ kubernetesVersion: s.versions.kubernetes, controlPlane: false, kubeProxy: true, coreDns: true });
    const noAddons = spec({ addons: { kubeProxy: false, coreDns: false } });
    expect(hostRoleVars(noAddons, 'images', 'w1')).toMatchObject({ kubeProxy: false, coreDns: false });
  });
});

interface Fixture {
  dir: string;
  store: Store;
  fleet: FakeFleet;
  engine: OperationEngine;
  /** A new engine over the same file and the same hosts: a restarted controller. */
  restart(): OperationEngine;
  cleanup(): Promise<void>;
}

async function fixture(): Promise<Fixture> {
  const dir = await mkdtemp(join(tmpdir(), 'ballast-bootstrap-'));
  const fleet = new FakeFleet();
  const stores: Store[] = [];
  const engines: OperationEngine[] = [];
  const build = () => {
    const store = openStore({ path: join(dir, 'ballast.db') });
    const log = silentLogger();
    const deps = fleetBootstrapDeps({ store, fleet, log });
    const engine = new OperationEngine({ repo: store.operations, events: store.events, log, registry: bootstrapRegistry(deps), settleTimeoutMs: 200 });
    stores.push(store);
    engines.push(engine);
    return { store, engine };
  };
  const first = build();
  return {
    dir,
    fleet,
    ...first,
    restart: () => build().engine,
    cleanup: async () => {
      for (const e of engines) await e.close();
      for (const s of stores) s.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

describe('cluster.create over the operations engine (real SQLite, real PKI, modelled hosts)', () => {
  let fx: Fixture;
  afterEach(async () => fx.cleanup());

  const start = (engine: OperationEngine, check = false) => engine.start(CLUSTER_CREATE, { spec: spec() }, { actor: 'alice', cluster: 'lab', check });

  it('creates the cluster in order: 3 voters, each join learner → start → promote through the first member; a second create changes nothing', async () => {
    fx = await fixture();
    const doc = await start(fx.engine);
    await fx.engine.idle(doc.id);
    const done = fx.engine.get(doc.id);
    expect(done.error).toBeNull();
    expect(done.state).toBe('succeeded');
    expect(fx.fleet.members.map((m) => `${m.name}:${m.learner ? 'learner' : 'voter'}`)).toEqual(['h1:voter', 'h2:voter', 'h3:voter']);
    const etcdOrder = fx.fleet.runs.filter((r) => r.role.startsWith('etcd')).map((r) => `${r.role}${r.action === undefined ? '' : `:${r.action}`}@${r.host}${r.member === undefined ? '' : `(${r.member})`}`);
    expect(etcdOrder).toEqual([
      'etcd:install@h1', 'etcd:install@h2', 'etcd:install@h3',
      'etcd@h1',
      'etcd-member:add@h1(h2)', 'etcd@h2', 'etcd-member:promote@h1(h2)',
      'etcd-member:add@h1(h3)', 'etcd@h3', 'etcd-member:promote@h1(h3)',
    ]);
    expect(fx.fleet.changes('kube-control-plane')).toEqual(['h1', 'h2', 'h3']);
    expect(fx.fleet.runs.filter((r) => r.role === 'kube-control-plane').map((r) => `${r.host}:${r.action}`)).toEqual(['h1:init', 'h2:join', 'h3:join']);
    expect(fx.fleet.changes('kube-worker')).toEqual(['w1', 'w2']);
    expect(done.steps.at(-1)?.message).toBe('cluster lab: 3 etcd members, 3 control planes, 2 workers, VIP 198.18.0.250');
    // A cluster never created: no API to probe through the VIP (the probe would wait out 2 s), health none.
    expect(done.steps.find((s) => s.key === 'vip/bootstrap')?.message).toMatch(/^VIP 198\.18\.0\.250 \(bootstrap\) on h1/);
    expect(fx.fleet.readyzWithoutApi).toBe(0);

    const runsBefore = fx.fleet.runs.length;
    const again = await start(fx.engine);
    await fx.engine.idle(again.id);
    expect(fx.engine.get(again.id).state).toBe('succeeded');
    expect(fx.fleet.runs.slice(runsBefore).filter((r) => r.changed > 0)).toEqual([]);
    expect(fx.engine.get(again.id).steps.filter((s) => s.changed).map((s) => s.key)).toEqual([]);
    // Created before: the API answers through the VIP, so the bootstrap step keeps the health check.
    expect(fx.engine.get(again.id).steps.find((s) => s.key === 'vip/bootstrap')?.message).toContain('bootstrap: the API already answers, health-checked config');
  });

  it('resumes after a controller crash mid-join and reaches the same end state: no duplicate member, no change repeated', async () => {
    fx = await fixture();
    fx.fleet.hang.add('etcd/h3'); // the controller dies while etcd starts on h3
    const doc = await start(fx.engine);
    const deadline = Date.now() + 10_000;
    while (!fx.fleet.runs.some((r) => r.role === 'etcd' && r.host === 'h3') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    expect(fx.fleet.members.map((m) => `${m.name}:${m.learner}`)).toEqual(['h1:false', 'h2:false', 'h3:true']);
    const restarted = fx.restart(); // the first engine is abandoned mid-step, as after SIGKILL
    expect(restarted.recover()).toEqual([doc.id]);
    await restarted.idle(doc.id);
    const done = restarted.get(doc.id);
    expect(done.state).toBe('succeeded');
    expect(done.steps.find((s) => s.key === 'etcd/join/h3')?.attempts).toBe(2);
    expect(fx.fleet.members.map((m) => `${m.name}:${m.learner ? 'learner' : 'voter'}`)).toEqual(['h1:voter', 'h2:voter', 'h3:voter']);
    expect(fx.fleet.changes('etcd-member', 'add')).toEqual(['h1:h2', 'h1:h3']);
    expect(fx.fleet.changes('kube-control-plane')).toEqual(['h1', 'h2', 'h3']);
  });

  it('rolls a failed join back (member removed, etcd wiped) and pauses; resume joins it cleanly', async () => {
    fx = await fixture();
    fx.fleet.failures.set('etcd/h2', 1);
    const doc = await start(fx.engine);
    await fx.engine.idle(doc.id);
    const paused = fx.engine.get(doc.id);
    expect(paused.state).toBe('paused');
    expect(paused.error).toMatchObject({ stepKey: 'etcd/join/h2', host: 'h2', code: 'BALLAST_ERR_COMMAND_FAILED' });
    expect(paused.error?.message).toMatch(/rolled back: member h2 removed; etcd stopped and its data removed on h2/);
    expect(fx.fleet.members.map((m) => m.name)).toEqual(['h1']);
    expect(fx.fleet.runs.filter((r) => r.role === 'etcd-wipe').map((r) => r.host)).toEqual(['h2']);
    fx.engine.resume(doc.id, 'alice');
    await fx.engine.idle(doc.id);
    expect(fx.engine.get(doc.id).state).toBe('succeeded');
    expect(fx.fleet.members.map((m) => `${m.name}:${m.learner ? 'learner' : 'voter'}`)).toEqual(['h1:voter', 'h2:voter', 'h3:voter']);
  });

  it('check mode runs every role in check mode, stores no PKI and changes nothing', async () => {
    fx = await fixture();
    const doc = await start(fx.engine, true);
    await fx.engine.idle(doc.id);
    const done = fx.engine.get(doc.id);
    expect(done.state).toBe('succeeded');
    expect(fx.fleet.runs.length).toBeGreaterThan(10);
    expect(fx.fleet.runs.every((r) => r.check)).toBe(true);
    expect(fx.fleet.members).toEqual([]);
    expect(fx.store.clusterPki.list('lab')).toEqual([]);
    expect(done.steps.find((s) => s.key === 'etcd/health/3')).toMatchObject({ state: 'skipped' });
  });
});

describe('cluster.reset', () => {
  let after: Fixture | undefined;
  afterEach(async () => {
    await after?.cleanup();
    after = undefined;
  });

  it('plans member removals through the remaining members before wiping; a full reset just wipes', () => {
    expect(resetPlan({ spec: spec(), hosts: ['h3', 'w2'] }).map((s) => `${s.key}:${JSON.stringify(s.args)}`)).toEqual([
      'etcd/remove/h3:{"member":"h3","through":["h1","h2"]}',
      'reset:{"hosts":["h3","w2"]}',
    ]);
    expect(resetPlan({ spec: spec(), hosts: ['h1', 'h2', 'h3', 'w1', 'w2'] }).map((s) => s.key)).toEqual(['reset']);
    expect(() => resetPlan({ spec: spec(), hosts: ['nope'] })).toThrow(/not hosts of cluster lab: nope/);
  });

  it('removes h3 from etcd through h1, then resets h3 and w2; a second reset changes nothing', async () => {
    const fx = await fixture();
    after = fx;
    const created = await fx.engine.start(CLUSTER_CREATE, { spec: spec() }, { actor: 'alice', cluster: 'lab' });
    await fx.engine.idle(created.id);
    const reset = await fx.engine.start(CLUSTER_RESET, { spec: spec(), hosts: ['h3', 'w2'] }, { actor: 'alice', cluster: 'lab' });
    await fx.engine.idle(reset.id);
    expect(fx.engine.get(reset.id).state).toBe('succeeded');
    expect(fx.fleet.members.map((m) => m.name)).toEqual(['h1', 'h2']);
    expect(fx.fleet.changes('etcd-member', 'remove')).toEqual(['h1:h3']);
    expect(fx.fleet.changes('reset')).toEqual(['h3', 'w2']);
    const again = await fx.engine.start(CLUSTER_RESET, { spec: spec(), hosts: ['h3', 'w2'] }, { actor: 'alice', cluster: 'lab' });
    await fx.engine.idle(again.id);
    expect(fx.engine.get(again.id).steps.filter((s) => s.changed)).toEqual([]);
  });
});

import { afterEach, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import type { OperationDocument } from '../../../shared/src/ops-api.js';
import { type MembershipFixture, membershipFixture } from './testing.js';

const voters = (fx: MembershipFixture) => fx.fleet.members.map((m) => `${m.name}:${m.learner ? 'learner' : 'voter'}`);

describe('membership gates: quorum guard, lock, drain deadline, add and remove (real engine, SQLite, routes)', () => {
  let fx: MembershipFixture;
  afterEach(async () => fx.cleanup());

  const started = async (url: string, body: unknown) => {
    const r = await fx.call('POST', url, body);
    if (r.statusCode !== 200) throw new Error(`${url} answered ${r.statusCode}: ${JSON.stringify(r.json())}`);
    const doc = r.json<OperationDocument>();
    await fx.engine.idle(doc.id);
    return fx.engine.get(doc.id);
  };

  it('refuses replacing a second member of 3 while one is down, with the numbers; nothing starts, no lock', async () => {
    fx = await membershipFixture();
    await fx.create();
    fx.fleet.offline.add('h3');
    const runs = fx.fleet.runs.length;
    const r = await fx.call('POST', '/v1/nodes/replace', { old: 'h2', new: 'h4' });
    expect(r.statusCode).toBe(409);
    const body = r.json<{ code: string; message: string }>();
    expect(body.code).toBe('BALLAST_ERR_QUORUM_GUARD');
    expect(body.message).toBe(
      'refused by the quorum guard: quorum would be lost after stopping etcd on h2: 3 voters, 1 healthy, 2 needed; unhealthy now: h3 (https://198.18.0.13:2379 does not answer (host down))',
    );
    expect(fx.engine.list(10).filter((o) => o.kind.startsWith('node.'))).toEqual([]);
    expect(fx.fleet.runs.length).toBe(runs);
    expect(fx.store.membership.lock('lab')).toBeNull();
    // --check is refused the same way: the plan itself is unsafe.
    expect((await fx.call('POST', '/v1/nodes/replace', { old: 'h2', new: 'h4', check: true })).statusCode).toBe(409);
    // The dead one itself can be replaced (with its fence confirmed by the operator).
    const done = await started('/v1/nodes/replace', { old: 'h3', new: 'h4', confirmPoweredOff: true });
    expect(done.state).toBe('succeeded');
    expect(done.steps.find((s) => s.key === 'old/fence')?.message).toBe('h3 confirmed powered off by the operator (no fence agent configured)');
    expect(voters(fx)).toEqual(['h1:voter', 'h2:voter', 'h4:voter']);
  });

  it('refuses while etcd has a learner (another change unfinished)', async () => {
    fx = await membershipFixture();
    await fx.create();
    fx.fleet.members.push({ id: '999', name: '', peerUrl: 'https://198.18.0.99:2380', learner: true, started: false });
    const r = await fx.call('POST', '/v1/nodes/add', { host: 'h4', cluster: 'lab', roles: ['control-plane', 'etcd'] });
    expect([r.statusCode, r.json<{ code: string }>().code]).toEqual([409, 'BALLAST_ERR_QUORUM_GUARD']);
    expect(r.json<{ message: string }>().message).toMatch(/etcd has a learner \(999\)/);
  });

  it('a drain blocked by a PodDisruptionBudget pauses with the pod and the budget named; resume after the budget frees finishes', async () => {
    fx = await membershipFixture();
    await fx.create();
    fx.kube.addPod({ namespace: 'shop', name: 'pay-0', node: 'w1', app: 'pay' });
    fx.kube.budgets.set('pay', 1);
    const paused = await started('/v1/nodes/remove', { host: 'w1' });
    expect(paused.state).toBe('paused');
    expect(paused.error).toMatchObject({ stepKey: 'old/drain', host: 'w1', code: 'BALLAST_ERR_DRAIN_TIMEOUT' });
    expect(paused.error?.message).toMatch(/^failed to drain node w1 within 0 s: 1 pods left: shop\/pay-0 \(429 TooManyRequests: Cannot evict pod as it would violate the pod's disruption budget \(pay: 1 available, min 1\)\)/);
    expect(fx.kube.cordoned.has('w1')).toBe(true);
    expect(fx.fleet.changes('reset')).toEqual([]); // nothing after the drain ran
    // Another change is refused while this one holds the lock (paused).
    const busy = await fx.call('POST', '/v1/nodes/add', { host: 'w2', cluster: 'lab', roles: ['worker'] });
    expect([busy.statusCode, busy.json<{ code: string }>().code]).toEqual([409, 'BALLAST_ERR_MEMBERSHIP_LOCKED']);
    fx.kube.budgets.set('pay', 0);
    fx.engine.resume(paused.id, 'alice');
    await fx.engine.idle(paused.id);
    const done = fx.engine.get(paused.id);
    expect(done.state).toBe('succeeded');
    expect(done.steps.map((s) => s.key)).toEqual(['lock', 'cluster-check', 'old/drain', 'old/reset', 'old/node-delete', 'finish']);
    expect(fx.fleet.revoked.has('w1')).toBe(false); // reset clean: it may be reused
    expect(fx.fleet.nodes.has('w1')).toBe(false);
  });

  it('an aborted change keeps the lock until node unlock (refused while the operation runs); viewers cannot unlock', async () => {
    fx = await membershipFixture();
    await fx.create();
    fx.fleet.offline.add('w1');
    const refused = await fx.call('POST', '/v1/nodes/remove', { host: 'w1' });
    expect([refused.statusCode, refused.json<{ code: string }>().code]).toEqual([409, 'BALLAST_ERR_HOST_UNREACHABLE']);
    const paused = await started('/v1/nodes/remove', { host: 'w1', forceOffline: true }); // no fence agent, no confirmation
    expect(paused.error?.code).toBe('BALLAST_ERR_FENCE_FAILED');
    const whilePaused = await fx.call('DELETE', '/v1/clusters/lab/membership-lock');
    expect(whilePaused.json<{ code: string }>().code).toBe('BALLAST_ERR_MEMBERSHIP_LOCKED');
    await fx.engine.abort(paused.id, 'alice');
    expect((await fx.call('GET', '/v1/clusters/lab/membership-lock')).json<{ lock: { operationId: string } }>().lock.operationId).toBe(paused.id);
    const viewer = fx.store.operators.create({ name: 'vic', role: 'viewer' });
    const denied = await fx.app.inject({ method: 'DELETE', url: '/v1/clusters/lab/membership-lock', headers: { authorization: `Bearer ${viewer.token}` } });
    expect(denied.statusCode).toBe(403);
    const unlocked = await fx.call('DELETE', '/v1/clusters/lab/membership-lock');
    expect(unlocked.json()).toEqual({ cluster: 'lab', lock: null, released: true });
    const confirmed = await started('/v1/nodes/remove', { host: 'w1', forceOffline: true, confirmPoweredOff: true });
    expect(confirmed.state).toBe('succeeded');
    expect(confirmed.steps.map((s) => s.key)).toEqual(['lock', 'cluster-check', 'old/fence', 'old/out-of-service', 'old/node-delete', 'old/revoke', 'finish']);
    expect(fx.fleet.revoked.has('w1')).toBe(true);
  });

  it('node add: a worker joins; an etcd + control-plane host joins as learner → voter (3 → 4 voters: the guard allows it with all healthy)', async () => {
    fx = await membershipFixture();
    await fx.create();
    const worker = await started('/v1/nodes/add', { host: 'w2', cluster: 'lab', roles: ['worker'] });
    expect(worker.state).toBe('succeeded');
    expect(worker.steps.map((s) => s.key)).toEqual(['lock', 'preflight/w2', 'cluster-check', 'pki', 'new/os-prep', 'new/containerd', 'new/kube-node', 'new/images', 'new/kube-join', 'verify/node', 'finish']);
    expect(fx.fleet.nodes.has('w2')).toBe(true);
    const cp = await started('/v1/nodes/add', { host: 'h4', cluster: 'lab', roles: ['control-plane', 'etcd'] });
    expect(cp.state).toBe('succeeded');
    expect(voters(fx)).toEqual(['h1:voter', 'h2:voter', 'h3:voter', 'h4:voter']);
    expect(((fx.store.membership.spec('lab')?.spec ?? { hosts: [] }) as { hosts: { name: string }[] }).hosts.map((h) => h.name)).toEqual(['h1', 'h2', 'h3', 'w1', 'w2', 'h4']);
  });

  it("node add of a control plane + etcd: kubeadm's etcd endpoints name the 4 members before NEW's kubeadm join reads them (its --etcd-servers); removing it sets them back", async () => {
    // Found on real Kubernetes (test/lab/scale.test.ts): without the step, the added control plane's
    // API server got the 3 old members only — never its own member.
    fx = await membershipFixture();
    await fx.create();
    const config = (n: number) => `apiVersion: kubeadm.k8s.io/v1beta4\nkind: ClusterConfiguration\netcd:\n  external:\n    endpoints:\n${['11', '12', '13', '14'].slice(0, n).map((a) => `    - https://198.18.0.${a}:2379\n`).join('')}`;
    const endpoints = () => (parse(fx.kube.kubeadmConfig?.data.ClusterConfiguration ?? '') as { etcd: { external: { endpoints: string[] } } }).etcd.external.endpoints;
    fx.kube.kubeadmConfig = { data: { ClusterConfiguration: config(3) }, resourceVersion: '1' };
    const added = await started('/v1/nodes/add', { host: 'h4', cluster: 'lab', roles: ['control-plane', 'etcd'] });
    expect(added.state).toBe('succeeded');
    const keys = added.steps.map((s) => s.key);
    expect(keys.slice(keys.indexOf('new/etcd-join'))).toEqual(['new/etcd-join', 'new/etcd-health', 'kubeadm-etcd', 'new/kube-join', 'new/readyz', 'new/vip', 'verify/node', 'finish']);
    expect(endpoints()).toEqual(['https://198.18.0.11:2379', 'https://198.18.0.12:2379', 'https://198.18.0.13:2379', 'https://198.18.0.14:2379']);
    const removed = await started('/v1/nodes/remove', { host: 'h4' });
    expect(removed.state).toBe('succeeded');
    expect(removed.steps.map((s) => s.key)).not.toContain('kubeadm-etcd'); // old/node-delete does it
    expect(endpoints()).toEqual(['https://198.18.0.11:2379', 'https://198.18.0.12:2379', 'https://198.18.0.13:2379']);
  });

  it('validates requests with their schema and refuses unknown or wrong hosts before anything starts', async () => {
    fx = await membershipFixture();
    await fx.create();
    const bad = await fx.call('POST', '/v1/nodes/add', { host: 'h4', cluster: 'lab', roles: ['chef'] });
    expect([bad.statusCode, bad.json<{ code: string }>().code]).toEqual([400, 'BALLAST_ERR_VALIDATION']);
    const self = await fx.call('POST', '/v1/nodes/replace', { old: 'h1', new: 'h1' });
    expect(self.json<{ message: string }>().message).toMatch(/with itself/);
    const member = await fx.call('POST', '/v1/nodes/replace', { old: 'h1', new: 'h2' });
    expect(member.json<{ message: string }>().message).toBe('h2 is already a host of cluster lab; nothing was started');
    const unknown = await fx.call('POST', '/v1/nodes/replace', { old: 'h1', new: 'ghost' });
    expect([unknown.statusCode, unknown.json<{ message: string }>().message]).toEqual([404, 'host "ghost" is not enrolled (ballastctl token create, then ballast-agent join on it); nothing was started']);
    fx.fleet.offline.add('h4');
    const down = await fx.call('POST', '/v1/nodes/replace', { old: 'h1', new: 'h4' });
    expect(down.json<{ code: string }>().code).toBe('BALLAST_ERR_HOST_NOT_CONNECTED');
    const anon = await fx.app.inject({ method: 'POST', url: '/v1/nodes/replace', payload: { old: 'h1', new: 'h4' } });
    expect(anon.statusCode).toBe(401);
    expect(fx.engine.list(10).filter((o) => o.kind.startsWith('node.'))).toEqual([]);
  });
});

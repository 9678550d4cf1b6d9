import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { OperationDocument } from '../../../shared/src/ops-api.js';
import { NODE_REPLACE } from './types.js';
import { labSpec, type MembershipFixture, membershipFixture } from './testing.js';

const voters = (fx: MembershipFixture) => fx.fleet.members.map((m) => `${m.name}:${m.learner ? 'learner' : m.started ? 'voter' : 'stopped'}`);
const keys = (doc: OperationDocument) => doc.steps.map((s) => s.key);

/** A fence command that is a real process: it records the host it was asked to power off. */
const fenceTo = (marker: string) => ({ kind: 'command' as const, argv: [process.execPath, '-e', "require('fs').writeFileSync(process.argv[1], process.env.BALLAST_FENCE_HOST)", marker], timeoutMs: 10_000 });

describe('node replace (real engine, SQLite, PKI and HTTP routes; modelled hosts and Kubernetes API)', () => {
  let fx: MembershipFixture;
  afterEach(async () => fx.cleanup());

  const replace = async (body: Record<string, unknown>) => {
    const r = await fx.call('POST', '/v1/nodes/replace', body);
    if (r.statusCode !== 200) throw new Error(`replace answered ${r.statusCode}: ${JSON.stringify(r.json())}`);
    const doc = r.json<OperationDocument>();
    await fx.engine.idle(doc.id);
    return fx.engine.get(doc.id);
  };

  it('OLD online: drains it (PDB kept), resets it, removes its member by ID through a peer, joins NEW as learner → voter, records the spec', async () => {
    fx = await membershipFixture();
    await fx.create();
    fx.kube.addPod({ namespace: 'shop', name: 'web-a', node: 'h2', app: 'web' });
    fx.kube.addPod({ namespace: 'shop', name: 'web-b', node: 'w1', app: 'web' });
    fx.kube.addPod({ namespace: 'kube-flannel', name: 'flannel-h2', node: 'h2', app: 'flannel', daemonSet: true });
    fx.kube.budgets.set('web', 1); // minAvailable 1 of 2: one eviction at a time is allowed
    const runsBefore = fx.fleet.runs.length;
    const done = await replace({ old: 'h2', new: 'h4' });
    expect(done.error).toBeNull();
    expect(done.state).toBe('succeeded');
    expect(keys(done)).toEqual([
      'lock', 'preflight/h4', 'cluster-check', 'pki', 'new/os-prep', 'new/containerd', 'new/kube-node', 'new/images',
      'old/drain', 'old/reset', 'old/etcd-remove', 'old/node-delete', 'old/revoke',
      'new/etcd-join', 'new/etcd-health', 'new/kube-join', 'new/readyz', 'new/vip', 'verify/node', 'finish',
    ]);
    expect(voters(fx)).toEqual(['h1:voter', 'h3:voter', 'h4:voter']);
    // Drained through evictions: the DaemonSet pod stays, the web pod moved; the budget held throughout.
    expect(fx.kube.evictions).toEqual(['shop/web-a']);
    expect(fx.kube.pods.filter((p) => p.app === 'web').map((p) => p.node).sort()).toEqual(['h1', 'w1']);
    const later = fx.fleet.runs.slice(runsBefore);
    const order = later.filter((r) => !r.check).map((r) => `${r.role}${r.action === undefined ? '' : `:${r.action}`}@${r.host}${r.member === undefined ? '' : `(${r.member})`}`);
    expect(order.filter((o) => /^(reset|etcd-member|etcd@|kube-control-plane|vip)/.test(o))).toEqual([
      'reset@h2', 'etcd-member:remove@h1(h2)', 'etcd-member:add@h1(h4)', 'etcd@h4', 'etcd-member:promote@h1(h4)', 'kube-control-plane:join@h4', 'vip@h4',
    ]);
    expect(fx.fleet.nodes.has('h2')).toBe(false);
    expect(fx.fleet.revoked.has('h2')).toBe(true);
    expect(fx.store.membership.lock('lab')).toBeNull();
    expect(((fx.store.membership.spec('lab')?.spec ?? { hosts: [] }) as { hosts: { name: string }[] }).hosts.map((h) => h.name)).toEqual(['h1', 'h3', 'w1', 'h4']);
    // cluster reset and status read the new spec: h4 is a host of the cluster, h2 is not.
    const reset = await fx.call('POST', '/v1/clusters/lab/reset', { check: true });
    const resetDoc = reset.json<OperationDocument>();
    await fx.engine.idle(resetDoc.id);
    expect(fx.engine.get(resetDoc.id).steps.find((s) => s.kind === 'host-reset')?.title).toBe('Reset 4 hosts');
    expect(JSON.stringify(fx.engine.find(resetDoc.id).input)).toMatch(/"hosts":\["h1","h3","w1","h4"\]/);
    // A second replace of h2 finds it in no cluster.
    const again = await fx.call('POST', '/v1/nodes/replace', { old: 'h2', new: 'h5' });
    expect([again.statusCode, again.json<{ code: string }>().code]).toEqual([404, 'BALLAST_ERR_NOT_FOUND']);
    expect(fx.store.audit.list(10).map((a) => `${a.action}:${a.outcome}`)).toContain('node.replace:ok');
  });

  it('OLD offline and the init node: fenced first (a real fence command), tainted out-of-service, never contacted, removed through h2; no inventory edit', async () => {
    const marker = join(process.env.TMPDIR ?? '/tmp', `ballast-fence-${process.pid}-${Date.now()}`);
    fx = await membershipFixture({ hosts: { h1: fenceTo(marker) } });
    await fx.create();
    fx.kube.addPod({ namespace: 'shop', name: 'db-0', node: 'h1', app: 'db' });
    fx.fleet.offline.add('h1');
    const runsBefore = fx.fleet.runs.length;
    const done = await replace({ old: 'h1', new: 'h4' });
    expect(done.error).toBeNull();
    expect(keys(done).filter((k) => k.startsWith('old/'))).toEqual(['old/fence', 'old/out-of-service', 'old/etcd-remove', 'old/node-delete', 'old/revoke']);
    expect(readFileSync(marker, 'utf8')).toBe('h1');
    expect(done.steps.find((s) => s.key === 'old/fence')?.message).toMatch(/^h1 fenced by .*node/);
    expect(done.steps.find((s) => s.key === 'old/out-of-service')?.message).toBe('h1 tainted node.kubernetes.io/out-of-service=nodeshutdown:NoExecute');
    expect(fx.fleet.runs.slice(runsBefore).filter((r) => r.host === 'h1')).toEqual([]);
    expect(fx.fleet.changes('etcd-member', 'remove')).toEqual(['h2:h1']);
    expect(voters(fx)).toEqual(['h2:voter', 'h3:voter', 'h4:voter']);
    expect(fx.fleet.nodes.has('h1')).toBe(false);
    expect(fx.fleet.revoked.has('h1')).toBe(true);
    // The reason the hub turns into BALLAST_ERR_HOST_TAKEN_OUT, on which a returning agent stands down (test/integration/taken-out.test.ts).
    expect(fx.fleet.revokeReasons.get('h1')).toBe(`taken out of its cluster by ${done.id} (node.replace)`);
    expect(fx.fleet.changes('kube-control-plane').at(-1)).toBe('h4'); // NEW joins, never inits
  });

  it('an unreachable OLD with no fence agent pauses at the fence step with the reason; nothing was removed', async () => {
    fx = await membershipFixture();
    await fx.create();
    fx.fleet.offline.add('h3');
    const done = await replace({ old: 'h3', new: 'h4' });
    expect(done.state).toBe('paused');
    expect(done.error).toMatchObject({ stepKey: 'old/fence', code: 'BALLAST_ERR_FENCE_FAILED' });
    expect(done.error?.message).toMatch(/no fence agent is configured for it .* --confirm-powered-off/);
    expect(voters(fx)).toEqual(['h1:voter', 'h2:voter', 'h3:voter']);
    expect(fx.kube.taints.size).toBe(0);
    expect(fx.store.membership.lock('lab')?.operationId).toBe(done.id); // kept while paused
  });

  it('an unreachable OLD with no fence agent whose agent self-fences: the fence step waits out its deadline, then the replacement completes', async () => {
    fx = await membershipFixture();
    await fx.create();
    fx.fleet.offline.add('h3');
    const t = { now: 5_000_000 };
    fx.fleet.lastHeartbeat.set('h3', t.now - 30_000);
    fx.fleet.selfFence.set('h3', { deadlineMs: 60_000, actionBoundMs: 120_000, intervalMs: 2000 });
    // The controller's clock moves only while the step sleeps: the test measures the wait without taking it.
    fx.membership.selfFenceWait = {
      heartbeatIntervalMs: 1000,
      probeIntervalMs: 5000,
      now: () => t.now,
      sleep: async (ms) => {
        t.now += ms;
        await new Promise((r) => setImmediate(r));
      },
    };
    const started = t.now;
    const done = await replace({ old: 'h3', new: 'h4' });
    expect(done.state).toBe('succeeded');
    const fence = done.steps.find((s) => s.key === 'old/fence');
    expect(fence?.message).toMatch(/^h3 counts as fenced \(no fence agent; it fences itself\).*its enrolment revoked now/);
    // Revoked at the fence step (a returning self-fenced agent is refused and stands down), as a replaced host.
    expect(fx.fleet.revokeReasons.get('h3')).toBe(`taken out of its cluster by ${done.id} (node.replace)`);
    // Counted from the wait's start (later than the last heartbeat): deadline 60 s + margin 138.6 s.
    expect(t.now - started).toBeGreaterThanOrEqual(60_000 + 120_000 + 2000 + 3000 + 1000 + 5000 + 600 + 2000);
    expect(voters(fx)).toEqual(['h1:voter', 'h2:voter', 'h4:voter']);
  });

  it('--check shows the full per-host plan and changes nothing (no lock, no member, no cordon, no fence, no spec)', async () => {
    const marker = join(process.env.TMPDIR ?? '/tmp', `ballast-fence-check-${process.pid}-${Date.now()}`);
    fx = await membershipFixture({ hosts: { h1: fenceTo(marker) } });
    await fx.create();
    fx.fleet.offline.add('h1');
    const membersBefore = JSON.stringify(fx.fleet.members);
    const runsBefore = fx.fleet.runs.length;
    const pkiBefore = fx.store.clusterPki.list('lab').length;
    const done = await replace({ old: 'h1', new: 'h4', check: true });
    expect(done.state).toBe('succeeded');
    expect(done.check).toBe(true);
    expect(done.steps.map((s) => `${s.key}@${s.host ?? '-'}`)).toContain('old/fence@h1');
    expect(done.steps.find((s) => s.key === 'old/fence')?.message).toMatch(/would fence h1 \(command .*\) and wait until it is confirmed off/);
    expect(done.steps.find((s) => s.key === 'new/etcd-join')?.host).toBe('h4');
    expect(fx.fleet.runs.slice(runsBefore).every((r) => r.check)).toBe(true);
    expect(JSON.stringify(fx.fleet.members)).toBe(membersBefore);
    expect(existsSync(marker)).toBe(false);
    expect(fx.kube.taints.size + fx.kube.cordoned.size).toBe(0);
    expect(fx.fleet.nodes.has('h1')).toBe(true);
    expect(fx.fleet.revoked.size).toBe(0);
    expect(fx.store.membership.lock('lab')).toBeNull();
    expect(fx.store.membership.spec('lab')).toBeNull();
    expect(fx.store.clusterPki.list('lab').length).toBe(pkiBefore);
  });

  it('a controller killed mid-join resumes from the store: lock still held, same end state, no change done twice', async () => {
    fx = await membershipFixture();
    await fx.create();
    fx.fleet.hang.add('etcd/h4'); // the controller dies while etcd starts on NEW (a learner already added)
    const r = await fx.call('POST', '/v1/nodes/replace', { old: 'h2', new: 'h4' });
    const id = r.json<OperationDocument>().id;
    const deadline = Date.now() + 10_000;
    while (fx.engine.get(id).current?.key !== 'new/etcd-join' || !fx.fleet.runs.some((x) => x.role === 'etcd' && x.host === 'h4')) {
      if (Date.now() > deadline) throw new Error(`never reached the join: ${JSON.stringify(fx.engine.get(id).current)}`);
      await new Promise((res) => setTimeout(res, 5));
    }
    expect(voters(fx)).toContain('h4:learner');
    const next = await fx.restart(); // the first engine is abandoned mid-step, as after SIGKILL
    expect(next.store.membership.lock('lab')).toMatchObject({ operationId: id, kind: NODE_REPLACE, detail: 'replace h2 with h4' });
    const refused = await next.call('POST', '/v1/nodes/add', { host: 'h5', cluster: 'lab', roles: ['worker'] });
    expect(refused.json<{ code: string }>().code).toBe('BALLAST_ERR_MEMBERSHIP_LOCKED');
    expect(next.engine.recover()).toEqual([id]);
    await next.engine.idle(id);
    const done = next.engine.get(id);
    expect(done.state).toBe('succeeded');
    expect(done.steps.find((s) => s.key === 'new/etcd-join')?.attempts).toBe(2);
    expect(voters(fx)).toEqual(['h1:voter', 'h3:voter', 'h4:voter']);
    expect(fx.fleet.changes('etcd-member', 'add').filter((c) => c.endsWith(':h4'))).toHaveLength(1);
    expect(fx.fleet.changes('etcd-member', 'remove')).toEqual(['h1:h2']);
    expect(fx.fleet.changes('reset')).toEqual(['h2']);
    expect(next.store.membership.lock('lab')).toBeNull();
    expect(labSpec().hosts.map((h) => h.name)).toEqual(['h1', 'h2', 'h3', 'w1']); // the inventory was never edited
  });
});

/**
 * The node-replacement Kubernetes calls (controller/src/kube/node-ops.ts) and the drain built on
 * them (controller/src/membership/drain.ts) over real mTLS HTTP against the fake kube-apiserver:
 * cordon, evictions refused by a PodDisruptionBudget (429) until the deadline, the out-of-service
 * taint, Node deletion, and kubeadm's ClusterStatus cleaned with an optimistic update.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKubeApi, type KubeApi } from '../../controller/src/kube/client.js';
import { createKubeNodeOps, type KubeNodeOps } from '../../controller/src/kube/node-ops.js';
import { drainNode, ensureApiEndpointForgotten, ensureCordoned, ensureNodeDeleted, ensureOutOfServiceTaint } from '../../controller/src/membership/drain.js';
import { parse } from 'yaml';
import { ensureKubeadmEtcdEndpoints } from '../../controller/src/membership/kubeadm-etcd.js';
import { createCa, issueClientCert, issueServerCert } from '../../controller/src/pki/ca.js';
import { type FakeApiServer, startFakeApiServer } from '../support/fake-apiserver.js';

let fake: FakeApiServer;
let ops: KubeNodeOps;
let kube: KubeApi;

const pod = (name: string, node: string, app: string, extra = '') =>
  `---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: ${name}\n  namespace: shop\n  labels:\n    app: ${app}\n${extra}spec:\n  nodeName: ${node}\n  containers:\n  - name: c\n    image: busybox\n`;

beforeAll(async () => {
  const ca = await createCa({ commonName: 'kubernetes' });
  const serving = await issueServerCert({ ca, commonName: 'kube-apiserver', dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'] });
  const admin = await issueClientCert({ ca, commonName: 'ballast-admin' });
  fake = await startFakeApiServer({ clientCaPem: ca.certPem, serving });
  const options = { server: fake.url, caPem: ca.certPem, certPem: admin.certPem, keyPem: admin.keyPem };
  ops = createKubeNodeOps(options);
  kube = createKubeApi(options);
  for (const n of ['cp-1', 'cp-2', 'w-1']) fake.addNode(n, { ready: true });
  const ds = '  ownerReferences:\n  - apiVersion: apps/v1\n    kind: DaemonSet\n    name: flannel\n    uid: 0b1c\n';
  await kube.apply(
    `apiVersion: v1\nkind: Namespace\nmetadata:\n  name: shop\n${pod('web-a', 'cp-2', 'web')}${pod('web-b', 'w-1', 'web')}${pod('pay-0', 'w-1', 'pay')}${pod('flannel-w1', 'w-1', 'flannel', ds)}` +
      '---\napiVersion: policy/v1\nkind: PodDisruptionBudget\nmetadata:\n  name: web\n  namespace: shop\nspec:\n  minAvailable: 1\n  selector:\n    matchLabels:\n      app: web\n' +
      '---\napiVersion: policy/v1\nkind: PodDisruptionBudget\nmetadata:\n  name: pay\n  namespace: shop\nspec:\n  maxUnavailable: 0\n  selector:\n    matchLabels:\n      app: pay\n',
  );
});
afterAll(async () => fake?.close());

const signal = () => new AbortController().signal;

describe('node operations against the fake kube-apiserver', () => {
  it('cordons once (a second cordon is unchanged) and lists pods by node with DaemonSet pods marked', async () => {
    expect(await ensureCordoned(ops, 'w-1')).toEqual({ changed: true, message: 'w-1 cordoned' });
    expect(await ensureCordoned(ops, 'w-1')).toEqual({ changed: false, message: 'w-1 is already cordoned' });
    expect(((fake.object('', 'nodes', '', 'w-1')?.spec ?? {}) as { unschedulable?: boolean }).unschedulable).toBe(true);
    expect((await ops.podsOn('w-1')).map((p) => `${p.name}:${p.daemonSet}`).sort()).toEqual(['flannel-w1:true', 'pay-0:false', 'web-b:false']);
    expect(await ensureCordoned(ops, 'ghost')).toEqual({ changed: false, message: 'no Node ghost: nothing to cordon' });
  });

  it('evicts what the budgets allow, retries the refused one and fails at the deadline naming it and the budget', async () => {
    const progress: string[] = [];
    const err = await drainNode(ops, 'w-1', { timeoutMs: 300, intervalMs: 50, signal: signal(), progress: (m) => progress.push(m) }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'BALLAST_ERR_DRAIN_TIMEOUT' });
    expect((err as Error).message).toMatch(/^failed to drain node w-1 within 0 s: 1 pods left: shop\/pay-0 \(failed to evict pod shop\/pay-0: 429 TooManyRequests: Cannot evict pod as it would violate the pod's disruption budget\.\)/);
    expect(fake.object('', 'pods', 'shop', 'web-b')).toBeUndefined(); // web had 2, min 1: evicted
    expect(fake.object('', 'pods', 'shop', 'flannel-w1')).toBeDefined(); // DaemonSet pods stay
    expect(fake.object('', 'pods', 'shop', 'pay-0')).toBeDefined();
    expect(progress[0]).toBe('draining w-1: 2 pods left (1 refused by a PodDisruptionBudget, retrying)');
    // web-a is now the last web pod: the budget refuses it too.
    expect(await ops.evict({ namespace: 'shop', name: 'web-a' })).toMatchObject({ kind: 'blocked' });
    expect(await ops.evict({ namespace: 'shop', name: 'gone' })).toEqual({ kind: 'gone' });
  });

  it('drains once the budget allows it', async () => {
    await kube.apply('apiVersion: policy/v1\nkind: PodDisruptionBudget\nmetadata:\n  name: pay\n  namespace: shop\nspec:\n  maxUnavailable: 1\n  selector:\n    matchLabels:\n      app: pay\n');
    expect(await drainNode(ops, 'w-1', { timeoutMs: 2000, intervalMs: 20, signal: signal() })).toEqual({ changed: true, message: 'w-1 drained: 1 evictions' });
    expect(await drainNode(ops, 'w-1', { timeoutMs: 2000, intervalMs: 20, signal: signal() })).toEqual({ changed: false, message: 'w-1 has no pods to evict' });
  });

  it('taints out-of-service once, keeping other taints; deletes the Node once', async () => {
    await ops.patchNodeSpec('cp-1', { taints: [{ key: 'node-role.kubernetes.io/control-plane', effect: 'NoSchedule' }] });
    expect((await ensureOutOfServiceTaint(ops, 'cp-1')).changed).toBe(true);
    expect((await ensureOutOfServiceTaint(ops, 'cp-1')).changed).toBe(false);
    expect(((fake.object('', 'nodes', '', 'cp-1')?.spec ?? { taints: [] }) as { taints: { key: string }[] }).taints.map((t) => t.key)).toEqual([
      'node-role.kubernetes.io/control-plane',
      'node.kubernetes.io/out-of-service',
    ]);
    expect(await ensureNodeDeleted(ops, 'cp-1')).toEqual({ changed: true, message: 'Node cp-1 deleted' });
    expect(await ensureNodeDeleted(ops, 'cp-1')).toEqual({ changed: false, message: 'no Node cp-1' });
    expect((await kube.nodes()).map((n) => n.name).sort()).toEqual(['cp-2', 'w-1']);
  });

  it("removes the node from kubeadm's ClusterStatus when kubeadm keeps one; nothing to do when it does not", async () => {
    expect((await ensureApiEndpointForgotten(ops, 'cp-1')).message).toBe('kubeadm keeps no ClusterStatus (kubeadm ≥ 1.22): nothing to clean');
    const status = 'apiEndpoints:\n  cp-1:\n    advertiseAddress: 10.0.0.1\n    bindPort: 6443\n  cp-2:\n    advertiseAddress: 10.0.0.2\n    bindPort: 6443\napiVersion: kubeadm.k8s.io/v1beta2\nkind: ClusterStatus\n';
    await kube.apply(`apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: kubeadm-config\n  namespace: kube-system\ndata:\n  ClusterConfiguration: "x"\n  ClusterStatus: |\n${status.replace(/^/gm, '    ')}`);
    expect(await ensureApiEndpointForgotten(ops, 'cp-1')).toEqual({ changed: true, message: "cp-1 removed from kubeadm's ClusterStatus.apiEndpoints" });
    const data = (fake.object('', 'configmaps', 'kube-system', 'kubeadm-config')?.data ?? {}) as Record<string, string>;
    expect(data.ClusterStatus).toMatch(/^apiEndpoints:\n {2}cp-2:/);
    expect(data.ClusterStatus).not.toMatch(/cp-1/);
    expect(data.ClusterConfiguration).toBe('x');
    expect((await ensureApiEndpointForgotten(ops, 'cp-1')).changed).toBe(false);
  });

  it("rewrites kubeadm's external etcd endpoints (what a later kubeadm join --control-plane renders --etcd-servers from), once", async () => {
    const want = ['https://10.0.0.3:2379', 'https://10.0.0.5:2379', 'https://10.0.0.6:2379'];
    // The ConfigMap the previous case left has a ClusterConfiguration without external etcd.
    expect((await ensureKubeadmEtcdEndpoints(ops, want)).message).toBe('kubeadm runs etcd itself (no external endpoints): nothing to update');
    const config = 'apiVersion: kubeadm.k8s.io/v1beta4\nkind: ClusterConfiguration\ncontrolPlaneEndpoint: 10.0.0.250:6443\netcd:\n  external:\n    caFile: /etc/kubernetes/pki/etcd/ca.crt\n    endpoints:\n    - https://10.0.0.1:2379\n    - https://10.0.0.2:2379\n    - https://10.0.0.3:2379\n    httpEndpoints:\n    - https://10.0.0.1:2379\n    - https://10.0.0.2:2379\n    - https://10.0.0.3:2379\n';
    await kube.apply(`apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: kubeadm-config\n  namespace: kube-system\ndata:\n  ClusterConfiguration: |\n${config.replace(/^/gm, '    ')}`);
    expect(await ensureKubeadmEtcdEndpoints(ops, want)).toEqual({ changed: true, message: `kubeadm's etcd endpoints set to ${want.join(',')}` });
    const data = (fake.object('', 'configmaps', 'kube-system', 'kubeadm-config')?.data ?? {}) as Record<string, string>;
    const parsed = parse(data.ClusterConfiguration ?? '') as { controlPlaneEndpoint: string; etcd: { external: { endpoints: string[]; caFile: string } } };
    // kubeadm 1.36's httpEndpoints, defaulted from endpoints at init, follow them (the lab saw the removed member stay there).
    expect(parsed.etcd.external).toEqual({ caFile: '/etc/kubernetes/pki/etcd/ca.crt', endpoints: want, httpEndpoints: want });
    expect(parsed.controlPlaneEndpoint).toBe('10.0.0.250:6443');
    expect((await ensureKubeadmEtcdEndpoints(ops, want)).changed).toBe(false);
  });
});

/**
 * The bootstrap plan: from a validated cluster spec to the ordered steps of `cluster create`, the
 * order kubespray and kubeadm have proven safe (DESIGN.md "Cluster topology", issue "Rolling HA
 * bootstrap"). Pure and deterministic: the same spec always gives the same steps with the same keys,
 * which is what lets a second `cluster create` converge to "all ok" and a resumed one skip what is done.
 *
 *   validate → preflight (all hosts at once, every problem listed) → pki
 *   → os-prep (all hosts) → containerd, kube-node and images (hosts that run a kubelet; images: the
 *     container images the mirror holds, imported before kubeadm, none without) → etcd installed,
 *     not started, on every etcd host
 *   → etcd: the first member starts a new cluster; each further member joins one at a time
 *     (learner add → start with `existing` → promote once caught up), each gated on cluster health
 *   → VIP on the first control plane → kubeadm init there → API /readyz → VIP election on every
 *     control plane (health-checked) → CNI
 *   → kubeadm join --control-plane one host at a time, each gated on /readyz
 *   → workers in batches, each gated on node Ready → record
 *
 * Step args are names only, never secrets: executors read certificates and keys from the PKI
 * store when they run (the plan is stored and shown).
 */
import type { StepSpec } from '../ops/types.js';
import type { ClusterHost, ClusterSpec } from '../cluster/spec.js';

/** Hosts of the spec that have `role`, in spec order. */
export function hostsWithRole(spec: Pick<ClusterSpec, 'hosts'>, role: ClusterHost['roles'][number]): ClusterHost[] {
  return spec.hosts.filter((h) => h.roles.includes(role));
}

/** The worker batches: `workerBatch` hosts (or that percentage of the workers, rounded up, at least one) each. */
export function workerBatches(spec: Pick<ClusterSpec, 'hosts' | 'rollout'>): string[][] {
  const workers = hostsWithRole(spec, 'worker')
    .filter((h) => !h.roles.includes('control-plane'))
    .map((h) => h.name);
  if (workers.length === 0) return [];
  const batch = spec.rollout.workerBatch;
  const size =
    typeof batch === 'number' ? batch : Math.max(1, Math.ceil((workers.length * Number.parseInt(batch, 10)) / 100));
  const out: string[][] = [];
  for (let i = 0; i < workers.length; i += size) out.push(workers.slice(i, i + size));
  return out;
}

/** Step kinds of the bootstrap (executors in ./executors). */
export const STEP = {
  validate: 'cluster-validate',
  preflight: 'cluster-preflight',
  pki: 'cluster-pki',
  hostRole: 'host-role',
  hostsInstall: 'hosts-install',
  etcdInstall: 'etcd-install',
  etcdFirst: 'etcd-first-member',
  etcdJoin: 'etcd-join-member',
  etcdHealth: 'etcd-health',
  vip: 'vip',
  kubeInit: 'kube-init',
  kubeReady: 'kube-readyz',
  kubeCni: 'kube-cni',
  kubeJoinControlPlane: 'kube-join-control-plane',
  kubeJoinWorkers: 'kube-join-workers',
  kubeNodesReady: 'kube-nodes-ready',
  record: 'cluster-record',
} as const;

/** The steps of `cluster create` for `spec`. */
export function bootstrapPlan(spec: ClusterSpec): StepSpec[] {
  const all = spec.hosts.map((h) => h.name);
  const etcd = hostsWithRole(spec, 'etcd').map((h) => h.name);
  const controlPlane = hostsWithRole(spec, 'control-plane').map((h) => h.name);
  const [firstEtcd, ...moreEtcd] = etcd;
  const [firstCp, ...moreCp] = controlPlane;
  const steps: StepSpec[] = [
    { key: 'validate', phase: 'preflight', title: 'Validate the cluster spec against the fleet and the mirror', kind: STEP.validate },
    { key: 'preflight', phase: 'preflight', title: `Preflight checks on ${all.length} hosts`, kind: STEP.preflight, args: { hosts: all } },
    { key: 'pki', phase: 'pki', title: 'Issue the cluster PKI (etcd, Kubernetes, front-proxy CAs; member certificates; bootstrap token)', kind: STEP.pki },
  ];
  // Every host installs at its own pace (executors/hosts.ts): os-prep; containerd, kubelet/kubeadm/
  // kubectl and the mirror's images where a kubelet runs; etcd installed, not started, on members.
  steps.push({ key: 'hosts', phase: 'hosts', title: `Install ${all.length} hosts, each at its own pace: os-prep; containerd, kubelet, kubeadm, kubectl and the mirror's container images where a kubelet runs; etcd (not started) on ${etcd.length} members`, kind: STEP.hostsInstall, args: { hosts: all } });
  if (firstEtcd !== undefined) {
    steps.push({ key: `etcd/start/${firstEtcd}`, phase: 'etcd', host: firstEtcd, title: `Start etcd on ${firstEtcd} (new cluster)`, kind: STEP.etcdFirst, args: { member: firstEtcd } });
    steps.push({ key: `etcd/health/1`, phase: 'etcd', title: 'Gate: etcd healthy with 1 voter', kind: STEP.etcdHealth, args: { members: [firstEtcd] } });
    for (const [i, member] of moreEtcd.entries()) {
      const members = etcd.slice(0, i + 2);
      steps.push({
        key: `etcd/join/${member}`,
        phase: 'etcd',
        host: member,
        title: `Join ${member} to etcd (learner, start, promote)`,
        kind: STEP.etcdJoin,
        args: { member, members },
      });
      steps.push({ key: `etcd/health/${members.length}`, phase: 'etcd', title: `Gate: etcd healthy with ${members.length} voters`, kind: STEP.etcdHealth, args: { members } });
    }
  }
  if (firstCp !== undefined) {
    steps.push({ key: 'vip/bootstrap', phase: 'vip', host: firstCp, title: `VIP ${spec.vip.address} on ${firstCp} (no API server to check yet)`, kind: STEP.vip, args: { hosts: [firstCp], mode: 'bootstrap' } });
    steps.push({ key: `kube/init/${firstCp}`, phase: 'control-plane', host: firstCp, title: `kubeadm init on ${firstCp}`, kind: STEP.kubeInit, args: { host: firstCp } });
    steps.push({ key: 'kube/readyz/1', phase: 'control-plane', title: 'Gate: API server /readyz through the VIP', kind: STEP.kubeReady });
    steps.push({ key: 'vip/control-plane', phase: 'vip', title: `VIP election with the health check on ${controlPlane.length} control planes`, kind: STEP.vip, args: { hosts: controlPlane, mode: 'control-plane' } });
    steps.push({ key: 'kube/cni', phase: 'control-plane', title: 'Apply the CNI manifest', kind: STEP.kubeCni });
    for (const [i, host] of moreCp.entries()) {
      steps.push({ key: `kube/join/${host}`, phase: 'control-plane', host, title: `kubeadm join --control-plane on ${host}`, kind: STEP.kubeJoinControlPlane, args: { host } });
      steps.push({ key: `kube/readyz/${i + 2}`, phase: 'control-plane', title: 'Gate: API server /readyz through the VIP', kind: STEP.kubeReady });
    }
    for (const [i, batch] of workerBatches(spec).entries()) {
      const n = i + 1;
      steps.push({ key: `workers/${n}/join`, phase: 'workers', title: `kubeadm join on worker batch ${n}: ${batch.join(', ')}`, kind: STEP.kubeJoinWorkers, args: { hosts: batch } });
      steps.push({ key: `workers/${n}/ready`, phase: 'workers', title: `Gate: nodes Ready: ${batch.join(', ')}`, kind: STEP.kubeNodesReady, args: { hosts: batch } });
    }
  }
  steps.push({ key: 'record', phase: 'done', title: 'Record the cluster', kind: STEP.record });
  return steps;
}

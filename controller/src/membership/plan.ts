/**
 * The plans of node replace, add and remove: pure functions from the stored input to the ordered
 * steps (DESIGN.md "Node replacement"; issue 12's steps):
 *
 *   lock → preflight NEW → cluster check (etcd healthy, no learner, the quorum guard again, live)
 *   → pki (NEW's certificates) → NEW's host roles (installed before OLD goes: shorter degradation)
 *   → OLD out: reachable: cordon + drain, then the reset role (VIP released first, kubeadm reset,
 *              etcd and kubelet stopped and removed);
 *              unreachable: fence (confirmed, or the operation pauses), out-of-service taint
 *     → its etcd member removed by ID through a healthy peer → its Node deleted, kubeadm's
 *       ClusterStatus cleaned → an unreachable OLD's enrolment revoked (it stays out if it returns)
 *   → NEW in: etcd learner → start `existing` → promote (the bootstrap's join, rollback included)
 *     → (no old/node-delete before: kubeadm's etcd endpoints set to the members after the change)
 *     → kubeadm join (control plane or worker) → /readyz through the VIP → VIP candidate
 *   → verify: exactly the after-spec's voters, healthy, nothing else in the member list; NEW Ready
 *   → finish: the new spec recorded and the lock released, in one transaction.
 *
 * OLD goes before NEW comes: see quorum-plan.ts for why (a dead voter plus an unverified new one
 * count against a larger quorum). The first (init) node is nothing special: every step is by name
 * and NEW always *joins*, so replacing it needs no inventory edit.
 */
import { hostsWithRole, STEP } from '../bootstrap/plan.js';
import type { ClusterHost } from '../cluster/spec.js';
import type { StepSpec } from '../ops/types.js';
import { type MembershipInput, type MembershipKind, NODE_ADD, NODE_REPLACE } from './types.js';

/** Step kinds of the membership operations (executors in ./executors-*.ts). */
export const MSTEP = {
  lock: 'membership-lock',
  clusterCheck: 'membership-cluster-check',
  drain: 'node-drain',
  stopOld: 'membership-stop-old',
  fence: 'node-fence',
  taint: 'node-out-of-service',
  etcdRemove: 'membership-etcd-remove',
  nodeDelete: 'node-delete',
  kubeadmEtcd: 'kubeadm-etcd-endpoints',
  revoke: 'membership-revoke',
  finish: 'membership-finish',
} as const;

const runsKubelet = (h: Pick<ClusterHost, 'roles'>) => h.roles.includes('control-plane') || h.roles.includes('worker');

/** One line for the lock and the events: `replace h1 with h4`. */
export function membershipDetail(kind: MembershipKind, input: Pick<MembershipInput, 'old' | 'add'>): string {
  if (kind === NODE_REPLACE) return `replace ${input.old?.name} with ${input.add?.name}`;
  if (kind === NODE_ADD) return `add ${input.add?.name} (${input.add?.roles.join(',')})`;
  return `remove ${input.old?.name}${input.old?.online === false ? ' (unreachable)' : ''}`;
}

/** The steps of `kind` for `input`. */
export function membershipPlan(kind: MembershipKind, input: MembershipInput): StepSpec[] {
  const { old, add } = input;
  const steps: StepSpec[] = [{ key: 'lock', phase: 'preflight', title: `Take the membership lock: ${membershipDetail(kind, input)}`, kind: MSTEP.lock }];
  if (add !== undefined) steps.push({ key: `preflight/${add.name}`, phase: 'preflight', host: add.name, title: `Preflight checks on ${add.name}`, kind: STEP.preflight, args: { hosts: [add.name] } });
  steps.push({ key: 'cluster-check', phase: 'preflight', title: 'Gate: etcd healthy, no learner, quorum kept at every step', kind: MSTEP.clusterCheck });
  if (add !== undefined) {
    steps.push({ key: 'pki', phase: 'pki', title: `Issue ${add.name}'s certificates`, kind: STEP.pki });
    steps.push(...prepareSteps(add));
  }
  if (old !== undefined) steps.push(...outSteps(kind, input, old));
  // kubeadm's ClusterConfiguration must name the etcd members after the change (kubeadm-etcd.ts):
  // old/node-delete rewrites it; a change without that step (node add, an etcd-only host removed)
  // does it here — after NEW's member is healthy, before NEW's kubeadm join reads it.
  const etcdChanges = old?.roles.includes('etcd') === true || add?.roles.includes('etcd') === true;
  const kubeadmEtcd = etcdChanges && !steps.some((s) => s.kind === MSTEP.nodeDelete);
  const endpointsStep: StepSpec = { key: 'kubeadm-etcd', phase: 'etcd', title: "Set kubeadm's etcd endpoints to the members after the change", kind: MSTEP.kubeadmEtcd };
  if (add !== undefined) steps.push(...inSteps(input, add, kubeadmEtcd ? endpointsStep : null));
  else if (old?.roles.includes('etcd') === true) {
    if (kubeadmEtcd) steps.push(endpointsStep);
    const members = hostsWithRole(input.spec, 'etcd').map((h) => h.name);
    steps.push({ key: 'verify/etcd', phase: 'verify', title: `Gate: etcd has exactly ${members.length} healthy voters`, kind: STEP.etcdHealth, args: { members } });
  }
  steps.push({ key: 'finish', phase: 'done', title: 'Record the new cluster spec and release the lock', kind: MSTEP.finish });
  return steps;
}

function prepareSteps(add: ClusterHost): StepSpec[] {
  const steps: StepSpec[] = [{ key: `new/os-prep`, phase: 'new-host', host: add.name, title: `os-prep on ${add.name}`, kind: STEP.hostRole, args: { role: 'os-prep', hosts: [add.name] } }];
  if (runsKubelet(add)) {
    steps.push({ key: 'new/containerd', phase: 'new-host', host: add.name, title: `containerd on ${add.name}`, kind: STEP.hostRole, args: { role: 'containerd', hosts: [add.name] } });
    steps.push({ key: 'new/kube-node', phase: 'new-host', host: add.name, title: `kubelet, kubeadm, kubectl on ${add.name}`, kind: STEP.hostRole, args: { role: 'kube-node', hosts: [add.name] } });
    // As in the bootstrap, before kubeadm: without the mirror's images the real `kubeadm join` tries to
    // pull them from the registry (an offline cluster: it hangs in preflight — seen in the lab).
    steps.push({ key: 'new/images', phase: 'new-host', host: add.name, title: `Container images from the mirror into containerd on ${add.name}`, kind: STEP.hostRole, args: { role: 'images', hosts: [add.name] } });
  }
  return steps;
}

function outSteps(kind: MembershipKind, input: MembershipInput, old: NonNullable<MembershipInput['old']>): StepSpec[] {
  const h = old.name;
  const steps: StepSpec[] = [];
  const kube = runsKubelet(old);
  if (old.online) {
    if (kube) steps.push({ key: `old/drain`, phase: 'old-host', host: h, title: `Cordon and drain ${h} (evictions honour PodDisruptionBudgets)`, kind: MSTEP.drain, args: { node: h } });
    steps.push({ key: `old/reset`, phase: 'old-host', host: h, title: `Release the VIP from ${h}, kubeadm reset, stop and remove etcd and kubelet`, kind: MSTEP.stopOld, args: { host: h } });
  } else {
    steps.push({ key: `old/fence`, phase: 'old-host', host: h, title: `Fence ${h} (confirm it is powered off) before anything else`, kind: MSTEP.fence, args: { host: h } });
    if (kube) steps.push({ key: `old/out-of-service`, phase: 'old-host', host: h, title: `Taint ${h} out-of-service so its pods are released`, kind: MSTEP.taint, args: { node: h } });
  }
  if (old.roles.includes('etcd')) {
    steps.push({ key: `old/etcd-remove`, phase: 'etcd', host: h, title: `Remove ${h}'s etcd member by ID through ${input.through[0] ?? '?'}`, kind: MSTEP.etcdRemove, args: { member: h } });
  }
  if (kube) steps.push({ key: `old/node-delete`, phase: 'old-host', host: h, title: `Delete Node ${h}; forget it in kubeadm's state`, kind: MSTEP.nodeDelete, args: { node: h } });
  // A reachable OLD was reset clean and may be reused; an unreachable one may come back with its state: it must stay out.
  if (!old.online || kind === NODE_REPLACE) steps.push({ key: `old/revoke`, phase: 'old-host', host: h, title: `Revoke ${h}'s enrolment so it stays out if it comes back`, kind: MSTEP.revoke, args: { host: h } });
  return steps;
}

/** NEW's steps; `endpoints` (kubeadm's etcd endpoints rewritten) goes right after its etcd member is verified. */
function inSteps(input: MembershipInput, add: ClusterHost, endpoints: StepSpec | null): StepSpec[] {
  const h = add.name;
  const steps: StepSpec[] = [];
  const etcd = hostsWithRole(input.spec, 'etcd').map((x) => x.name);
  if (add.roles.includes('etcd')) {
    // The first member of `members` runs the changes: a healthy peer (plan-time probe), then the rest in spec order.
    const others = [...input.through.filter((m) => etcd.includes(m) && m !== h), ...etcd.filter((m) => m !== h && !input.through.includes(m))];
    steps.push({ key: `new/etcd-join`, phase: 'etcd', host: h, title: `Join ${h} to etcd (learner, start, promote once caught up)`, kind: STEP.etcdJoin, args: { member: h, members: [...others, h] } });
    steps.push({ key: `new/etcd-health`, phase: 'etcd', title: `Gate: etcd has exactly ${etcd.length} healthy voters, nothing else`, kind: STEP.etcdHealth, args: { members: etcd } });
    if (endpoints !== null) steps.push(endpoints);
  }
  if (add.roles.includes('control-plane')) {
    steps.push({ key: `new/kube-join`, phase: 'control-plane', host: h, title: `kubeadm join --control-plane on ${h}`, kind: STEP.kubeJoinControlPlane, args: { host: h } });
    steps.push({ key: `new/readyz`, phase: 'control-plane', title: 'Gate: API server /readyz through the VIP', kind: STEP.kubeReady });
    steps.push({ key: `new/vip`, phase: 'vip', host: h, title: `${h} becomes a VIP candidate (health-checked)`, kind: STEP.vip, args: { hosts: [h], mode: 'control-plane' } });
  } else if (add.roles.includes('worker')) {
    steps.push({ key: `new/kube-join`, phase: 'workers', host: h, title: `kubeadm join on ${h}`, kind: STEP.kubeJoinWorkers, args: { hosts: [h] } });
  }
  if (runsKubelet(add)) steps.push({ key: `verify/node`, phase: 'verify', host: h, title: `Gate: Node ${h} Ready`, kind: STEP.kubeNodesReady, args: { hosts: [h] } });
  return steps;
}


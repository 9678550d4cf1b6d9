/**
 * The plan of `cluster recover`, a pure function of the stored input (DESIGN.md "Disaster
 * recovery"; issue 13):
 *
 * --from-snapshot ID
 *   lock → guard (no old member serves with quorum; with --replace-current-data it may, and what it
 *   holds is read and shown) → snapshot (hashed again, refused on mismatch)
 *   → park every kube-apiserver (manifest moved: the kubelet stops it; waits until 6443 is closed)
 *   → stop etcd everywhere → etcd installed (binaries, certificates, config; not started)
 *   → restore EVERY member from the same snapshot, in parallel, into a new cluster (new token,
 *     `--bump-revision N --mark-compacted`, the old data dir kept renamed)
 *   → start every member at once (they need each other for quorum) → gate: N healthy voters
 *   → re-activate the API servers → gate: /readyz through the VIP
 *   → restart every kubelet. A kubelet registers its Node once per
 *     process: restored data without the Node of a host that joined after the snapshot — every
 *     host, after a recovery onto new hosts — would leave that kubelet reporting "node not found"
 *     for ever (found on real Kubernetes, test/lab/recover-new-hosts.test.ts). Kubernetes' etcd
 *     restore guide recommends restarting the kubelets after a restore anyway; running pods stay.
 *   → the control planes' Nodes registered, their kubeadm label and taint put back where missing
 *     (control-plane-marks.ts) → finish (lock released).
 *
 * --from-member HOST
 *   HOST still has etcd data (else refused before anything else) → lock → guard → park → stop etcd everywhere → set the other members' data aside (kept)
 *   → start HOST with --force-new-cluster → gate: 1 voter → restart HOST without the flag (left
 *     on, every restart would force a new cluster again) → gate → each other member joins as a
 *     learner and is promoted (the bootstrap's join step, rollback included), gated one at a time
 *   → re-activate the API servers → /readyz → finish.
 *
 * The certificates are not touched, so the kubelets' client certificates stay valid: no
 * Unauthorized after the recovery (k0s#367). Every step converges, so a controller killed at any
 * point resumes: a restored member is recognised by its marker and not restored twice.
 */
import { hostsWithRole, STEP } from '../bootstrap/plan.js';
import type { ClusterSpec } from '../cluster/spec.js';
import type { StepSpec } from '../ops/types.js';
import { type RecoverInput, RSTEP } from './types.js';

/** One line for the lock and the events. */
export function recoverDetail(input: Pick<RecoverInput, 'mode' | 'snapshot' | 'member' | 'replaceCurrentData'>): string {
  if (input.mode !== 'snapshot') return `recover from member ${input.member}`;
  return `recover from snapshot ${input.snapshot?.id}${input.replaceCurrentData === true ? ', replacing the current data' : ''}`;
}

/** The steps for `input` on `spec`. */
export function recoverPlan(input: RecoverInput, spec: ClusterSpec): StepSpec[] {
  const etcd = hostsWithRole(spec, 'etcd').map((h) => h.name);
  const cps = hostsWithRole(spec, 'control-plane').map((h) => h.name);
  const steps: StepSpec[] = [];
  // Before anything is taken or stopped: a member without data would force a new, empty cluster.
  if (input.mode === 'member') steps.push({ key: 'etcd/survivor', phase: 'preflight', host: input.member, title: `Gate: ${input.member} still has its etcd data (WAL or db)`, kind: RSTEP.survivor, args: { hosts: [input.member ?? ''] } });
  steps.push(
    { key: 'lock', phase: 'preflight', title: `Take the membership lock: ${recoverDetail(input)}`, kind: RSTEP.lock },
    {
      key: 'guard',
      phase: 'preflight',
      title:
        input.replaceCurrentData === true
          ? `Gate: read what the etcd of ${etcd.join(', ')} holds; --replace-current-data: it is discarded (kept renamed) even while it serves with quorum`
          : `Gate: no member of the old etcd cluster serves with quorum (${etcd.join(', ')})`,
      kind: RSTEP.guard,
      args: { members: etcd },
    },
  );
  if (input.mode === 'snapshot') steps.push({ key: 'snapshot', phase: 'preflight', title: `Verify snapshot ${input.snapshot?.id} (sha256 of the file the store hands over)`, kind: RSTEP.snapshot });
  if (cps.length > 0) steps.push({ key: 'apiservers/park', phase: 'stop', title: `Stop kube-apiserver on ${cps.join(', ')} (static pod manifest parked)`, kind: RSTEP.park, args: { hosts: cps } });
  steps.push({ key: 'etcd/stop', phase: 'stop', title: `Stop etcd on ${etcd.join(', ')} (data kept)`, kind: RSTEP.stop, args: { hosts: etcd } });
  if (input.mode === 'snapshot') {
    steps.push(
      { key: 'etcd/install', phase: 'etcd', title: `etcd binaries, certificates and configuration on ${etcd.length} hosts (not started; the restore writes the data)`, kind: RSTEP.install, args: { hosts: etcd } },
      {
        key: 'etcd/restore',
        phase: 'etcd',
        title: `Restore every member (${etcd.join(', ')}) from snapshot ${input.snapshot?.id}, revision +${input.bumpRevision}, old data kept`,
        kind: RSTEP.restore,
        args: { hosts: etcd },
      },
      { key: 'etcd/start', phase: 'etcd', title: `Start etcd on ${etcd.join(', ')} together`, kind: RSTEP.start, args: { hosts: etcd } },
      { key: 'etcd/health', phase: 'etcd', title: `Gate: etcd has exactly ${etcd.length} healthy voters`, kind: STEP.etcdHealth, args: { members: etcd } },
    );
  } else {
    const survivor = input.member ?? '';
    const others = etcd.filter((m) => m !== survivor);
    if (others.length > 0) steps.push({ key: 'etcd/set-aside', phase: 'etcd', title: `Set the data of ${others.join(', ')} aside (kept, renamed)`, kind: RSTEP.setAside, args: { hosts: others } });
    steps.push(
      { key: 'etcd/force-new-cluster', phase: 'etcd', host: survivor, title: `Start etcd on ${survivor} with --force-new-cluster (a one-member cluster of its data)`, kind: RSTEP.forceNew, args: { member: survivor, force: true } },
      { key: 'etcd/health/1', phase: 'etcd', title: `Gate: etcd healthy with 1 voter (${survivor})`, kind: STEP.etcdHealth, args: { members: [survivor] } },
      { key: 'etcd/unforce', phase: 'etcd', host: survivor, title: `Restart etcd on ${survivor} without --force-new-cluster`, kind: RSTEP.forceNew, args: { member: survivor, force: false } },
    );
    const joined = [survivor];
    for (const m of others) {
      joined.push(m);
      steps.push(
        { key: `etcd/join/${m}`, phase: 'etcd', host: m, title: `Join ${m} to etcd (learner, start, promote)`, kind: STEP.etcdJoin, args: { member: m, members: [...joined] } },
        { key: `etcd/health/${joined.length}`, phase: 'etcd', title: `Gate: etcd healthy with ${joined.length} voters`, kind: STEP.etcdHealth, args: { members: [...joined] } },
      );
    }
  }
  if (cps.length > 0) {
    steps.push(
      { key: 'apiservers/unpark', phase: 'control-plane', title: `Start kube-apiserver on ${cps.join(', ')} again`, kind: RSTEP.unpark, args: { hosts: cps } },
      { key: 'readyz', phase: 'control-plane', title: 'Gate: API server /readyz through the VIP', kind: STEP.kubeReady },
    );
  }
  const kubelets = spec.hosts.filter((h) => h.roles.includes('control-plane') || h.roles.includes('worker')).map((h) => h.name);
  if (input.mode === 'snapshot' && kubelets.length > 0) {
    steps.push({ key: 'kubelets/restart', phase: 'nodes', title: `Restart the kubelet on ${kubelets.join(', ')} (each registers its Node again if the snapshot has none)`, kind: RSTEP.kubelets, args: { hosts: kubelets } });
    if (cps.length > 0) steps.push({ key: 'nodes/control-plane-marks', phase: 'nodes', title: `The Nodes of ${cps.join(', ')} registered; their control-plane label and taint put back where missing`, kind: RSTEP.marks, args: { hosts: cps } });
  }
  steps.push({ key: 'finish', phase: 'done', title: 'Release the membership lock', kind: RSTEP.finish });
  return steps;
}

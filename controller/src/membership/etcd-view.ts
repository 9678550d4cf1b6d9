/**
 * The live etcd picture a membership change is judged against: members (matched to the spec's
 * hosts by peer URL), which answer as healthy, the learners, and the plan's quorum verdict. Read
 * through every member's client URL with the cluster's stored client certificate and short
 * deadlines, so one dead member costs one timeout, not the gate.
 */
import { BallastError } from '../../../shared/src/errors.js';
import { probeMembers } from '../../../shared/src/etcd/health.js';
import type { EtcdMember } from '../../../shared/src/etcd/client.js';
import { clientUrl, peerUrl, pkiInputs } from '../bootstrap/cluster-facts.js';
import type { BootstrapDeps } from '../bootstrap/deps.js';
import { hostsWithRole } from '../bootstrap/plan.js';
import type { ClusterSpec } from '../cluster/spec.js';
import { judgeMembershipPlan, membershipEvents, type QuorumPlanVerdict } from './quorum-plan.js';
import type { MembershipInput } from './types.js';

/** One member as the change sees it. */
export interface LiveMember {
  id: string;
  /** The spec host with its peer URL, else etcd's name, else the id. */
  name: string;
  learner: boolean;
  healthy: boolean;
  problem: string | null;
}

/** Reads the members of `spec`'s etcd and probes each. Throws BALLAST_ERR_ETCD_UNAVAILABLE when none answers. */
export async function liveMembers(deps: BootstrapDeps, spec: ClusterSpec, signal?: AbortSignal): Promise<LiveMember[]> {
  const hosts = hostsWithRole(spec, 'etcd');
  if (hosts.length === 0) return [];
  const pki = await deps.readPki(spec.name, pkiInputs(spec));
  const client = hosts.map((h) => pki.etcdClients.get(h.name)).find((c) => c !== undefined);
  if (client === undefined) throw new BallastError('BALLAST_ERR_NOT_FOUND', `no etcd client certificate for cluster ${spec.name} in its PKI`);
  const etcd = deps.etcd({ endpoints: hosts.map(clientUrl), tls: { ca: pki.etcdCa.certPem, cert: client.certPem, key: client.keyPem }, timeoutMs: 2000 });
  const opts = signal === undefined ? {} : { signal };
  const members: EtcdMember[] = await etcd.memberList(opts);
  const health = await probeMembers(etcd, members, opts);
  const byPeer = new Map(hosts.map((h) => [peerUrl(h), h.name]));
  return members.map((m) => ({
    id: m.id,
    name: m.peerUrls.map((u) => byPeer.get(u)).find((n) => n !== undefined) ?? (m.name || m.id),
    learner: m.isLearner,
    healthy: health.healthy.has(m.id),
    problem: health.problems.get(m.id) ?? null,
  }));
}

/** The cluster preflight and the quorum guard over the plan: refusals as coded errors with the numbers. */
export function judgeChange(input: Pick<MembershipInput, 'old' | 'add'>, members: readonly LiveMember[]): QuorumPlanVerdict {
  const learners = members.filter((m) => m.learner);
  if (learners.length > 0) {
    throw new BallastError(
      'BALLAST_ERR_QUORUM_GUARD',
      `etcd has a learner (${learners.map((m) => m.name).join(', ')}): another membership change is unfinished; finish or undo it first (ballastctl cluster status)`,
    );
  }
  const oldEtcd = input.old?.roles.includes('etcd') === true ? { name: input.old.name, online: input.old.online } : undefined;
  const addEtcd = input.add?.roles.includes('etcd') === true ? input.add.name : undefined;
  // Only what is still to happen: OLD already gone or NEW already in (a change re-checked on resume) is not replayed.
  const present = new Set(members.map((m) => m.name));
  const events = membershipEvents({
    ...(oldEtcd !== undefined && present.has(oldEtcd.name) ? { old: oldEtcd } : {}),
    ...(addEtcd !== undefined && !present.has(addEtcd) ? { add: addEtcd } : {}),
  });
  const verdict = judgeMembershipPlan({ voters: members.map((m) => ({ name: m.name, healthy: m.healthy })), events });
  if (!verdict.allowed) {
    const down = members.filter((m) => !m.healthy).map((m) => `${m.name} (${m.problem ?? 'unhealthy'})`);
    throw new BallastError('BALLAST_ERR_QUORUM_GUARD', `refused by the quorum guard: ${verdict.reason}${down.length > 0 ? `; unhealthy now: ${down.join(', ')}` : ''}`);
  }
  return verdict;
}

/**
 * Taking OLD out, each step converging so a re-execution after a controller crash is harmless:
 * drain (reachable), the reset role (reachable; the VIP released first), fence (unreachable: the
 * operation pauses until it is confirmed), the out-of-service taint, the etcd member removed by ID
 * through a healthy peer's agent (its module finds the member by peer URL and removes that ID,
 * behind the agent's own quorum guard), and the Node deleted with kubeadm's state cleaned.
 */
import { Type } from '@sinclair/typebox';
import { BallastError } from '../../../shared/src/errors.js';
import { clientUrl, hostOf, kubeApiOptions, peerUrl, pkiInputs, wantsDiff } from '../bootstrap/cluster-facts.js';
import { hostsWithRole } from '../bootstrap/plan.js';
import { recapText, runRole } from '../bootstrap/role-runner.js';
import { includeAgain, releaseVip } from '../bootstrap/vip-release.js';
import type { KubeNodeOps } from '../kube/node-ops.js';
import type { StepContext, StepExecutor, StepOutcome, StepView } from '../ops/types.js';
import { drainNode, ensureApiEndpointForgotten, ensureCordoned, ensureNodeDeleted, ensureOutOfServiceTaint } from './drain.js';
import { ensureKubeadmEtcdEndpoints } from './kubeadm-etcd.js';
import { membershipInputOf } from './input.js';
import { MSTEP } from './plan.js';
import { selfFenceApplies, waitForOldSelfFence } from './self-fence-wait.js';
import { TAKEN_OUT_REASON } from './executors-flow.js';
import type { MembershipDeps } from './types.js';

const Name = Type.String({ pattern: '^[a-z0-9]([a-z0-9.-]{0,61}[a-z0-9])?$' });
const NodeArgs = Type.Object({ node: Name });
const HostArgs = Type.Object({ host: Name });

async function kubeOf(deps: MembershipDeps, ctx: StepContext): Promise<KubeNodeOps> {
  const input = membershipInputOf(ctx.op);
  const pki = await deps.bootstrap.readPki(input.spec.name, pkiInputs(input.spec));
  return deps.kubeNodes(kubeApiOptions(input.spec, pki));
}

/** Cordon, then evict every pod (PDBs honoured) until none is left or the deadline passes. */
export function drainExecutor(deps: MembershipDeps): StepExecutor<{ node: string }> {
  return {
    kind: MSTEP.drain,
    args: NodeArgs,
    async execute(step, ctx) {
      const api = await kubeOf(deps, ctx);
      const cordon = await ensureCordoned(api, step.args.node);
      const drain = await drainNode(api, step.args.node, { timeoutMs: deps.drainTimeoutMs ?? 600_000, intervalMs: deps.drainIntervalMs ?? 5000, signal: ctx.signal, progress: ctx.progress });
      return { changed: cordon.changed || drain.changed, message: `${cordon.message}; ${drain.message}` };
    },
    async check(step, ctx) {
      const api = await kubeOf(deps, ctx);
      const pods = (await api.podsOn(step.args.node)).filter((p) => !p.daemonSet && !p.mirror);
      return { changed: true, message: `would cordon ${step.args.node} and evict ${pods.length} pods (${pods.slice(0, 5).map((p) => `${p.namespace}/${p.name}`).join(', ') || 'none'}), honouring PodDisruptionBudgets` };
    },
  };
}

/** The VIP released from OLD (it moves first if OLD holds it), then the reset role on OLD. */
export function stopOldExecutor(deps: MembershipDeps): StepExecutor<{ host: string }> {
  const run = (check: boolean) => async (step: StepView<{ host: string }>, ctx: StepContext): Promise<StepOutcome> => {
    const { host } = step.args;
    const vip = deps.bootstrap.vip?.();
    const released = !check && vip !== undefined ? await releaseVip(vip, [host], ctx.op.id, deps.bootstrap.log) : null;
    const outcomes = await runRole({ runs: deps.bootstrap.runs, role: 'reset', hosts: [{ host, vars: {} }], check, signal: ctx.signal, actor: ctx.op.id, diff: wantsDiff(ctx.op), progress: ctx.progress });
    // A reset host may be enrolled again as someone's NEW: it must not stay excluded from VIP elections.
    if (released !== null && vip !== undefined) await includeAgain(vip, released.excluded, ctx.op.id, deps.bootstrap.log);
    const vipNote = released === null || released.lines.length === 0 ? '' : `; ${released.lines.join(', ')} first`;
    return { changed: outcomes.some((o) => o.recap.changed > 0), message: `${check ? 'would reset' : 'reset'} ${host} (kubeadm reset; etcd, kubelet, containerd stopped and removed): ${recapText(outcomes)}${vipNote}`, data: { runs: outcomes.map((o) => o.runId) } };
  };
  return { kind: MSTEP.stopOld, args: HostArgs, execute: run(false), check: run(true) };
}

/** Confirms an unreachable OLD is powered off; nothing after this step runs before it is. */
export function fenceExecutor(deps: MembershipDeps): StepExecutor<{ host: string }> {
  return {
    kind: MSTEP.fence,
    args: HostArgs,
    async execute(step, ctx) {
      const input = membershipInputOf(ctx.op);
      // No fence agent, no confirmation, an agent that fences itself: wait out its deadline
      // (self-fence-wait.ts), then revoke it at once: a self-fenced agent un-fences when the
      // controller accepts it again, so from here on it must be refused (BALLAST_ERR_HOST_TAKEN_OUT:
      // it stands down for good) — not only from old/revoke, steps later.
      const host = step.args.host;
      const takenOut = `${TAKEN_OUT_REASON} ${ctx.op.id} (${ctx.op.kind})`;
      if (deps.fence.describe(host) === null && input.confirmPoweredOff !== true && deps.hosts.revokedReason?.(host) === takenOut) {
        return { changed: false, message: `${host} counted as fenced by its self-fence deadline earlier in this operation and was taken out then (it stays down if it returns)`, data: { method: 'self-fence' } };
      }
      const self = selfFenceApplies(deps, host, input.confirmPoweredOff === true);
      if (self !== null) {
        const message = await waitForOldSelfFence(deps, host, self, { signal: ctx.signal, progress: ctx.progress, spec: input.spec });
        deps.hosts.revoke(host, takenOut);
        return { changed: true, message: `${message}; its enrolment revoked now, so it stays down if it returns`, data: { method: 'self-fence' } };
      }
      const out = await deps.fence.fence(step.args.host, { signal: ctx.signal, confirmed: input.confirmPoweredOff === true, progress: ctx.progress });
      return { changed: out.method !== 'operator', message: out.message, data: { method: out.method } };
    },
    async check(step, ctx) {
      const input = membershipInputOf(ctx.op);
      const agent = deps.fence.describe(step.args.host);
      if (agent !== null) return { changed: true, message: `would fence ${step.args.host} (${agent}) and wait until it is confirmed off` };
      if (input.confirmPoweredOff === true) return { changed: false, message: `no fence agent for ${step.args.host}: the operator confirmed it is powered off` };
      const self = selfFenceApplies(deps, step.args.host, false);
      if (self !== null) return { changed: true, message: `would wait until ${step.args.host}'s self-fence deadline (${Math.round(self.deadlineMs / 1000)} s after its last heartbeat and its etcd member's last answer, plus a margin) has certainly passed` };
      throw new BallastError('BALLAST_ERR_FENCE_FAILED', `would stop here: no fence agent is configured for ${step.args.host} and nobody confirmed it is powered off (--confirm-powered-off)`);
    },
  };
}

/** `node.kubernetes.io/out-of-service` on a fenced node. */
export function taintExecutor(deps: MembershipDeps): StepExecutor<{ node: string }> {
  return {
    kind: MSTEP.taint,
    args: NodeArgs,
    async execute(step, ctx) {
      return ensureOutOfServiceTaint(await kubeOf(deps, ctx), step.args.node);
    },
    async check(step) {
      return { changed: true, message: `would taint ${step.args.node} node.kubernetes.io/out-of-service=nodeshutdown:NoExecute` };
    },
  };
}

/** Removes OLD's member through the first connected healthy peer (by peer URL → its ID, on the agent). */
export function etcdRemoveExecutor(deps: MembershipDeps): StepExecutor<{ member: string }> {
  const run = (check: boolean) => async (step: StepView<{ member: string }>, ctx: StepContext): Promise<StepOutcome> => {
    const input = membershipInputOf(ctx.op);
    const old = hostOf(input.before, step.args.member);
    const peers = input.through.filter((m) => m !== old.name && deps.hosts.find(m)?.connected === true);
    const [via] = peers;
    if (via === undefined) throw new BallastError('BALLAST_ERR_HOST_NOT_CONNECTED', `failed to remove etcd member ${old.name}: none of its peers (${input.through.join(', ')}) has a connected agent`);
    const outcomes = await runRole({
      runs: deps.bootstrap.runs,
      role: 'etcd-member',
      hosts: [{ host: via, vars: { action: 'remove', member: old.name, peerUrls: [peerUrl(old)], endpoints: peers.map((m) => clientUrl(hostOf(input.before, m))) } }],
      check,
      signal: ctx.signal,
      actor: ctx.op.id,
      diff: wantsDiff(ctx.op),
      progress: ctx.progress,
    });
    return { changed: outcomes.some((o) => o.recap.changed > 0), message: `etcd member ${old.name} ${check ? 'would be removed' : 'removed'} through ${via}: ${recapText(outcomes)}` };
  };
  return { kind: MSTEP.etcdRemove, args: Type.Object({ member: Name }), execute: run(false), check: run(true) };
}

/**
 * Deletes OLD's Node and forgets it in kubeadm's state: its ClusterStatus entry (old kubeadm),
 * and its etcd endpoint in the ClusterConfiguration later joins read (kubeadm-etcd.ts).
 */
export function nodeDeleteExecutor(deps: MembershipDeps): StepExecutor<{ node: string }> {
  return {
    kind: MSTEP.nodeDelete,
    args: NodeArgs,
    async execute(step, ctx) {
      const api = await kubeOf(deps, ctx);
      const node = await ensureNodeDeleted(api, step.args.node);
      const kubeadm = await ensureApiEndpointForgotten(api, step.args.node);
      const spec = membershipInputOf(ctx.op).spec;
      const etcd = await ensureKubeadmEtcdEndpoints(api, hostsWithRole(spec, 'etcd').map(clientUrl));
      return { changed: node.changed || kubeadm.changed || etcd.changed, message: `${node.message}; ${kubeadm.message}; ${etcd.message}` };
    },
    async check(step, ctx) {
      const live = await (await kubeOf(deps, ctx)).getNode(step.args.node);
      return { changed: live !== null, message: live === null ? `no Node ${step.args.node}` : `would delete Node ${step.args.node} and clean kubeadm's state` };
    },
  };
}

/**
 * kubeadm's etcd endpoints set to the members after the change, for a change without
 * old/node-delete (which does it too): node add, an etcd-only host removed (plan.ts).
 */
export function kubeadmEtcdExecutor(deps: MembershipDeps): StepExecutor {
  const endpoints = (ctx: StepContext) => hostsWithRole(membershipInputOf(ctx.op).spec, 'etcd').map(clientUrl);
  return {
    kind: MSTEP.kubeadmEtcd,
    async execute(_step, ctx) {
      return ensureKubeadmEtcdEndpoints(await kubeOf(deps, ctx), endpoints(ctx));
    },
    async check(_step, ctx) {
      return { changed: true, message: `would set kubeadm's etcd endpoints (kube-system/kubeadm-config) to ${endpoints(ctx).join(',')}` };
    },
  };
}

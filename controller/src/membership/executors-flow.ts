/**
 * The membership operations' own gates: the lock (first step), the cluster check (etcd healthy,
 * no learner, the quorum guard over the rest of the plan, live), the revocation of an OLD that
 * must stay out, and the finish (new spec recorded, lock released, in one transaction).
 */
import { Type } from '@sinclair/typebox';
import type { StepContext, StepExecutor, StepOutcome, StepView } from '../ops/types.js';
import { judgeChange, liveMembers } from './etcd-view.js';
import { membershipInputOf, membershipKindOf } from './input.js';
import { MSTEP, membershipDetail } from './plan.js';
import type { MembershipDeps } from './types.js';

const Name = Type.String({ pattern: '^[a-z0-9]([a-z0-9.-]{0,61}[a-z0-9])?$' });

/**
 * How a revocation by a membership change begins: the hub then refuses the host's certificate with
 * BALLAST_ERR_HOST_TAKEN_OUT, and its agent stands down (agent/src/stand-down.ts).
 */
export const TAKEN_OUT_REASON = 'taken out of its cluster by';

/** Takes the cluster's membership lock for this operation (a no-op when it already holds it). */
export function lockExecutor(deps: MembershipDeps): StepExecutor {
  const detailOf = (ctx: StepContext) => {
    const input = membershipInputOf(ctx.op);
    const kind = membershipKindOf(ctx.op.kind) ?? 'node.replace';
    return { cluster: input.spec.name, kind, detail: membershipDetail(kind, input) };
  };
  return {
    kind: MSTEP.lock,
    async execute(_step, ctx) {
      const d = detailOf(ctx);
      const held = deps.repo.lock(d.cluster);
      deps.repo.acquire({ ...d, operationId: ctx.op.id });
      return { changed: held === null, message: held === null ? `membership lock of ${d.cluster} taken: ${d.detail}` : `membership lock of ${d.cluster} already held by this operation` };
    },
    async check(_step, ctx) {
      const d = detailOf(ctx);
      const held = deps.repo.lock(d.cluster);
      if (held !== null) return { changed: false, skipped: true, message: `would be refused: ${held.operationId} (${held.kind}: ${held.detail}) holds the membership lock` };
      return { changed: true, message: `would take the membership lock of ${d.cluster}` };
    },
  };
}

/** Gate: etcd answers, has no learner, and the plan keeps a healthy majority at every step (read live). */
export function clusterCheckExecutor(deps: MembershipDeps): StepExecutor {
  const run = async (_step: StepView, ctx: StepContext): Promise<StepOutcome> => {
    const input = membershipInputOf(ctx.op);
    const members = await liveMembers(deps.bootstrap, input.before, ctx.signal);
    if (members.length === 0) return { changed: false, message: 'the cluster has no etcd hosts: nothing to guard' };
    const verdict = judgeChange(input, members);
    const voters = members.filter((m) => !m.learner);
    return {
      changed: false,
      message: `etcd: ${voters.filter((m) => m.healthy).length}/${voters.length} voters healthy, no learner; ${verdict.reason}`,
      data: { points: verdict.points },
    };
  };
  return { kind: MSTEP.clusterCheck, execute: run, check: run };
}

/** Removes OLD from the fleet and revokes its certificate: when it comes back its agent cannot connect or act. */
export function revokeExecutor(deps: MembershipDeps): StepExecutor<{ host: string }> {
  return {
    kind: MSTEP.revoke,
    args: Type.Object({ host: Name }),
    async execute(step, ctx) {
      const removed = deps.hosts.revoke(step.args.host, `${TAKEN_OUT_REASON} ${ctx.op.id} (${ctx.op.kind})`);
      return { changed: removed, message: removed ? `${step.args.host} removed from the fleet; its certificate is revoked` : `${step.args.host} is no longer enrolled` };
    },
    async check(step) {
      return { changed: deps.hosts.find(step.args.host) !== null, message: `would remove ${step.args.host} from the fleet and revoke its certificate` };
    },
  };
}

/** Records the spec after the change and releases the lock (one transaction). */
export function finishExecutor(deps: MembershipDeps): StepExecutor {
  return {
    kind: MSTEP.finish,
    async execute(_step, ctx) {
      const input = membershipInputOf(ctx.op);
      deps.repo.finish(input.spec.name, ctx.op.id, input.spec);
      const names = (role: 'etcd' | 'control-plane' | 'worker') => input.spec.hosts.filter((h) => h.roles.includes(role)).length;
      return {
        changed: true,
        message: `cluster ${input.spec.name}: ${names('etcd')} etcd members, ${names('control-plane')} control planes, ${names('worker')} workers; membership lock released`,
      };
    },
    async check(_step, ctx) {
      const input = membershipInputOf(ctx.op);
      return { changed: true, message: `would record cluster ${input.spec.name} with hosts ${input.spec.hosts.map((h) => h.name).join(', ')} and release the lock` };
    },
  };
}

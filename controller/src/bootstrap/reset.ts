/**
 * `cluster reset`: removes what Ballast installed from some or all hosts of a cluster. With a
 * subset, etcd members on those hosts that other members outlive are removed from etcd first, one
 * at a time, through a remaining member's agent — whose quorum guard refuses a removal that would
 * cost the cluster its quorum (the operation then pauses with the numbers, and nothing was wiped).
 * Then the `reset` role runs on the hosts in parallel, with the usual per-host recap.
 */
import { Type } from '@sinclair/typebox';
import { BallastError } from '../../../shared/src/errors.js';
import { ClusterSpecSchema, type ClusterSpec } from '../cluster/spec.js';
import type { OperationKind, StepContext, StepExecutor, StepOutcome, StepSpec, StepView } from '../ops/types.js';
import { clientUrl, hostOf, peerUrl, specOf, wantsDiff } from './cluster-facts.js';
import type { BootstrapDeps } from './deps.js';
import { hostsWithRole } from './plan.js';
import { recapText, runRole } from './role-runner.js';
import { includeAgain, releaseVip } from './vip-release.js';

export const CLUSTER_RESET = 'cluster.reset';

/** The input: the cluster's spec (from its create operation) and the hosts to reset. */
export interface ResetInput {
  spec: ClusterSpec;
  hosts: string[];
}

const Name = Type.String({ pattern: '^[a-z0-9]([a-z0-9.-]{0,61}[a-z0-9])?$' });

/** The steps of a reset of `hosts`. */
export function resetPlan(input: ResetInput): StepSpec[] {
  const targets = new Set(input.hosts);
  const unknown = input.hosts.filter((h) => !input.spec.hosts.some((x) => x.name === h));
  if (unknown.length > 0) throw new BallastError('BALLAST_ERR_VALIDATION', `not hosts of cluster ${input.spec.name}: ${unknown.join(', ')}`, { path: '/input/hosts' });
  const etcd = hostsWithRole(input.spec, 'etcd').map((h) => h.name);
  const remaining = etcd.filter((m) => !targets.has(m));
  const steps: StepSpec[] = [];
  // Only when some members stay: a full reset removes the whole cluster, and removing members one by one would lose quorum on the way.
  if (remaining.length > 0) {
    for (const member of [...etcd].reverse().filter((m) => targets.has(m))) {
      steps.push({ key: `etcd/remove/${member}`, phase: 'etcd', host: member, title: `Remove ${member} from etcd (through ${remaining[0]})`, kind: 'etcd-remove-member', args: { member, through: remaining } });
    }
  }
  steps.push({ key: 'reset', phase: 'reset', title: `Reset ${input.hosts.length} hosts`, kind: 'host-reset', args: { hosts: input.hosts } });
  return steps;
}

export const clusterResetKind: OperationKind<ResetInput> = {
  kind: CLUSTER_RESET,
  input: Type.Object({ spec: ClusterSpecSchema, hosts: Type.Array(Name, { minItems: 1, maxItems: 5000, uniqueItems: true }), diff: Type.Optional(Type.Boolean()) }, { additionalProperties: false }),
  plan: (input) => resetPlan(input),
};

/** Removes one member through the remaining members (the first that answers); `ok` when already gone. */
export function etcdRemoveExecutor(deps: BootstrapDeps): StepExecutor<{ member: string; through: string[] }> {
  const run = (check: boolean) => async (step: StepView<{ member: string; through: string[] }>, ctx: StepContext): Promise<StepOutcome> => {
    const spec = specOf(ctx.op);
    const { member, through } = step.args;
    const [via] = through;
    if (via === undefined) throw new BallastError('BALLAST_ERR_VALIDATION', 'no remaining member to remove through', { path: '/args/through' });
    const outcomes = await runRole({
      runs: deps.runs,
      role: 'etcd-member',
      hosts: [{ host: via, vars: { action: 'remove', member, peerUrls: [peerUrl(hostOf(spec, member))], endpoints: through.map((m) => clientUrl(hostOf(spec, m))) } }],
      check,
      signal: ctx.signal,
      actor: ctx.op.id,
      diff: wantsDiff(ctx.op),
      progress: ctx.progress,
    });
    return { changed: outcomes.some((o) => o.recap.changed > 0), message: `etcd member ${member} removed through ${via}: ${recapText(outcomes)}` };
  };
  return { kind: 'etcd-remove-member', args: Type.Object({ member: Name, through: Type.Array(Name, { minItems: 1, maxItems: 9 }) }), execute: run(false), check: run(true) };
}

/** One host's line of the reset recap (the step's `data.hosts`; `cluster reset` prints them). */
export interface ResetHostRecap {
  host: string;
  runId: string;
  ok: number;
  changed: number;
  failed: number;
  skipped: number;
}

/**
 * The reset role on every host, in parallel. The VIP is released from the hosts first (see
 * vip-release.ts) so that it does not fail over on its own while their etcd stops.
 */
export function hostResetExecutor(deps: BootstrapDeps): StepExecutor<{ hosts: string[] }> {
  const run = (check: boolean) => async (step: StepView<{ hosts: string[] }>, ctx: StepContext): Promise<StepOutcome> => {
    const vip = deps.vip?.();
    const released = !check && vip !== undefined ? await releaseVip(vip, step.args.hosts, ctx.op.id, deps.log) : null;
    const outcomes = await runRole({
      runs: deps.runs,
      role: 'reset',
      hosts: step.args.hosts.map((host) => ({ host, vars: {} })),
      check,
      signal: ctx.signal,
      actor: ctx.op.id,
      diff: wantsDiff(ctx.op),
      progress: ctx.progress,
    });
    if (released !== null && vip !== undefined) await includeAgain(vip, released.excluded, ctx.op.id, deps.log);
    if (!check) {
      // The whole cluster, or only some of its hosts: the rest still run Kubernetes.
      const spec = specOf(ctx.op);
      const all = spec.hosts.every((h) => step.args.hosts.includes(h.name));
      deps.clusters.set(spec.name, all ? 'reset' : 'partly-reset', ctx.op.id);
    }
    const hosts: ResetHostRecap[] = outcomes.map((o) => ({ host: o.host, runId: o.runId, ...o.recap }));
    const per = outcomes.map((o) => `${o.host}: ok=${o.recap.ok} changed=${o.recap.changed}`).join('; ');
    const vipNote = check ? (vip === undefined ? '' : '; would release the VIP from them first') : released === null || released.lines.length === 0 ? '' : `; ${released.lines.join(', ')} first`;
    return {
      changed: outcomes.some((o) => o.recap.changed > 0),
      message: `reset ${outcomes.length} hosts: ${recapText(outcomes)} (${per})${vipNote}`,
      data: { runs: outcomes.map((o) => o.runId), hosts },
    };
  };
  return { kind: 'host-reset', args: Type.Object({ hosts: Type.Array(Name, { minItems: 1, maxItems: 5000 }) }), execute: run(false), check: run(true) };
}

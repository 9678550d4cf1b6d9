/**
 * The last step of `cluster create`: summarises what the cluster is and records it as `created`
 * (store/clusters.ts). The create operation holds the spec (`ballastctl cluster status` reads the
 * newest create of a cluster); the lifecycle row says where the cluster stands since.
 */
import type { StepExecutor, StepOutcome, StepView, StepContext } from '../../ops/types.js';
import { specOf } from '../cluster-facts.js';
import type { BootstrapDeps } from '../deps.js';
import { hostsWithRole, STEP } from '../plan.js';

export function recordExecutor(deps: Pick<BootstrapDeps, 'clusters'>): StepExecutor {
  const run = (check: boolean) => async (_step: StepView, ctx: StepContext): Promise<StepOutcome> => {
    const spec = specOf(ctx.op);
    const count = (role: 'etcd' | 'control-plane' | 'worker') => hostsWithRole(spec, role).length;
    const summary = { etcd: count('etcd'), controlPlane: count('control-plane'), workers: count('worker'), vip: spec.vip.address };
    const what = `${summary.etcd} etcd members, ${summary.controlPlane} control planes, ${summary.workers} workers, VIP ${summary.vip}`;
    if (!check) deps.clusters.set(spec.name, 'created', ctx.op.id);
    return { changed: false, message: check ? `would create cluster ${spec.name}: ${what}` : `cluster ${spec.name}: ${what}`, data: summary };
  };
  return { kind: STEP.record, execute: run(false), check: run(true) };
}

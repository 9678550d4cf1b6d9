/**
 * The last step of `cluster create`: summarises what the cluster is. The operation itself is the
 * record (`ballastctl cluster status` reads the newest successful create of a cluster), so this
 * step stores nothing beyond its result.
 */
import type { StepExecutor, StepOutcome, StepView, StepContext } from '../../ops/types.js';
import { specOf } from '../cluster-facts.js';
import { hostsWithRole, STEP } from '../plan.js';

export function recordExecutor(): StepExecutor {
  const run = (check: boolean) => async (_step: StepView, ctx: StepContext): Promise<StepOutcome> => {
    const spec = specOf(ctx.op);
    const count = (role: 'etcd' | 'control-plane' | 'worker') => hostsWithRole(spec, role).length;
    const summary = { etcd: count('etcd'), controlPlane: count('control-plane'), workers: count('worker'), vip: spec.vip.address };
    const what = `${summary.etcd} etcd members, ${summary.controlPlane} control planes, ${summary.workers} workers, VIP ${summary.vip}`;
    return { changed: false, message: check ? `would create cluster ${spec.name}: ${what}` : `cluster ${spec.name}: ${what}`, data: summary };
  };
  return { kind: STEP.record, execute: run(false), check: run(true) };
}

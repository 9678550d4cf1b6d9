/** The `cluster.recover` operation kind and its executors, for ops/catalogue.ts. */
import { checkClusterDocument } from '../cluster/spec.js';
import { throwProblems } from '../ops/plan.js';
import type { OperationKind, StepExecutor } from '../ops/types.js';
import { finishExecutor, guardExecutor, lockExecutor, snapshotExecutor } from './executors.js';
import { recoverPlan } from './plan.js';
import { recoveryRoleExecutors } from './role-steps.js';
import { controlPlaneMarksExecutor } from './control-plane-marks.js';
import { CLUSTER_RECOVER, type RecoverInput, RecoverInputSchema, type RecoveryDeps } from './types.js';

export const clusterRecoverKind: OperationKind<RecoverInput> = {
  kind: CLUSTER_RECOVER,
  input: RecoverInputSchema,
  plan(input) {
    const checked = checkClusterDocument(input.spec);
    if (!checked.ok) throwProblems('plan cluster recover', checked.problems.map((p) => ({ path: `/spec${p.path}`, message: p.message })));
    return recoverPlan(input, checked.spec);
  },
};

/** The executors only a recovery uses (the bootstrap's etcd install, join and health and the /readyz gate are reused). */
export function recoveryExecutors(deps: RecoveryDeps): StepExecutor<never>[] {
  return [lockExecutor(deps), guardExecutor(deps), snapshotExecutor(deps), finishExecutor(deps), controlPlaneMarksExecutor(deps), ...recoveryRoleExecutors(deps)] as StepExecutor<never>[];
}

/**
 * The operation kinds and step executors the production controller knows: `cluster.create` (the
 * rolling HA bootstrap), `cluster.reset`, and `node.replace | add | remove` (membership/kinds.ts), `cluster.recover` (recovery/kind.ts). Test-only kinds are injected by tests, never shipped here. Add a kind by
 * appending it (and its executors) below; controller.ts registers this set before `recover()`, so
 * operations resumed after a restart find their executors.
 */
import type { BootstrapDeps } from '../bootstrap/deps.js';
import { bootstrapExecutors, clusterCreateKind } from '../bootstrap/kind.js';
import { clusterResetKind } from '../bootstrap/reset.js';
import { membershipExecutors, membershipKinds } from '../membership/kinds.js';
import type { MembershipDeps } from '../membership/types.js';
import { clusterRecoverKind, recoveryExecutors } from '../recovery/kind.js';
import type { RecoveryDeps } from '../recovery/types.js';
import type { OperationKind, OperationRegistry, StepExecutor } from './types.js';

/** The production registry; executors get their dependencies through `deps`. */
export function operationCatalogue(deps: { bootstrap: BootstrapDeps; membership?: MembershipDeps; recovery?: RecoveryDeps }): OperationRegistry {
  const kinds = [clusterCreateKind as OperationKind<unknown>, clusterResetKind as OperationKind<unknown>];
  const executors = bootstrapExecutors(deps.bootstrap) as StepExecutor<unknown>[];
  if (deps.membership !== undefined) {
    kinds.push(...(membershipKinds as OperationKind<unknown>[]));
    executors.push(...(membershipExecutors(deps.membership) as StepExecutor<unknown>[]));
  }
  if (deps.recovery !== undefined) {
    kinds.push(clusterRecoverKind as OperationKind<unknown>);
    executors.push(...(recoveryExecutors(deps.recovery) as StepExecutor<unknown>[]));
  }
  return { kinds, executors };
}

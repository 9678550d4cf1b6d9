/**
 * The operation kinds and step executors the production controller knows: `cluster.create` (the
 * rolling HA bootstrap) and `cluster.reset`. Test-only kinds are injected by tests, never shipped here. Add a kind by
 * appending it (and its executors) below; controller.ts registers this set before `recover()`, so
 * operations resumed after a restart find their executors.
 */
import type { BootstrapDeps } from '../bootstrap/deps.js';
import { bootstrapExecutors, clusterCreateKind } from '../bootstrap/kind.js';
import { clusterResetKind } from '../bootstrap/reset.js';
import type { OperationKind, OperationRegistry, StepExecutor } from './types.js';

/** The production registry; executors get their dependencies through `deps`. */
export function operationCatalogue(deps: { bootstrap: BootstrapDeps }): OperationRegistry {
  return {
    kinds: [clusterCreateKind as OperationKind<unknown>, clusterResetKind as OperationKind<unknown>],
    executors: bootstrapExecutors(deps.bootstrap) as StepExecutor<unknown>[],
  };
}

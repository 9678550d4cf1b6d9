/**
 * The `cluster.create` operation kind and the executors of its steps, for the operations engine's
 * catalogue (ops/catalogue.ts).
 */
import { Type } from '@sinclair/typebox';
import { ClusterSpecSchema } from '../cluster/spec.js';
import type { OperationKind, StepExecutor } from '../ops/types.js';
import type { CreateInput } from './cluster-facts.js';
import type { BootstrapDeps } from './deps.js';
import { etcdFirstMemberExecutor, etcdHealthExecutor, etcdInstallExecutor, etcdJoinExecutor } from './executors/etcd.js';
import {
  kubeCniExecutor,
  kubeInitExecutor,
  kubeJoinControlPlaneExecutor,
  kubeJoinWorkersExecutor,
  kubeNodesReadyExecutor,
  kubeReadyExecutor,
} from './executors/kube.js';
import { hostsInstallExecutor } from './executors/hosts.js';
import { hostRoleExecutor, pkiExecutor, preflightExecutor, validateExecutor } from './executors/prepare.js';
import { recordExecutor } from './executors/record.js';
import { vipExecutor } from './executors/vip.js';
import { bootstrapPlan } from './plan.js';
import { etcdRemoveExecutor, hostResetExecutor } from './reset.js';

export const CLUSTER_CREATE = 'cluster.create';

/** `cluster create`: input `{ spec }`, the cluster document with defaults applied and the CNI manifest inline. */
export const clusterCreateKind: OperationKind<CreateInput> = {
  kind: CLUSTER_CREATE,
  input: Type.Object({ spec: ClusterSpecSchema, diff: Type.Optional(Type.Boolean()) }, { additionalProperties: false }),
  plan: (input) => bootstrapPlan(input.spec),
};

/** Every executor the bootstrap plan uses. */
export function bootstrapExecutors(deps: BootstrapDeps): StepExecutor<never>[] {
  return [
    validateExecutor(deps),
    preflightExecutor(deps),
    pkiExecutor(deps),
    hostRoleExecutor(deps),
    hostsInstallExecutor(deps),
    etcdInstallExecutor(deps),
    etcdFirstMemberExecutor(deps),
    etcdJoinExecutor(deps),
    etcdHealthExecutor(deps),
    vipExecutor(deps),
    kubeInitExecutor(deps),
    kubeReadyExecutor(deps),
    kubeCniExecutor(deps),
    kubeJoinControlPlaneExecutor(deps),
    kubeJoinWorkersExecutor(deps),
    kubeNodesReadyExecutor(deps),
    recordExecutor(deps),
    etcdRemoveExecutor(deps),
    hostResetExecutor(deps),
  ] as StepExecutor<never>[];
}

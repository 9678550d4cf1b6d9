/**
 * The `node.replace`, `node.add` and `node.remove` operation kinds and their executors, for the
 * operations engine's catalogue (ops/catalogue.ts). The bootstrap's executors they reuse
 * (preflight, pki, host roles, etcd join and health, kubeadm join, VIP, gates) are registered by
 * the bootstrap's own list; these are the ones only membership changes need.
 */
import type { OperationKind, StepExecutor } from '../ops/types.js';
import { clusterCheckExecutor, finishExecutor, lockExecutor, revokeExecutor } from './executors-flow.js';
import { drainExecutor, etcdRemoveExecutor, fenceExecutor, kubeadmEtcdExecutor, nodeDeleteExecutor, stopOldExecutor, taintExecutor } from './executors-out.js';
import { membershipPlan } from './plan.js';
import { type MembershipDeps, type MembershipInput, MembershipInputSchema, type MembershipKind, NODE_ADD, NODE_REMOVE, NODE_REPLACE } from './types.js';

function kindOf(kind: MembershipKind): OperationKind<MembershipInput> {
  return { kind, input: MembershipInputSchema, plan: (input) => membershipPlan(kind, input) };
}

export const nodeReplaceKind = kindOf(NODE_REPLACE);
export const nodeAddKind = kindOf(NODE_ADD);
export const nodeRemoveKind = kindOf(NODE_REMOVE);
export const membershipKinds: OperationKind<MembershipInput>[] = [nodeReplaceKind, nodeAddKind, nodeRemoveKind];

/** The executors only membership changes use. */
export function membershipExecutors(deps: MembershipDeps): StepExecutor<never>[] {
  return [
    lockExecutor(deps),
    clusterCheckExecutor(deps),
    drainExecutor(deps),
    stopOldExecutor(deps),
    fenceExecutor(deps),
    taintExecutor(deps),
    etcdRemoveExecutor(deps),
    nodeDeleteExecutor(deps),
    kubeadmEtcdExecutor(deps),
    revokeExecutor(deps),
    finishExecutor(deps),
  ] as StepExecutor<never>[];
}

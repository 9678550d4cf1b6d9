/**
 * A cluster's lifecycle — where it stands — as `cluster list` and `cluster status` show it, apart
 * from how its last operation went. A full reset used to leave the cluster listed as `succeeded`
 * (its create operation's outcome). The settled states come from the store (written by the step
 * that settles them); the states in between from the newest unfinished or failed operation.
 */
import type { ClusterLifecycle } from '../../../shared/src/clusters-api.js';
import type { OperationEngine } from '../ops/engine.js';
import type { ClusterLifecycleRepo } from '../store/clusters.js';
import { CLUSTER_CREATE } from './kind.js';
import { CLUSTER_RESET } from './reset.js';

/** The newest real (non-check) create or reset of a cluster. */
export interface LastOperation {
  id: string;
  kind: string;
  state: string;
}

/** The newest non-check `cluster.create` or `cluster.reset` of every cluster. */
export function lastOperations(ops: Pick<OperationEngine, 'list'>): Map<string, LastOperation> {
  const out = new Map<string, LastOperation>();
  for (const item of ops.list(1000)) {
    if (item.cluster === null || item.check || out.has(item.cluster)) continue;
    if (item.kind !== CLUSTER_CREATE && item.kind !== CLUSTER_RESET) continue;
    out.set(item.cluster, { id: item.id, kind: item.kind, state: item.state });
  }
  return out;
}

/** Where `cluster` stands given its last operation and its stored lifecycle. */
export function lifecycleOf(cluster: string, last: LastOperation | undefined, repo: Pick<ClusterLifecycleRepo, 'get'>): ClusterLifecycle {
  const stored = repo.get(cluster);
  if (last === undefined) return stored?.lifecycle ?? 'created';
  const create = last.kind === CLUSTER_CREATE;
  if (last.state === 'pending' || last.state === 'running' || last.state === 'paused') return create ? 'creating' : 'resetting';
  if (last.state === 'failed' || last.state === 'aborted') return create ? 'create-failed' : 'reset-failed';
  // Succeeded: the step that settled it recorded which state (a reset of some hosts or all).
  if (stored !== null && stored.operationId === last.id) return stored.lifecycle;
  return create ? 'created' : 'reset';
}

/**
 * Who may download a snapshot (routes/recover.ts): an etcd host of the cluster, while a
 * `cluster.recover` operation of that cluster that restores this snapshot holds the membership
 * lock and runs for real (not a check). A snapshot holds every Secret of the cluster, so no other
 * host, and no host at another time, gets it.
 */
import { BallastError } from '../../../shared/src/errors.js';
import { isOperationFinished } from '../../../shared/src/ops-api.js';
import { hostsWithRole } from '../bootstrap/plan.js';
import type { OperationEngine } from '../ops/engine.js';
import { recoverInputOf } from './input.js';
import { CLUSTER_RECOVER, type RecoveryDeps } from './types.js';

/** The sha256 the operation planned with, when `host` may download snapshot `id` of `cluster`; BALLAST_ERR_FORBIDDEN otherwise. */
export function authorizeSnapshotDownload(
  deps: { repo: RecoveryDeps['repo']; ops: Pick<OperationEngine, 'find'> },
  req: { cluster: string; id: string; host: string },
): string {
  const refused = new BallastError('BALLAST_ERR_FORBIDDEN', `failed to serve snapshot ${req.id}: no running recovery of cluster ${req.cluster} restores it onto ${req.host || 'this caller'}`);
  const lock = deps.repo.lock(req.cluster);
  if (lock === null || lock.kind !== CLUSTER_RECOVER) throw refused;
  const op = deps.ops.find(lock.operationId);
  if (op.kind !== CLUSTER_RECOVER || op.check || isOperationFinished(op.state)) throw refused;
  const input = recoverInputOf(op);
  if (input.snapshot?.id !== req.id || !hostsWithRole(input.spec, 'etcd').some((h) => h.name === req.host)) throw refused;
  return input.snapshot.sha256;
}

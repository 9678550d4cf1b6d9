/**
 * The snapshot policy in force for a cluster: the one set with `ballastctl etcd schedule set`
 * (stored), else cluster.yaml's `snapshots:`, else the defaults (cluster/snapshot-spec.ts). A
 * `schedule set` merges its fields into the policy in force and stores the result, so it survives
 * later cluster changes; `schedule reset` (an empty update with `reset`) is not needed: setting the
 * fields back is explicit enough.
 */
import { BallastError } from '../../../shared/src/errors.js';
import type { SnapshotPolicyInfo } from '../../../shared/src/etcd-api.js';
import { checkSnapshotPolicy, defaultSnapshotPolicy, type SnapshotPolicy } from '../cluster/snapshot-spec.js';
import type { ClusterSpec } from '../cluster/spec.js';
import type { SnapshotRepo } from '../store/snapshots.js';

/** Reads and updates policies. */
export interface PolicySource {
  info(cluster: string): SnapshotPolicyInfo;
  policy(cluster: string): SnapshotPolicy;
  /** Merges `changes` into the policy in force and stores it; BALLAST_ERR_VALIDATION listing every problem. */
  update(cluster: string, changes: Partial<SnapshotPolicy>): SnapshotPolicyInfo;
}

/** The production source. */
export function policySource(repo: Pick<SnapshotRepo, 'policy' | 'setPolicy'>, spec: (cluster: string) => ClusterSpec | null): PolicySource {
  function info(cluster: string): SnapshotPolicyInfo {
    const stored = repo.policy(cluster);
    if (stored !== null) {
      const checked = checkSnapshotPolicy(stored);
      if (checked.ok) return { cluster, source: 'ballastctl', policy: checked.policy };
    }
    const fromSpec = spec(cluster)?.snapshots;
    if (fromSpec !== undefined) {
      // A spec stored by an earlier version lacks later fields (autoDefrag …): their defaults apply.
      const checked = checkSnapshotPolicy(fromSpec);
      return { cluster, source: 'cluster.yaml', policy: checked.ok ? checked.policy : fromSpec };
    }
    return { cluster, source: 'default', policy: defaultSnapshotPolicy() };
  }
  return {
    info,
    policy: (cluster) => info(cluster).policy,
    update(cluster, changes) {
      if (spec(cluster) === null) throw new BallastError('BALLAST_ERR_NOT_FOUND', `failed to set the snapshot policy of cluster ${cluster}: it was never created`);
      const merged = { ...info(cluster).policy, ...Object.fromEntries(Object.entries(changes).filter(([, v]) => v !== undefined)) };
      const checked = checkSnapshotPolicy(merged);
      if (!checked.ok) {
        throw new BallastError('BALLAST_ERR_VALIDATION', `failed to set the snapshot policy of cluster ${cluster}: ${checked.problems.map((p) => `${p.path}: ${p.message}`).join('; ')}`, {
          path: checked.problems[0]?.path,
        });
      }
      repo.setPolicy(cluster, checked.policy);
      return { cluster, source: 'ballastctl', policy: checked.policy };
    },
  };
}

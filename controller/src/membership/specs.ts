/**
 * Each cluster's current spec: the one its newest membership change recorded (store/membership.ts),
 * unless a `cluster create` ran after it; otherwise the newest create's. `cluster reset` and
 * `cluster status` read it too, so a replaced host is no longer the cluster's.
 */
import { specOf } from '../bootstrap/cluster-facts.js';
import { newestCreates } from '../bootstrap/status.js';
import { type ClusterSpec, checkClusterDocument } from '../cluster/spec.js';
import type { OperationEngine } from '../ops/engine.js';
import type { MembershipRepo } from '../store/membership.js';
import type { SpecSource } from './start.js';

/** The production {@link SpecSource}. */
export function specSource(ops: Pick<OperationEngine, 'list' | 'find'>, repo: Pick<MembershipRepo, 'spec'>): SpecSource {
  return {
    clusters: () => [...newestCreates(ops).keys()],
    current(cluster) {
      const create = newestCreates(ops).get(cluster);
      if (create === undefined) return null;
      const stored = repo.spec(cluster);
      if (stored !== null && stored.updatedAt >= create.createdAt) {
        const checked = checkClusterDocument(stored.spec);
        if (checked.ok) return checked.spec;
      }
      return specOf(create) as ClusterSpec;
    },
  };
}

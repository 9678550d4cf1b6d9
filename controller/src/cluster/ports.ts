/**
 * The production adapter of the cluster validator's host port, over the store (enrolment, facts,
 * health) and the tracker (live state, session, failing checks) — the same pair the run
 * orchestrator's targets use (runs/wiring.ts).
 */
import type { HostTracker } from '../hub/host-tracker.js';
import { goArch } from '../runs/wiring.js';
import type { Store } from '../store/store.js';
import type { ClusterValidationPorts } from './validate.js';

/** Cluster hosts by name from the store and the tracker; the tracker's state wins (it is live). */
export function storeClusterHosts(store: Pick<Store, 'hosts'>, tracker: Pick<HostTracker, 'get'>): NonNullable<ClusterValidationPorts['hosts']> {
  return {
    find(name) {
      const host = store.hosts.getByName(name);
      if (host === null) return null;
      const live = tracker.get(host.id);
      return {
        name: host.name,
        state: live?.state ?? host.state,
        connected: (live?.session ?? null) !== null,
        arch: host.facts === null ? null : goArch(host.facts.os.arch),
        facts: host.facts,
        health: host.health,
        failingChecks: live?.failingChecks ?? [],
      };
    },
  };
}

/**
 * The production adapter of the cluster validator's host port, over the host directory (the same
 * view the run orchestrator's targets use, runs/wiring.ts).
 */
import type { HostDirectory } from '../fleet/directory.js';
import type { ClusterValidationPorts } from './validate.js';

/** Cluster hosts by name; state, connection and failing checks are the tracker's (they are live). */
export function clusterHosts(hosts: Pick<HostDirectory, 'get'>): NonNullable<ClusterValidationPorts['hosts']> {
  return {
    find(name) {
      const host = hosts.get(name);
      if (host === null) return null;
      const { state, connected, arch, facts, health, failingChecks } = host;
      return { name: host.name, state, connected, arch, facts, health, failingChecks };
    },
  };
}

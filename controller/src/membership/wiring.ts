/**
 * The production {@link MembershipDeps}: the fleet directory for reachability, the store and the
 * tracker for revoking a replaced host (as `host remove` does), the real Kubernetes node client,
 * and the fence agents of `<data dir>/fencing.yaml`.
 */
import { join } from 'node:path';
import type { BootstrapDeps } from '../bootstrap/deps.js';
import type { HostDirectory, HostView } from '../fleet/directory.js';
import type { HostTracker } from '../hub/host-tracker.js';
import { createKubeNodeOps } from '../kube/node-ops.js';
import type { Store } from '../store/store.js';
import { createFencePort, loadFencingConfig } from './fence.js';
import type { FleetHostView, MembershipDeps } from './types.js';

/** What {@link createMembershipDeps} needs. */
export interface MembershipWiring {
  store: Pick<Store, 'hosts' | 'events' | 'membership'>;
  directory: Pick<HostDirectory, 'get'>;
  tracker: Pick<HostTracker, 'remove'>;
  bootstrap: BootstrapDeps;
  dataDir: string;
  now: () => number;
  /** The hub's heartbeat interval (the self-fence wait's margin); default 1 s. */
  heartbeatIntervalMs?: number;
}

/**
 * A host as membership sees it. `connected` means *reachable*: an open session whose heartbeats are
 * fresh. A power cut or a partition closes no socket (no FIN reaches the controller), so the
 * session stays open for minutes while the tracker already says `unreachable` (3 s without a
 * heartbeat): counting that host as online planned a drain and a reset on a dead machine instead
 * of fencing it — seen in the real-Kubernetes lab, where the automatic replacement of a powered-off
 * host hung in old/reset.
 */
export function fleetHostView(h: Pick<HostView, 'connected' | 'state' | 'address'> & Partial<Pick<HostView, 'lastHeartbeatAt' | 'facts'>>): FleetHostView {
  return { connected: h.connected && h.state !== 'unreachable', address: h.address, lastHeartbeatAt: h.lastHeartbeatAt ?? null, selfFence: h.facts?.selfFence ?? null };
}

/** Reads fencing.yaml (BALLAST_ERR_CONFIG when invalid: the controller refuses to start) and builds the deps. */
export function createMembershipDeps(w: MembershipWiring): MembershipDeps {
  const fencing = loadFencingConfig(join(w.dataDir, 'fencing.yaml'));
  return {
    bootstrap: w.bootstrap,
    repo: w.store.membership,
    hosts: {
      find(name) {
        const h = w.directory.get(name);
        return h === null ? null : fleetHostView(h);
      },
      revoke(name, reason) {
        const host = w.store.hosts.getByName(name);
        if (host === null) return false;
        w.store.hosts.remove(host.id, w.now(), reason);
        w.tracker.remove(host.id);
        w.store.events.append({ host: name, kind: 'removed', message: `host removed (${reason}); certificate ${host.certSerial} revoked`, data: { certSerial: host.certSerial } });
        return true;
      },
      revokedReason(name) {
        const host = w.store.hosts.getByName(name, { includeRemoved: true });
        return host === null ? null : w.store.hosts.revocationReason(host.certSerial);
      },
    },
    kubeNodes: (opts) => createKubeNodeOps(opts),
    fence: createFencePort(fencing),
    selfFenceWait: { heartbeatIntervalMs: w.heartbeatIntervalMs ?? 1000, now: w.now },
  };
}

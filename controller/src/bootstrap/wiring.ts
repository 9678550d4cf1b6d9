/**
 * The production {@link BootstrapDeps}: the run orchestrator, the cluster PKI over the store, the
 * validator over the live fleet and mirror, and real etcd and Kubernetes clients.
 */
import type { Logger } from 'pino';
import { BallastError } from '../../../shared/src/errors.js';
import { createEtcdClient } from '../../../shared/src/etcd/client.js';
import { clusterHosts } from '../cluster/fleet-hosts.js';
import { validateCluster } from '../cluster/validate.js';
import type { HostDirectory } from '../fleet/directory.js';
import { createKubeApi } from '../kube/client.js';
import { ClusterPki, type ClusterPkiBundle } from '../pki/cluster-pki.js';
import type { ClusterPkiRepo } from '../store/cluster-pki.js';
import type { RunOrchestrator } from '../runs/orchestrator.js';
import { mirrorLookup } from '../runs/wiring.js';
import type { Store } from '../store/store.js';
import type { BootstrapDeps } from './deps.js';
import type { VipReleasePort } from './vip-release.js';

/** What {@link createBootstrapDeps} needs. */
export interface BootstrapWiring {
  store: Pick<Store, 'artifacts' | 'clusterPki' | 'clusters'>;
  hosts: Pick<HostDirectory, 'get'>;
  runs: RunOrchestrator;
  log: Logger;
  /** The VIP service (built after these deps), to release the VIP before a reset. */
  vip?: () => VipReleasePort | undefined;
}

/** How long a preview bundle is reused: the steps of one check-mode operation then share one. */
const PREVIEW_TTL_MS = 10 * 60_000;

/** The ports over the cluster PKI store: {@link BootstrapDeps.pki} and {@link BootstrapDeps.readPki}. */
export type ClusterPkiPorts = Pick<BootstrapDeps, 'pki' | 'readPki'>;

/**
 * {@link BootstrapDeps.pki} and {@link BootstrapDeps.readPki} over the store. A preview issues what
 * is missing in memory only (reads go to the store, writes are dropped) and is memoised per
 * cluster, inputs and stored items, so every step of a check-mode operation renders with the same
 * certificates (and keys are generated once, not per step). A preview is for the preview only:
 * once the store changes (a real create issued the PKI) the memo no longer matches, and a status
 * reads the store through readPki, never through the memo — a status that used a preview's
 * in-memory CAs reported a healthy etcd as failing certificate verification.
 */
export function clusterPkiPorts(repo: Pick<ClusterPkiRepo, 'list' | 'putAll'>, log: Logger): ClusterPkiPorts {
  const pki = new ClusterPki({ repo, log });
  const readOnly = { list: (cluster: string) => repo.list(cluster), putAll: () => undefined };
  const preview = new ClusterPki({ repo: readOnly, log });
  const previews = new Map<string, { at: number; bundle: Promise<ClusterPkiBundle> }>();
  /** What the store holds for `cluster`: a preview made over other items must not be reused. */
  const storedState = (cluster: string) =>
    repo
      .list(cluster)
      .map((r) => `${r.name}@${r.createdAt}`)
      .sort()
      .join(',');
  return {
    pki: (cluster, inputs, isPreview) => {
      if (!isPreview) return pki.ensure(cluster, inputs);
      const key = `${cluster}\n${JSON.stringify(inputs)}\n${storedState(cluster)}`;
      const now = Date.now();
      for (const [k, v] of previews) if (now - v.at > PREVIEW_TTL_MS) previews.delete(k);
      const hit = previews.get(key);
      if (hit !== undefined) return hit.bundle;
      const bundle = preview.ensure(cluster, inputs);
      previews.set(key, { at: now, bundle });
      bundle.catch(() => previews.delete(key));
      return bundle;
    },
    readPki: async (cluster, inputs) => {
      if (repo.list(cluster).length === 0) {
        throw new BallastError('BALLAST_ERR_NOT_FOUND', `failed to read the PKI of cluster "${cluster}": none is stored (cluster create has not issued it yet)`);
      }
      // Not memoised and nothing stored: an item ensure would renew is issued in memory by the stored CA.
      return new ClusterPki({ repo: readOnly, log }).ensure(cluster, inputs);
    },
  };
}

export function createBootstrapDeps(w: BootstrapWiring): BootstrapDeps {
  const log = w.log.child({ component: 'bootstrap' });
  const hosts = clusterHosts(w.hosts);
  const artifacts = mirrorLookup(w.store.artifacts);
  return {
    runs: w.runs,
    ...clusterPkiPorts(w.store.clusterPki, log),
    clusters: w.store.clusters,
    ...(w.vip === undefined ? {} : { vip: w.vip }),
    validate: (spec) => validateCluster(spec, { hosts, artifacts }),
    etcd: (opts) => createEtcdClient({ ...opts, log }),
    kube: (opts) => createKubeApi(opts),
    log,
  };
}

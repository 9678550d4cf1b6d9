/**
 * The production {@link BootstrapDeps}: the run orchestrator, the cluster PKI over the store, the
 * validator over the live fleet and mirror, and real etcd and Kubernetes clients.
 */
import type { Logger } from 'pino';
import { createEtcdClient } from '../../../shared/src/etcd/client.js';
import { clusterHosts } from '../cluster/ports.js';
import { validateCluster } from '../cluster/validate.js';
import type { HostDirectory } from '../fleet/directory.js';
import { createKubeApi } from '../kube/client.js';
import { ClusterPki, type ClusterPkiBundle } from '../pki/cluster-pki.js';
import type { ClusterPkiRepo } from '../store/cluster-pki.js';
import type { RunOrchestrator } from '../runs/orchestrator.js';
import { mirrorLookup } from '../runs/wiring.js';
import type { Store } from '../store/store.js';
import type { BootstrapDeps } from './deps.js';

/** What {@link createBootstrapDeps} needs. */
export interface BootstrapWiring {
  store: Pick<Store, 'artifacts' | 'clusterPki'>;
  hosts: Pick<HostDirectory, 'get'>;
  runs: RunOrchestrator;
  log: Logger;
}

/** How long a preview bundle is reused: the steps of one check-mode operation then share one. */
const PREVIEW_TTL_MS = 10 * 60_000;

/**
 * {@link BootstrapDeps.pki} over the store. A preview issues what is missing in memory only (reads
 * go to the store, writes are dropped) and is memoised per cluster and inputs, so every step of a
 * check-mode operation renders with the same certificates (and keys are generated once, not per step).
 */
export function clusterPkiPort(repo: Pick<ClusterPkiRepo, 'list' | 'putAll'>, log: Logger): BootstrapDeps['pki'] {
  const pki = new ClusterPki({ repo, log });
  const preview = new ClusterPki({ repo: { list: (cluster) => repo.list(cluster), putAll: () => undefined }, log });
  const previews = new Map<string, { at: number; bundle: Promise<ClusterPkiBundle> }>();
  return (cluster, inputs, isPreview) => {
    if (!isPreview) return pki.ensure(cluster, inputs);
    const key = `${cluster}\n${JSON.stringify(inputs)}`;
    const now = Date.now();
    for (const [k, v] of previews) if (now - v.at > PREVIEW_TTL_MS) previews.delete(k);
    const hit = previews.get(key);
    if (hit !== undefined) return hit.bundle;
    const bundle = preview.ensure(cluster, inputs);
    previews.set(key, { at: now, bundle });
    bundle.catch(() => previews.delete(key));
    return bundle;
  };
}

export function createBootstrapDeps(w: BootstrapWiring): BootstrapDeps {
  const log = w.log.child({ component: 'bootstrap' });
  const hosts = clusterHosts(w.hosts);
  const artifacts = mirrorLookup(w.store.artifacts);
  return {
    runs: w.runs,
    pki: clusterPkiPort(w.store.clusterPki, log),
    validate: (spec) => validateCluster(spec, { hosts, artifacts }),
    etcd: (opts) => createEtcdClient({ ...opts, log }),
    kube: (opts) => createKubeApi(opts),
    log,
  };
}

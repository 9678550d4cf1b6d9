/**
 * `kubeadm join --control-plane` takes the ClusterConfiguration from the cluster (the
 * kube-system/kubeadm-config ConfigMap), not from the join config: with external etcd, a new
 * control plane's kube-apiserver gets `--etcd-servers` from `etcd.external.endpoints` as the
 * first `kubeadm init` wrote it. After a replacement those are the old members — the removed
 * OLD's address, never NEW's — so each replacement leaves the new API servers with fewer live etcd
 * endpoints, until none (seen against the real kubeadm 1.36 in the lab: the spare joined with
 * the dead init node's endpoint and without its own). The membership operations therefore
 * rewrite the list to the cluster's etcd members after the change before NEW joins.
 */
import { parse, stringify } from 'yaml';
import type { KubeNodeOps } from '../kube/node-ops.js';
import type { KubeOutcome } from './drain.js';

/** Sets ClusterConfiguration.etcd.external.endpoints to `endpoints` when the cluster uses external etcd. */
export async function ensureKubeadmEtcdEndpoints(api: Pick<KubeNodeOps, 'getConfigMap' | 'putConfigMapData'>, endpoints: readonly string[]): Promise<KubeOutcome> {
  const cm = await api.getConfigMap('kube-system', 'kubeadm-config');
  const raw = cm?.data.ClusterConfiguration;
  if (cm === null || raw === undefined) return { changed: false, message: 'no kubeadm ClusterConfiguration in the cluster: nothing to update' };
  const config = parse(raw) as { etcd?: { external?: { endpoints?: string[]; httpEndpoints?: string[] } } } | null;
  const external = config?.etcd?.external;
  if (config === null || external === undefined) return { changed: false, message: 'kubeadm runs etcd itself (no external endpoints): nothing to update' };
  const same = (list: string[] | undefined) => JSON.stringify(list ?? []) === JSON.stringify(endpoints);
  // kubeadm ≥ 1.36 also keeps `httpEndpoints`, defaulted from `endpoints` at init (seen in the lab:
  // the removed member stayed there). Kept in step while it mirrors them; one set apart is left alone.
  const mirrored = external.httpEndpoints !== undefined && JSON.stringify(external.httpEndpoints) === JSON.stringify(external.endpoints ?? []);
  if (same(external.endpoints) && (external.httpEndpoints === undefined || !mirrored || same(external.httpEndpoints))) {
    return { changed: false, message: `kubeadm's etcd endpoints are already ${endpoints.join(',')}` };
  }
  external.endpoints = [...endpoints];
  if (mirrored) external.httpEndpoints = [...endpoints];
  await api.putConfigMapData('kube-system', 'kubeadm-config', { ...cm.data, ClusterConfiguration: stringify(config) }, cm.resourceVersion);
  return { changed: true, message: `kubeadm's etcd endpoints set to ${endpoints.join(',')}` };
}

import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { checkClusterDocument, type ClusterSpec } from '../../../controller/src/cluster/spec.js';
import { cachedBuild, KUBE_BINS, type KubeLabBundle, kubeLabBundle } from '../../support/kube-bundle.js';
import { type RunOptions, type RunResult, run } from './exec.js';
import type { Lab } from './lab.js';
import { writeLabConflist } from './pod-net.js';

/**
 * A real Kubernetes cluster on lab hosts (issue 11): the source-built bundle in the mirror, the
 * lab's pod network on every host, and a cluster.yaml for `ballastctl cluster create` — the first
 * `controlPlane` hosts etcd + control plane, the rest workers, the VIP as controlPlaneEndpoint.
 * The cluster runs on cgroup v1 inside systemd-nspawn, so it says so (`node`), and it has no
 * images for CoreDNS or a kube-proxy DaemonSet's CNI add-on, so those add-ons are off.
 */
export const KUBE_VIP = '198.18.0.250';

export interface KubeClusterSetup {
  bundle: KubeLabBundle;
  clusterFile: string;
  spec: ClusterSpec;
  hosts: string[];
  controlPlane: string[];
}

export async function prepareKubeCluster(
  lab: Lab,
  opts: { controlPlane: number; work: string; name?: string; log: (msg: string) => void },
): Promise<KubeClusterSetup> {
  const bundle = await kubeLabBundle({ log: opts.log });
  const t0 = Date.now();
  // ~620 MiB through the controller's API: 20 s (ctl's default) is not enough on a loaded machine (seen: 50% after 20 s).
  await lab.ctlJson(['artifacts', 'import', bundle.path, '-o', 'json'], { timeoutMs: 600_000 });
  opts.log(`imported the Kubernetes lab bundle (${bundle.manifest.length} artifacts) in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  const hosts = lab.state.hosts.map((h) => h.name);
  const controlPlane = hosts.slice(0, opts.controlPlane);
  for (const h of lab.state.hosts) writeLabConflist(h);
  const doc = {
    apiVersion: 'ballast.dev/v1alpha1',
    kind: 'Cluster',
    name: opts.name ?? 'lab',
    versions: bundle.versions,
    vip: { address: KUBE_VIP, interface: 'eth0' },
    node: { cgroupDriver: 'cgroupfs', allowCgroupV1: true, restrictOomScoreAdj: true },
    addons: { coreDns: false, kubeProxy: false },
    hosts: lab.state.hosts.map((h) => ({ name: h.name, address: h.address, roles: controlPlane.includes(h.name) ? ['etcd', 'control-plane'] : ['worker'] })),
    rollout: { workerBatch: 1 },
  };
  const checked = checkClusterDocument(doc);
  if (!checked.ok) throw new Error(`the lab's cluster.yaml is invalid: ${JSON.stringify(checked.problems)}`);
  mkdirSync(opts.work, { recursive: true });
  const clusterFile = join(opts.work, 'cluster.yaml');
  writeFileSync(clusterFile, stringify(doc));
  return { bundle, clusterFile, spec: checked.spec, hosts, controlPlane };
}

/** The source-built kubectl on this machine (the lab's client; the hosts have their own from the mirror). */
export function labKubectl(): string {
  const kube = cachedBuild('kube', KUBE_BINS);
  if (kube === null) throw new Error('failed to find a source-built kubectl (run: bash scripts/upstream/build.sh)');
  return join(kube.dir, 'kubectl');
}

/**
 * kubectl from the lab's client namespace, through the VIP, with `kubeconfig` (whose server is the
 * VIP): the way a user outside the cluster reaches it.
 */
export function kubectl(lab: Lab, kubeconfig: string, args: string[], options: RunOptions = {}): Promise<RunResult> {
  return run(['ip', 'netns', 'exec', lab.state.clientNetns, labKubectl(), '--kubeconfig', kubeconfig, '--request-timeout=10s', ...args], options);
}

/**
 * Fixtures and hand-written fakes of the cluster validator's ports (STYLE.md §12), shared by the
 * cluster tests. No test-framework imports.
 */
import type { Facts, Health } from '../../../shared/src/protocol/facts.js';
import type { ArtifactLookup, ArtifactRecord } from '../roles/types.js';
import { type ClusterSpec, DEFAULT_VERSIONS } from './spec.js';
import type { ClusterHostStatus, ClusterValidationPorts } from './validate.js';

/** cluster.yaml text of a small, valid HA cluster: 3 stacked control-plane + etcd hosts and 2 workers. */
export const CLUSTER_YAML = `apiVersion: ballast.dev/v1alpha1
kind: Cluster
name: prod
versions:
  kubernetes: v1.36.3
  etcd: 3.5.33
  containerd: 1.7.22
vip:
  address: 10.0.0.10
  interface: eth0
network:
  cniManifest: manifests/calico.yaml
hosts:
  - { name: cp-1, address: 10.0.0.11, roles: [etcd, control-plane] }
  - { name: cp-2, address: 10.0.0.12, roles: [etcd, control-plane] }
  - { name: cp-3, address: 10.0.0.13, roles: [etcd, control-plane] }
  - { name: w-1, address: 10.0.0.21, roles: [worker] }
  - { name: w-2, address: 10.0.0.22, roles: [worker] }
rollout:
  workerBatch: 1
`;

/** A valid HA cluster (defaults applied): 3 stacked control-plane + etcd hosts, 2 workers, on 10.0.0.0/24. */
export function sampleSpec(): ClusterSpec {
  return {
    apiVersion: 'ballast.dev/v1alpha1',
    kind: 'Cluster',
    name: 'prod',
    versions: { ...DEFAULT_VERSIONS },
    vip: { address: '10.0.0.10', interface: 'eth0', port: 6443 },
    network: { podCidr: '10.244.0.0/16', serviceCidr: '10.96.0.0/12', dnsDomain: 'cluster.local', cniManifest: { inline: 'kind: List\n' } },
    node: { cgroupDriver: 'systemd', allowCgroupV1: false, restrictOomScoreAdj: false },
    addons: { coreDns: true, kubeProxy: true },
    hosts: [
      { name: 'cp-1', address: '10.0.0.11', roles: ['etcd', 'control-plane'] },
      { name: 'cp-2', address: '10.0.0.12', roles: ['etcd', 'control-plane'] },
      { name: 'cp-3', address: '10.0.0.13', roles: ['etcd', 'control-plane'] },
      { name: 'w-1', address: '10.0.0.21', roles: ['worker'] },
      { name: 'w-2', address: '10.0.0.22', roles: ['worker'] },
    ],
    rollout: { workerBatch: '20%', maxFailures: 0 },
  };
}

/** Facts of a host with one physical NIC `eth0` holding `address`; ids derived from the name. */
export function sampleFacts(name: string, address: string, n: number): Facts {
  const hex = n.toString(16).padStart(2, '0');
  return {
    hostname: name,
    os: { platform: 'linux', distro: 'Debian GNU/Linux', release: '12', codename: 'bookworm', kernel: '6.1.0-18-amd64', arch: 'x64' },
    cpu: { manufacturer: 'AMD', brand: 'EPYC', cores: 8, physicalCores: 4, speedGHz: 3 },
    memory: { totalBytes: 16 * 1024 ** 3 },
    disks: [],
    nics: [
      { name: 'eth0', mac: `52:54:00:00:00:${hex}`, ipv4: [address], ipv6: [`fe80::5054:ff:fe00:${hex}`], speedMbps: 10000, virtual: false },
      // Every host has the same docker0-style bridge MAC: virtual NICs are not compared.
      { name: 'cni0', mac: '02:42:ac:11:00:01', ipv4: [], ipv6: [], speedMbps: null, virtual: true },
    ],
    productUuid: `4c4c4544-0000-0000-0000-0000000000${hex}`,
    bootId: `b00d${hex}`,
  };
}

/** A health snapshot with a given clock offset. */
export function sampleHealth(clockOffsetMs: number | null): Health {
  return { ts: 0, load: [0, 0, 0], memory: { totalBytes: 1, availableBytes: 1 }, disks: [], clockOffsetMs, checks: [] };
}

/** Healthy, connected statuses for every host of `spec` (the first of a name listed twice), to be edited per test. */
export function healthyStatuses(spec: ClusterSpec): Map<string, ClusterHostStatus> {
  const out = new Map<string, ClusterHostStatus>();
  for (const [i, h] of spec.hosts.entries()) {
    if (out.has(h.name)) continue;
    out.set(h.name, { name: h.name, state: 'healthy', connected: true, arch: 'amd64', facts: sampleFacts(h.name, h.address, i + 1), health: sampleHealth(12), failingChecks: [] });
  }
  return out;
}

/** An {@link ArtifactLookup} over a list; versions compared without a leading "v"; no version: any. */
export function fakeMirror(records: ArtifactRecord[]): ArtifactLookup & { queries: string[] } {
  const queries: string[] = [];
  return {
    queries,
    find({ name, version, arch }) {
      queries.push(`${name}@${version ?? '*'}/${arch}`);
      const v = version?.replace(/^v/, '');
      return records.find((r) => r.name === name && r.arch === arch && (v === undefined || r.version.replace(/^v/, '') === v)) ?? null;
    },
    images(arch) {
      queries.push(`images/${arch}`);
      return records.filter((r) => r.image !== undefined && r.arch === arch);
    },
  };
}

/** Every artifact {@link sampleSpec} needs, for `archs`. */
export function completeMirror(archs: string[] = ['amd64']): ArtifactRecord[] {
  const pins: [string, string][] = [
    ['etcd', DEFAULT_VERSIONS.etcd],
    ['containerd', DEFAULT_VERSIONS.containerd],
    ['runc', '1.1.13'],
    ['cni-plugins', '1.4.0'],
    ['kubeadm', DEFAULT_VERSIONS.kubernetes],
    ['kubelet', DEFAULT_VERSIONS.kubernetes],
    ['kubectl', DEFAULT_VERSIONS.kubernetes],
  ];
  return archs.flatMap((arch) => pins.map(([name, version]) => ({ name, version, arch, sha256: '0'.repeat(64) })));
}

/** Ports over in-memory statuses and records. */
export function fakePorts(statuses: Map<string, ClusterHostStatus>, mirror: ArtifactRecord[], prefix?: number): ClusterValidationPorts {
  return {
    hosts: { find: (name) => statuses.get(name) ?? null },
    artifacts: fakeMirror(mirror),
    ...(prefix === undefined ? {} : { prefixLength: () => prefix }),
  };
}

/**
 * Test helpers for the kubeadm configs: the input of the golden files and every config shape
 * Ballast renders, shared by the golden-file test and the test that runs the real
 * `kubeadm config validate` on each shape. Used by tests only (nothing in production imports this).
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { DEFAULT_CATALOGUE } from '../artifacts/catalogue.js';
import { type KubeadmConfigInput, renderInitConfig, renderJoinConfig } from './kubeadm-config.js';

/** test/golden/kubeadm/, with a trailing slash. */
export const GOLDEN_DIR = fileURLToPath(new URL('../../../test/golden/kubeadm/', import.meta.url));
/** A fixed CA certificate (no key), so the pinned `caCertHashes` in the golden files is stable. */
export const GOLDEN_CA_PEM = readFileSync(`${GOLDEN_DIR}ca.crt`, 'utf8');

/** The Kubernetes version the built-in catalogue pins (kubeadm's entry), e.g. `1.36.3`. */
export const CATALOGUE_KUBE_VERSION = DEFAULT_CATALOGUE.find((a) => a.name === 'kubeadm')?.version ?? '';

/** The golden files' cluster: three stacked control planes behind an IPv4 VIP. */
export function goldenInput(kubernetesVersion: string): KubeadmConfigInput {
  return {
    kubernetesVersion,
    clusterName: 'prod-east',
    vip: '10.20.0.10',
    networking: { podSubnet: '10.244.0.0/16', serviceSubnet: '10.96.0.0/12', dnsDomain: 'cluster.local' },
    etcdMembers: ['10.20.0.11', '10.20.0.12', '10.20.0.13'],
    certSANs: ['10.20.0.11', '10.20.0.12', '10.20.0.13', 'cp-1', 'cp-2', 'cp-3', 'k8s.prod-east.example'],
    node: { name: 'cp-1', address: '10.20.0.11' },
    bootstrapToken: { token: 'abcdef.0123456789abcdef', ttl: '2h0m0s' },
    caCertPem: GOLDEN_CA_PEM,
  };
}

/** The same cluster on IPv6 (VIP, etcd members, hosts). */
function ipv6Input(kubernetesVersion: string, node: { name: string; address: string }): KubeadmConfigInput {
  return {
    ...goldenInput(kubernetesVersion),
    vip: 'fd00:20::10',
    networking: { podSubnet: 'fd00:244::/56', serviceSubnet: 'fd00:96::/112', dnsDomain: 'cluster.local' },
    etcdMembers: ['fd00:20::11', 'fd00:20::12', 'fd00:20::13'],
    certSANs: ['fd00:20::11', 'fd00:20::12', 'fd00:20::13', 'cp-1', 'cp-2', 'cp-3'],
    node,
  };
}

/**
 * A one-host lab cluster whose VIP is a DNS name, with one etcd member, no extra SANs, a custom DNS
 * domain and the default token TTL: the other end of each optional or alternative input.
 */
function dnsVipInput(kubernetesVersion: string, node: { name: string; address: string }): KubeadmConfigInput {
  return {
    ...goldenInput(kubernetesVersion),
    clusterName: 'lab',
    vip: 'api.lab.example',
    networking: { podSubnet: '10.244.0.0/16', serviceSubnet: '10.96.0.0/12', dnsDomain: 'lab.internal' },
    etcdMembers: ['etcd-1.lab.example'],
    certSANs: [],
    node,
    bootstrapToken: { token: 'abcdef.0123456789abcdef' },
  };
}

const CP2 = { name: 'cp-2', address: '10.20.0.12' };
const WORKER = { name: 'worker-1', address: '10.20.1.21' };

/** One kind of kubeadm config Ballast renders. */
export interface KubeadmShape {
  /** What it is, for test names. */
  name: string;
  /** Its golden file in {@link GOLDEN_DIR} when rendered for `goldenVersion`, or null. */
  golden: string | null;
  /** The Kubernetes version of the golden file (and the only one the shape is valid for, if set). */
  goldenVersion: string;
  render: (kubernetesVersion: string) => string;
}

/**
 * Every shape: init on the first control plane, control-plane join, worker join, each with an IPv4
 * VIP, an IPv6 cluster and a DNS-name VIP, and init from a version with build metadata. Ballast has
 * no VIP-less shape: a Cluster document requires `vip`, which is always the control-plane endpoint.
 * Rendered for any Kubernetes ≥ 1.31 these are v1beta4; see {@link KUBEADM_V1BETA3_SHAPES}.
 */
/** What the lab's cluster.yaml asks for (`node` and `addons`): systemd-nspawn hosts on cgroup v1. */
const CGROUP_V1 = { kubelet: { cgroupDriver: 'cgroupfs' as const, allowCgroupV1: true }, skipAddons: ['coredns' as const, 'kube-proxy' as const] };

export const KUBEADM_SHAPES: readonly KubeadmShape[] = [
  { name: 'init', golden: 'init-v1beta4.yaml', goldenVersion: '1.36.3', render: (v) => renderInitConfig(goldenInput(v)) },
  {
    name: 'init, version with build metadata',
    golden: null,
    goldenVersion: '1.36.3',
    render: (v) => renderInitConfig(goldenInput(`${v}+ballast.standin`)),
  },
  { name: 'init, IPv6', golden: null, goldenVersion: '1.36.3', render: (v) => renderInitConfig(ipv6Input(v, { name: 'cp-1', address: 'fd00:20::11' })) },
  {
    name: 'init, DNS-name VIP, one etcd member, default token TTL',
    golden: null,
    goldenVersion: '1.36.3',
    render: (v) => renderInitConfig(dnsVipInput(v, { name: 'node-1', address: '10.30.0.2' })),
  },
  {
    name: 'join control plane',
    golden: 'join-control-plane-v1beta4.yaml',
    goldenVersion: '1.36.3',
    render: (v) => renderJoinConfig({ ...goldenInput(v), node: CP2 }, { controlPlane: true }),
  },
  {
    name: 'join control plane, IPv6',
    golden: null,
    goldenVersion: '1.36.3',
    render: (v) => renderJoinConfig(ipv6Input(v, { name: 'cp-2', address: 'fd00:20::12' }), { controlPlane: true }),
  },
  {
    name: 'join worker',
    golden: 'join-worker-v1beta4.yaml',
    goldenVersion: '1.36.3',
    render: (v) => renderJoinConfig({ ...goldenInput(v), node: WORKER }, { controlPlane: false }),
  },
  {
    name: 'init, cgroup v1 hosts (cgroupfs, failCgroupV1 false, SystemVerification ignored, add-ons skipped)',
    golden: null,
    goldenVersion: '1.36.3',
    render: (v) => renderInitConfig({ ...goldenInput(v), ...CGROUP_V1 }),
  },
  {
    name: 'join worker, cgroup v1 hosts',
    golden: null,
    goldenVersion: '1.36.3',
    render: (v) => renderJoinConfig({ ...goldenInput(v), ...CGROUP_V1, node: WORKER }, { controlPlane: false }),
  },
  {
    name: 'join worker, DNS-name VIP',
    golden: null,
    goldenVersion: '1.36.3',
    render: (v) => renderJoinConfig(dnsVipInput(v, { name: 'node-2', address: '10.30.0.3' }), { controlPlane: false }),
  },
];

/**
 * The v1beta3 shapes, for clusters that pin Kubernetes 1.22–1.30 (and bring that kubeadm). kubeadm
 * 1.36 still reads v1beta3 joins (with a deprecation warning) but refuses to deploy a control plane
 * older than 1.35, so only the joins can be checked by it.
 */
export const KUBEADM_V1BETA3_SHAPES: readonly (KubeadmShape & { init: boolean })[] = [
  { name: 'init (v1beta3)', golden: 'init-v1beta3.yaml', goldenVersion: '1.30.4', init: true, render: (v) => renderInitConfig(goldenInput(v)) },
  {
    name: 'join worker (v1beta3)',
    golden: 'join-worker-v1beta3.yaml',
    goldenVersion: '1.30.4',
    init: false,
    render: (v) => renderJoinConfig({ ...goldenInput(v), node: WORKER }, { controlPlane: false }),
  },
  {
    name: 'join control plane (v1beta3)',
    golden: null,
    goldenVersion: '1.30.4',
    init: false,
    render: (v) => renderJoinConfig({ ...goldenInput(v), node: CP2 }, { controlPlane: true }),
  },
];

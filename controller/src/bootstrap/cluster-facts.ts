/**
 * Facts derived from a cluster spec that several steps need the same way: the spec stored in an
 * operation, member URLs, the PKI inputs, the kubeadm config input of a host. Pure.
 */
import { BallastError } from '../../../shared/src/errors.js';
import { formatIp, networkOf, parseCidr } from '../cluster/net.js';
import { type ClusterHost, type ClusterSpec, checkClusterDocument } from '../cluster/spec.js';
import type { KubeadmConfigInput } from '../kube/kubeadm-config.js';
import type { ClusterPkiBundle } from '../pki/cluster-pki.js';
import type { OperationRecord } from '../ops/records.js';
import { urlHost } from '../roles/etcd.js';
import { hostsWithRole } from './plan.js';

export const ETCD_CLIENT_PORT = 2379;
export const ETCD_PEER_PORT = 2380;

/** The input of a `cluster.create` operation. */
export interface CreateInput {
  spec: ClusterSpec;
  /** Record file diffs in every run, not only in check mode (`cluster create --diff`). */
  diff?: boolean;
}

/** Whether the operation asked for diffs (`--diff`); undefined lets runs default to check mode only. */
export function wantsDiff(op: Pick<OperationRecord, 'input'>): boolean | undefined {
  return (op.input as { diff?: unknown }).diff === true ? true : undefined;
}

/** The cluster spec an operation was started with (checked again: it comes from the store). */
export function specOf(op: Pick<OperationRecord, 'input'>): ClusterSpec {
  const input = op.input as { spec?: unknown };
  const checked = checkClusterDocument(input.spec);
  if (!checked.ok) {
    const first = checked.problems[0];
    throw new BallastError('BALLAST_ERR_STORE', `failed to read the operation's cluster spec: ${first?.path}: ${first?.message}`);
  }
  return checked.spec;
}

/** A host of the spec by name; a coded error when the plan names a host the spec lacks. */
export function hostOf(spec: ClusterSpec, name: string): ClusterHost {
  const host = spec.hosts.find((h) => h.name === name);
  if (host === undefined) throw new BallastError('BALLAST_ERR_VALIDATION', `host "${name}" is not in cluster ${spec.name}`, { path: '/hosts' });
  return host;
}

export function peerUrl(host: ClusterHost): string {
  return `https://${urlHost(host.address)}:${ETCD_PEER_PORT}`;
}

export function clientUrl(host: ClusterHost): string {
  return `https://${urlHost(host.address)}:${ETCD_CLIENT_PORT}`;
}

/** `name=https://addr:2380,…` for these members, in the given order. */
export function initialCluster(spec: ClusterSpec, members: readonly string[]): string {
  return members.map((m) => `${m}=${peerUrl(hostOf(spec, m))}`).join(',');
}

/** etcd's cluster token: one per Ballast cluster, so two clusters' members can never merge. */
export function etcdClusterToken(spec: ClusterSpec): string {
  return `ballast-${spec.name}`;
}

/** The first address of the service range: the `kubernetes` Service's ClusterIP. */
export function apiServerServiceIp(spec: ClusterSpec): string {
  const cidr = parseCidr(spec.network.serviceCidr);
  if (typeof cidr === 'string') throw new BallastError('BALLAST_ERR_VALIDATION', `network.serviceCidr: ${cidr}`, { path: '/network/serviceCidr' });
  return formatIp(cidr.family, networkOf(cidr) + 1n);
}

/** What ClusterPki.ensure needs for this spec. */
export function pkiInputs(spec: ClusterSpec): Record<string, unknown> {
  const entry = (h: ClusterHost) => ({ name: h.name, addresses: [h.address] });
  return {
    etcdMembers: hostsWithRole(spec, 'etcd').map(entry),
    controlPlane: hostsWithRole(spec, 'control-plane').map(entry),
    vip: spec.vip.address,
    apiServerServiceIp: apiServerServiceIp(spec),
  };
}

/** The kubeadm config input for `host` (init, control-plane join or worker join). */
export function kubeadmInput(spec: ClusterSpec, host: ClusterHost, pki: ClusterPkiBundle): KubeadmConfigInput {
  const controlPlane = hostsWithRole(spec, 'control-plane');
  return {
    kubernetesVersion: spec.versions.kubernetes,
    clusterName: spec.name,
    vip: spec.vip.address,
    networking: { podSubnet: spec.network.podCidr, serviceSubnet: spec.network.serviceCidr, dnsDomain: spec.network.dnsDomain },
    kubelet: { cgroupDriver: spec.node.cgroupDriver, allowCgroupV1: spec.node.allowCgroupV1 },
    skipAddons: [...(spec.addons.coreDns ? [] : ['coredns' as const]), ...(spec.addons.kubeProxy ? [] : ['kube-proxy' as const])],
    etcdMembers: hostsWithRole(spec, 'etcd').map((h) => h.address),
    // 127.0.0.1 and localhost: the VIP's health check asks the local API server (https://127.0.0.1:6443/readyz)
    // and verifies its certificate; kubeadm's own SANs name only the advertise address, the service IP
    // and kubernetes.default… (found by the first real-Kubernetes lab run: the holder resigned at once).
    certSANs: [...new Set([...controlPlane.flatMap((h) => [h.address, h.name]), '127.0.0.1', 'localhost'])],
    node: { name: host.name, address: host.address },
    bootstrapToken: { token: pki.bootstrapToken.token },
    caCertPem: pki.kubernetesCa.certPem,
  };
}

/** The Kubernetes API through the VIP with the controller's admin certificate. */
export function kubeApiOptions(spec: ClusterSpec, pki: ClusterPkiBundle) {
  return {
    server: `https://${urlHost(spec.vip.address)}:${spec.vip.port}`,
    caPem: pki.kubernetesCa.certPem,
    certPem: pki.controllerAdmin.certPem,
    keyPem: pki.controllerAdmin.keyPem,
  };
}

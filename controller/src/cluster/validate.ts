/**
 * The cross-field rules of a Cluster document, all checked at once (STYLE.md §10): topology (etcd
 * quorum, a control plane), addresses (duplicates, VIP placement), CIDRs, and — through ports, so
 * the function stays pure — enrolment, health, facts and the artifact mirror. Problems block
 * `cluster create` (exit 2, nothing started); notes say what was assumed or could not be checked.
 */
import type { HostState } from '../../../shared/src/api.js';
import type { Facts, Health } from '../../../shared/src/protocol/facts.js';
import { messageOf } from '../../../shared/src/errors.js';
import { kubeadmApiVersion } from '../kube/kubeadm-config.js';
import type { ArtifactLookup } from '../roles/types.js';
import { type Cidr, contains, familyBits, formatCidr, formatIp, type IpAddress, lastOf, networkOf, overlaps, parseCidr, parseIp } from './net.js';
import type { ClusterProblem, ClusterSpec } from './spec.js';
import { checkHostsAgainstController } from './validate-hosts.js';

/** A host as the controller knows it (store + tracker), for the enrolment, health and facts checks. */
export interface ClusterHostStatus {
  name: string;
  state: HostState;
  /** An agent session is open now. */
  connected: boolean;
  /** Go-style architecture (`amd64`, `arm64`) as artifacts are keyed; null before facts arrive. */
  arch: string | null;
  facts: Facts | null;
  health: Health | null;
  /** Names of the host's failing local checks (the reason it is degraded). */
  failingChecks: readonly string[];
}

/**
 * What validation may ask the rest of the controller. Every port is optional: offline
 * (`ballastctl cluster validate`) none is given, and the checks that need one are skipped with a note.
 */
export interface ClusterValidationPorts {
  /** Enrolled hosts by name; null when no active host has the name. */
  hosts?: { find(name: string): ClusterHostStatus | null };
  /** The controller's artifact mirror. */
  artifacts?: ArtifactLookup;
  /**
   * Prefix length of the interface that holds `address` on host `name`, or null when unknown. Facts
   * do not carry netmasks yet, so production passes none and /24 (IPv4) or /64 (IPv6) is assumed.
   */
  prefixLength?(name: string, address: string): number | null;
}

/** Knobs of {@link validateCluster}. */
export interface ValidateClusterOptions {
  /**
   * Lab and integration tests install stand-in kubeadm/kubelet/kubectl binaries outside the
   * mirror; with this set those three artifacts are not required (a note says so). Never set by
   * `cluster create` for real clusters.
   */
  standIn?: boolean;
  /** Largest tolerated |host clock − controller clock| in ms; default 500 (etcd's lease and TLS checks). */
  maxClockSkewMs?: number;
}

/** The outcome: problems block; notes inform. */
export interface ClusterValidation {
  problems: ClusterProblem[];
  notes: ClusterProblem[];
}

/** A host whose address parsed, with its index in `spec.hosts`. */
export interface IndexedHost {
  index: number;
  name: string;
  address: IpAddress;
  roles: readonly string[];
}

/** kube-controller-manager's default per-node pod range (`--node-cidr-mask-size`). */
const NODE_MASK: Record<4 | 6, number> = { 4: 24, 6: 64 };
/** kube-apiserver refuses a service range with more than 20 host bits (/12 IPv4, /108 IPv6). */
const MAX_SERVICE_HOST_BITS = 20;
/** Assumed when the prefix length of a host's interface is unknown. */
const ASSUMED_PREFIX: Record<4 | 6, number> = { 4: 24, 6: 64 };

/** Validates `spec` (already schema-checked, defaults applied); pure: everything outside comes through `ports`. */
export function validateCluster(spec: ClusterSpec, ports: ClusterValidationPorts = {}, options: ValidateClusterOptions = {}): ClusterValidation {
  const out: ClusterValidation = { problems: [], notes: [] };
  const hosts = checkHostEntries(spec, out);
  checkTopology(spec, out);
  checkKubernetesVersion(spec, out);
  const subnets = hostSubnets(hosts, ports, out);
  checkVip(spec, hosts, subnets, out);
  checkNetwork(spec, hosts, subnets, out);
  if (spec.network.cniManifest === undefined) {
    out.notes.push({ path: '/network/cniManifest', message: 'not set: nodes stay NotReady until a CNI is installed' });
  }
  checkHostsAgainstController(spec, ports, options, out);
  return out;
}

/**
 * A Kubernetes version Ballast can render kubeadm configs for (1.22 or newer; build metadata plays
 * no part), found now rather than when the bootstrap reaches its first control plane.
 */
function checkKubernetesVersion(spec: ClusterSpec, out: ClusterValidation): void {
  try {
    kubeadmApiVersion(spec.versions.kubernetes);
  } catch (err) {
    out.problems.push({ path: '/versions/kubernetes', message: messageOf(err) });
  }
}

/** Names and addresses: valid and distinct. Returns the hosts whose address parsed. */
function checkHostEntries(spec: ClusterSpec, out: ClusterValidation): IndexedHost[] {
  const names = new Map<string, number>();
  const addresses = new Map<string, number>();
  const hosts: IndexedHost[] = [];
  for (const [index, host] of spec.hosts.entries()) {
    const firstName = names.get(host.name);
    if (firstName === undefined) names.set(host.name, index);
    else out.problems.push({ path: `/hosts/${index}/name`, message: `"${host.name}" is listed twice (also /hosts/${firstName}/name)` });
    const address = parseIp(host.address);
    if (address === null) {
      out.problems.push({ path: `/hosts/${index}/address`, message: `"${host.address}" is not an IPv4 or IPv6 address` });
      continue;
    }
    const key = `${address.family}:${address.value}`;
    const firstAddress = addresses.get(key);
    if (firstAddress === undefined) addresses.set(key, index);
    else {
      const other = spec.hosts[firstAddress]?.name ?? '';
      out.problems.push({ path: `/hosts/${index}/address`, message: `${host.address} is also the address of "${other}" (/hosts/${firstAddress}/address)` });
    }
    hosts.push({ index, name: host.name, address, roles: host.roles });
  }
  const families = new Set(hosts.map((h) => h.address.family));
  if (families.size > 1) {
    for (const h of hosts.filter((x) => x.address.family === 6)) {
      out.problems.push({ path: `/hosts/${h.index}/address`, message: 'mixes IPv6 with IPv4 host addresses: a cluster is single-stack, one family' });
    }
  }
  return hosts;
}

/** etcd needs an odd number of members (quorum); a cluster needs a control plane. */
function checkTopology(spec: ClusterSpec, out: ClusterValidation): void {
  const count = (role: string) => spec.hosts.filter((h) => (h.roles as readonly string[]).includes(role)).length;
  const etcd = count('etcd');
  if (etcd === 0) {
    out.problems.push({ path: '/hosts', message: 'no host has the etcd role: give it to 1, 3 or 5 hosts' });
  } else if (etcd % 2 === 0) {
    const tolerated = Math.floor((etcd - 1) / 2);
    out.problems.push({
      path: '/hosts',
      message: `${etcd} hosts have the etcd role: ${etcd} members tolerate ${tolerated} failure${tolerated === 1 ? '' : 's'}, no more than ${etcd - 1} do, and every write waits for one more voter; use ${etcd - 1} or ${etcd + 1}`,
    });
  } else if (etcd > 7) {
    out.notes.push({ path: '/hosts', message: `${etcd} etcd members: etcd recommends at most 7 (each write waits for a majority)` });
  }
  if (count('control-plane') === 0) out.problems.push({ path: '/hosts', message: 'no host has the control-plane role' });
  if (count('worker') === 0) {
    out.notes.push({ path: '/hosts', message: 'no host has the worker role: workloads run only where they tolerate the control-plane taint' });
  }
}

/** Each host's subnet (its address with the interface's prefix length, or an assumed one). */
function hostSubnets(hosts: IndexedHost[], ports: ClusterValidationPorts, out: ClusterValidation): Map<number, Cidr> {
  const subnets = new Map<number, Cidr>();
  const assumed: string[] = [];
  for (const h of hosts) {
    const text = formatIp(h.address.family, h.address.value);
    const known = ports.prefixLength?.(h.name, text) ?? null;
    const prefix = known ?? ASSUMED_PREFIX[h.address.family];
    if (known === null) assumed.push(h.name);
    subnets.set(h.index, { family: h.address.family, base: h.address.value, prefix });
  }
  if (assumed.length > 0) {
    const list = assumed.length === hosts.length ? 'any host' : assumed.join(', ');
    out.notes.push({ path: '/hosts', message: `prefix length unknown for ${list}: assumed /24 (IPv6 /64) for the VIP and CIDR checks` });
  }
  return subnets;
}

/** The VIP: a free address inside the subnet of every control-plane host (it moves between them). */
function checkVip(spec: ClusterSpec, hosts: IndexedHost[], subnets: Map<number, Cidr>, out: ClusterValidation): void {
  const vip = parseIp(spec.vip.address);
  if (vip === null) {
    out.problems.push({ path: '/vip/address', message: `"${spec.vip.address}" is not an IPv4 or IPv6 address` });
    return;
  }
  const taken = hosts.find((h) => h.address.family === vip.family && h.address.value === vip.value);
  if (taken !== undefined) {
    out.problems.push({ path: '/vip/address', message: `is the address of "${taken.name}" (/hosts/${taken.index}/address): the VIP must be an unused address` });
  }
  const outside = new Map<string, string[]>();
  for (const h of hosts.filter((x) => x.roles.includes('control-plane'))) {
    const subnet = subnets.get(h.index);
    if (subnet === undefined) continue;
    if (!contains(subnet, vip)) {
      const key = formatCidr(subnet);
      outside.set(key, [...(outside.get(key) ?? []), h.name]);
    } else if (vip.family === 4 && subnet.prefix < 31 && (vip.value === networkOf(subnet) || vip.value === lastOf(subnet))) {
      out.problems.push({ path: '/vip/address', message: `is the network or broadcast address of ${formatCidr(subnet)} ("${h.name}")` });
      return;
    }
  }
  for (const [subnet, names] of outside) {
    out.problems.push({
      path: '/vip/address',
      message: `is outside ${subnet}, the subnet of control-plane host${names.length === 1 ? '' : 's'} ${names.map((n) => `"${n}"`).join(', ')}: the VIP must be reachable on every control-plane host's link`,
    });
  }
}

/** Pod and service CIDRs: valid, aligned, sized, distinct from each other and from the hosts' subnets. */
function checkNetwork(spec: ClusterSpec, hosts: IndexedHost[], subnets: Map<number, Cidr>, out: ClusterValidation): void {
  const family = hosts[0]?.address.family;
  const parsed: { key: 'podCidr' | 'serviceCidr'; cidr: Cidr }[] = [];
  for (const key of ['podCidr', 'serviceCidr'] as const) {
    const path = `/network/${key}`;
    const cidr = parseCidr(spec.network[key]);
    if (typeof cidr === 'string') {
      out.problems.push({ path, message: cidr });
      continue;
    }
    if (networkOf(cidr) !== cidr.base) {
      out.problems.push({ path, message: `has host bits set: did you mean ${formatCidr(cidr)}?` });
      continue;
    }
    if (family !== undefined && cidr.family !== family) {
      out.problems.push({ path, message: `is IPv${cidr.family} but the hosts are IPv${family}: a cluster is single-stack` });
      continue;
    }
    parsed.push({ key, cidr });
  }
  const nodes = spec.hosts.filter((h) => h.roles.includes('control-plane') || h.roles.includes('worker')).length;
  for (const { key, cidr } of parsed) {
    const path = `/network/${key}`;
    const hostBits = familyBits(cidr.family) - cidr.prefix;
    if (key === 'serviceCidr' && hostBits > MAX_SERVICE_HOST_BITS) {
      out.problems.push({ path, message: `is too large: kube-apiserver accepts at most ${MAX_SERVICE_HOST_BITS} host bits (/${familyBits(cidr.family) - MAX_SERVICE_HOST_BITS})` });
    }
    if (key === 'podCidr') {
      const mask = NODE_MASK[cidr.family];
      if (cidr.prefix > mask) {
        out.problems.push({ path, message: `is smaller than one node's pod range (/${mask}): use /${mask - 8} or larger` });
      } else if (mask - cidr.prefix < 31 && 2 ** (mask - cidr.prefix) < nodes) {
        out.problems.push({ path, message: `has room for ${2 ** (mask - cidr.prefix)} node pod ranges (/${mask}) but the cluster has ${nodes} nodes` });
      }
    }
  }
  const [a, b] = parsed;
  if (a !== undefined && b !== undefined && overlaps(a.cidr, b.cidr)) {
    out.problems.push({ path: '/network/serviceCidr', message: `overlaps podCidr ${formatCidr(a.cidr)}` });
  }
  for (const { key, cidr } of parsed) {
    const hit = new Map<string, string[]>();
    for (const h of hosts) {
      const subnet = subnets.get(h.index);
      if (subnet !== undefined && overlaps(cidr, subnet)) hit.set(formatCidr(subnet), [...(hit.get(formatCidr(subnet)) ?? []), h.name]);
    }
    for (const [subnet, names] of hit) {
      out.problems.push({ path: `/network/${key}`, message: `overlaps ${subnet}, the subnet of ${names.map((n) => `"${n}"`).join(', ')}: pods and services would shadow host addresses` });
    }
  }
}

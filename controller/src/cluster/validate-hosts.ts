/**
 * The checks of a Cluster document that need the controller: each host enrolled, healthy and
 * connected; its facts consistent with the document and unique across hosts (hostname, MAC,
 * product UUID — kubeadm's own preflight refuses duplicates of the last two); clocks within the
 * skew limit; and every artifact the versions need present in the mirror for every architecture.
 */
import type { Facts } from '../../../shared/src/protocol/facts.js';
import { parseIp } from './net.js';
import type { ClusterRole, ClusterSpec } from './spec.js';
import type { ClusterHostStatus, ClusterValidation, ClusterValidationPorts, ValidateClusterOptions } from './validate.js';

/** An artifact a cluster needs: which hosts need it, and which `versions` field pins it (none: newest). */
export interface RequiredArtifact {
  name: string;
  version: keyof ClusterSpec['versions'] | null;
  roles: readonly ClusterRole[];
  /** Not required when validating with `standIn` (lab stand-ins replace the kube binaries). */
  standInOptional: boolean;
}

const NODE_ROLES: readonly ClusterRole[] = ['control-plane', 'worker'];

/**
 * Everything the roles install from the mirror. runc and cni-plugins are not pinned by the Cluster
 * document: the newest the mirror holds is used, so only their presence is checked.
 */
export const REQUIRED_ARTIFACTS: readonly RequiredArtifact[] = [
  { name: 'etcd', version: 'etcd', roles: ['etcd'], standInOptional: false },
  { name: 'containerd', version: 'containerd', roles: NODE_ROLES, standInOptional: false },
  { name: 'runc', version: null, roles: NODE_ROLES, standInOptional: false },
  { name: 'cni-plugins', version: null, roles: NODE_ROLES, standInOptional: false },
  { name: 'kubeadm', version: 'kubernetes', roles: NODE_ROLES, standInOptional: true },
  { name: 'kubelet', version: 'kubernetes', roles: NODE_ROLES, standInOptional: true },
  { name: 'kubectl', version: 'kubernetes', roles: NODE_ROLES, standInOptional: true },
];

const DEFAULT_MAX_CLOCK_SKEW_MS = 500;
/** Placeholder values firmware and virtualisation report instead of a real identity. */
const BOGUS_IDS = new Set(['', '00:00:00:00:00:00', '00000000-0000-0000-0000-000000000000', 'ffffffff-ffff-ffff-ffff-ffffffffffff', '03000200-0400-0500-0006-000700080009']);

/** A host of the document the controller knows. */
interface Enrolled {
  index: number;
  name: string;
  status: ClusterHostStatus;
  facts: Facts | null;
}

/** An enrolled host that has reported its facts. */
interface Known extends Enrolled {
  facts: Facts;
}

/** Adds the controller-side problems and notes to `out`; a missing port skips its checks with a note. */
export function checkHostsAgainstController(
  spec: ClusterSpec,
  ports: ClusterValidationPorts,
  options: ValidateClusterOptions,
  out: ClusterValidation,
): void {
  if (ports.hosts === undefined) {
    out.notes.push({ path: '/hosts', message: 'not checked offline: enrolment, health, facts and clocks (cluster create checks them)' });
  }
  const enrolled = ports.hosts === undefined ? [] : checkEnrolment(spec, ports.hosts, options.maxClockSkewMs ?? DEFAULT_MAX_CLOCK_SKEW_MS, out);
  const known = enrolled.filter((e): e is Known => e.facts !== null);
  checkFacts(spec, known, out);
  if (ports.artifacts === undefined) {
    out.notes.push({ path: '/versions', message: 'not checked offline: artifacts in the mirror (cluster create checks them)' });
    return;
  }
  const artifacts = ports.artifacts;
  const archOf = new Map(enrolled.flatMap((k) => (k.status.arch === null ? [] : [[k.index, k.status.arch] as const])));
  // Hosts not enrolled are a problem already; only an enrolled host without an arch is worth a note.
  if (archOf.size < enrolled.length) {
    out.notes.push({ path: '/versions', message: 'architecture unknown for some hosts (no facts, or offline): their artifacts are checked for amd64' });
  }
  if (options.standIn === true) {
    const skipped = REQUIRED_ARTIFACTS.filter((a) => a.standInOptional).map((a) => a.name);
    out.notes.push({ path: '/versions/kubernetes', message: `stand-in mode: ${skipped.join(', ')} not required in the mirror` });
  }
  for (const need of REQUIRED_ARTIFACTS) {
    if (need.standInOptional && options.standIn === true) continue;
    const archs = new Set<string>();
    for (const [index, host] of spec.hosts.entries()) {
      if (host.roles.some((r) => need.roles.includes(r))) archs.add(archOf.get(index) ?? 'amd64');
    }
    const version = need.version === null ? undefined : spec.versions[need.version].replace(/^v/, '');
    for (const arch of [...archs].sort()) {
      if (artifacts.find({ name: need.name, arch, ...(version === undefined ? {} : { version }) }) !== null) continue;
      const what = version === undefined ? `no ${need.name} for ${arch}` : `${need.name} ${version} for ${arch} is not`;
      out.problems.push({
        path: need.version === null ? '/versions' : `/versions/${need.version}`,
        message: `${what} in the mirror: add it with \`ballastctl artifacts fetch\` (or upload it)`,
      });
    }
  }
}

/**
 * Enrolled, healthy, connected, clock in sync. Returns the enrolled hosts. A name listed twice is
 * looked up once: the duplicate is a problem already, and checking the same host twice against
 * itself would report it as its own clone.
 */
function checkEnrolment(spec: ClusterSpec, hosts: NonNullable<ClusterValidationPorts['hosts']>, maxSkewMs: number, out: ClusterValidation): Enrolled[] {
  const enrolled: Enrolled[] = [];
  const noOffset: string[] = [];
  const seen = new Set<string>();
  for (const [index, host] of spec.hosts.entries()) {
    if (seen.has(host.name)) continue;
    seen.add(host.name);
    const path = `/hosts/${index}/name`;
    const status = hosts.find(host.name);
    if (status === null) {
      out.problems.push({ path, message: `host "${host.name}" is not enrolled: create a join token and install the agent on it` });
      continue;
    }
    if (!status.connected) out.problems.push({ path, message: `host "${host.name}" has no agent connected (state ${status.state})` });
    else if (status.state !== 'healthy') {
      const why = status.failingChecks.length > 0 ? ` (failing: ${status.failingChecks.join(', ')})` : '';
      out.problems.push({ path, message: `host "${host.name}" is ${status.state}, not healthy${why}` });
    }
    const offset = status.health?.clockOffsetMs ?? null;
    if (offset === null) noOffset.push(host.name);
    else if (Math.abs(offset) > maxSkewMs) {
      out.problems.push({
        path,
        message: `host "${host.name}"'s clock is ${Math.round(Math.abs(offset))} ms ${offset > 0 ? 'ahead of' : 'behind'} the controller's (limit ${maxSkewMs} ms): sync it with NTP`,
      });
    }
    if (status.facts === null) out.problems.push({ path, message: `host "${host.name}" has not reported its facts yet` });
    enrolled.push({ index, name: host.name, status, facts: status.facts });
  }
  if (noOffset.length > 0) out.notes.push({ path: '/hosts', message: `clock offset unknown for ${noOffset.join(', ')}: skew not checked` });
  return enrolled;
}

/** Facts against the document (address on an interface, VIP interface present) and across hosts. */
function checkFacts(spec: ClusterSpec, known: Known[], out: ClusterValidation): void {
  const noVipInterface: string[] = [];
  for (const k of known) {
    const host = spec.hosts[k.index];
    if (host === undefined) continue;
    const wanted = parseIp(host.address);
    const own = k.facts.nics.flatMap((n) => [...n.ipv4, ...n.ipv6]);
    const onHost = own.some((a) => {
      const ip = parseIp(a.split('%')[0] ?? '');
      return ip !== null && wanted !== null && ip.family === wanted.family && ip.value === wanted.value;
    });
    if (wanted !== null && !onHost) {
      const has = own.length === 0 ? 'no addresses' : own.slice(0, 4).join(', ') + (own.length > 4 ? ', …' : '');
      out.problems.push({ path: `/hosts/${k.index}/address`, message: `${host.address} is not on any interface of "${k.name}" (it has ${has})` });
    }
    if (host.roles.includes('control-plane') && !k.facts.nics.some((n) => n.name === spec.vip.interface)) noVipInterface.push(k.name);
  }
  if (noVipInterface.length > 0) {
    out.problems.push({ path: '/vip/interface', message: `no interface ${spec.vip.interface} on control-plane host${noVipInterface.length === 1 ? '' : 's'} ${noVipInterface.join(', ')}` });
  }
  duplicates(known, out, 'hostname', (f) => [f.hostname.toLowerCase()], 'node names would clash');
  duplicates(known, out, 'MAC address', (f) => f.nics.filter((n) => !n.virtual).map((n) => n.mac.toLowerCase()), 'cloned machines confuse ARP and DHCP');
  duplicates(known, out, 'product UUID', (f) => [f.productUuid.toLowerCase()], 'kubeadm refuses duplicate product_uuid');
  const noUuid = known.filter((k) => BOGUS_IDS.has(k.facts.productUuid.toLowerCase())).map((k) => k.name);
  if (noUuid.length > 0) out.notes.push({ path: '/hosts', message: `no usable product UUID from ${noUuid.join(', ')}: uniqueness not checked for them` });
}

/** One problem per host whose `values` repeat an earlier host's, naming that host. */
function duplicates(known: Known[], out: ClusterValidation, what: string, values: (f: Facts) => string[], why: string): void {
  const owner = new Map<string, Known>();
  for (const k of known) {
    for (const value of new Set(values(k.facts))) {
      if (BOGUS_IDS.has(value)) continue;
      const first = owner.get(value);
      if (first === undefined) owner.set(value, k);
      else if (first !== k) {
        out.problems.push({ path: `/hosts/${k.index}/name`, message: `"${k.name}" reports the same ${what} as "${first.name}" (${value}): ${why}` });
      }
    }
  }
}

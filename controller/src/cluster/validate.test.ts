import { describe, expect, it } from 'vitest';
import type { Facts } from '../../../shared/src/protocol/facts.js';
import type { ArtifactRecord } from '../roles/types.js';
import type { ClusterProblem, ClusterSpec } from './spec.js';
import { completeMirror, fakeMirror, fakePorts, healthyStatuses, sampleSpec } from './testing.js';
import { REQUIRED_ARTIFACTS } from './validate-hosts.js';
import { type ClusterHostStatus, type ClusterValidation, type ValidateClusterOptions, validateCluster } from './validate.js';

interface Env {
  spec: ClusterSpec;
  statuses: Map<string, ClusterHostStatus>;
  mirror: ArtifactRecord[];
}

/** A case edits the spec first (statuses are then derived from it), then the controller's view. */
interface Case {
  spec?: (s: ClusterSpec) => void;
  env?: (e: Env) => void;
  options?: ValidateClusterOptions;
  /** Prefix length the port reports; default 24, null: port absent. */
  prefix?: number | null;
  problems?: ClusterProblem[];
  notes?: ClusterProblem[];
}

function validate(c: Case): ClusterValidation {
  const spec = sampleSpec();
  c.spec?.(spec);
  const env: Env = { spec, statuses: healthyStatuses(spec), mirror: completeMirror() };
  c.env?.(env);
  const prefix = c.prefix === undefined ? 24 : c.prefix;
  return validateCluster(spec, fakePorts(env.statuses, env.mirror, prefix ?? undefined), c.options);
}

const host = (s: ClusterSpec, name: string) => {
  const h = s.hosts.find((x) => x.name === name);
  if (h === undefined) throw new Error(`no host ${name}`);
  return h;
};
const status = (e: Env, name: string) => {
  const st = e.statuses.get(name);
  if (st === undefined || st.facts === null) throw new Error(`no status ${name}`);
  return st as ClusterHostStatus & { facts: Facts };
};

describe('validateCluster', () => {
  it('accepts the sample cluster with nothing to note', () => {
    expect(validate({})).toEqual({ problems: [], notes: [] });
  });

  const CASES: Record<string, Case> = {
    // ---- topology
    'no etcd member': {
      spec: (s) => {
        for (const h of s.hosts) h.roles = h.roles.filter((r) => r !== 'etcd');
      },
      problems: [{ path: '/hosts', message: 'no host has the etcd role: give it to 1, 3 or 5 hosts' }],
    },
    'four etcd members': {
      spec: (s) => (host(s, 'w-1').roles = ['etcd', 'worker']),
      problems: [{ path: '/hosts', message: '4 hosts have the etcd role: 4 members tolerate 1 failure, no more than 3 do, and every write waits for one more voter; use 3 or 5' }],
    },
    'two etcd members': {
      spec: (s) => (host(s, 'cp-3').roles = ['control-plane']),
      problems: [{ path: '/hosts', message: '2 hosts have the etcd role: 2 members tolerate 0 failures, no more than 1 do, and every write waits for one more voter; use 1 or 3' }],
    },
    'one etcd member is fine': {
      spec: (s) => {
        host(s, 'cp-2').roles = ['control-plane'];
        host(s, 'cp-3').roles = ['control-plane'];
      },
    },
    'nine etcd members': {
      spec: (s) => {
        for (let i = 3; i <= 8; i++) s.hosts.push({ name: `e-${i}`, address: `10.0.0.${30 + i}`, roles: ['etcd'] });
      },
      notes: [{ path: '/hosts', message: '9 etcd members: etcd recommends at most 7 (each write waits for a majority)' }],
    },
    'no control plane': {
      spec: (s) => {
        for (const h of s.hosts) h.roles = h.roles.filter((r) => r !== 'control-plane');
      },
      problems: [{ path: '/hosts', message: 'no host has the control-plane role' }],
    },
    'no worker': {
      spec: (s) => (s.hosts = s.hosts.slice(0, 3)),
      notes: [{ path: '/hosts', message: 'no host has the worker role: workloads run only where they tolerate the control-plane taint' }],
    },
    // ---- names and addresses
    'a name twice': {
      spec: (s) => (host(s, 'w-2').name = 'w-1'),
      problems: [{ path: '/hosts/4/name', message: '"w-1" is listed twice (also /hosts/3/name)' }],
    },
    'an address twice': {
      spec: (s) => (host(s, 'w-2').address = '10.0.0.21'),
      problems: [{ path: '/hosts/4/address', message: '10.0.0.21 is also the address of "w-1" (/hosts/3/address)' }],
    },
    'an address that only looks like one': {
      spec: (s) => (host(s, 'w-2').address = '10.0.0.256'),
      problems: [{ path: '/hosts/4/address', message: '"10.0.0.256" is not an IPv4 or IPv6 address' }],
    },
    'IPv4 and IPv6 hosts mixed': {
      spec: (s) => (host(s, 'w-2').address = 'fd00::22'),
      env: (e) => (status(e, 'w-2').facts.nics[0]?.ipv6.push('fd00::22')),
      problems: [{ path: '/hosts/4/address', message: 'mixes IPv6 with IPv4 host addresses: a cluster is single-stack, one family' }],
    },
    // ---- VIP
    'VIP is a host address': {
      spec: (s) => (s.vip.address = '10.0.0.12'),
      problems: [{ path: '/vip/address', message: 'is the address of "cp-2" (/hosts/1/address): the VIP must be an unused address' }],
    },
    'VIP outside the control-plane subnet': {
      spec: (s) => (s.vip.address = '10.0.1.10'),
      problems: [
        {
          path: '/vip/address',
          message: 'is outside 10.0.0.0/24, the subnet of control-plane hosts "cp-1", "cp-2", "cp-3": the VIP must be reachable on every control-plane host\'s link',
        },
      ],
    },
    'control-plane hosts on two subnets': {
      spec: (s) => (host(s, 'cp-3').address = '10.0.1.13'),
      problems: [
        { path: '/vip/address', message: 'is outside 10.0.1.0/24, the subnet of control-plane host "cp-3": the VIP must be reachable on every control-plane host\'s link' },
      ],
    },
    'VIP on a worker-only subnet is fine': {
      spec: (s) => {
        host(s, 'w-1').address = '10.9.0.21';
        host(s, 'w-2').address = '10.9.0.22';
      },
    },
    'VIP is the network address': {
      spec: (s) => (s.vip.address = '10.0.0.0'),
      problems: [{ path: '/vip/address', message: 'is the network or broadcast address of 10.0.0.0/24 ("cp-1")' }],
    },
    'VIP is the broadcast address of a /26': {
      spec: (s) => (s.vip.address = '10.0.0.63'),
      prefix: 26,
      problems: [{ path: '/vip/address', message: 'is the network or broadcast address of 10.0.0.0/26 ("cp-1")' }],
    },
    'prefix length unknown: /24 assumed and noted': {
      prefix: null,
      notes: [{ path: '/hosts', message: 'prefix length unknown for any host: assumed /24 (IPv6 /64) for the VIP and CIDR checks' }],
    },
    'a wider subnet from facts takes the VIP in': { spec: (s) => (s.vip.address = '10.0.3.10'), prefix: 22 },
    // ---- CIDRs
    'pod and service CIDRs overlap': {
      spec: (s) => (s.network.serviceCidr = '10.244.128.0/20'),
      problems: [{ path: '/network/serviceCidr', message: 'overlaps podCidr 10.244.0.0/16' }],
    },
    'pod CIDR covers the hosts': {
      spec: (s) => (s.network.podCidr = '10.0.0.0/16'),
      problems: [{ path: '/network/podCidr', message: 'overlaps 10.0.0.0/24, the subnet of "cp-1", "cp-2", "cp-3", "w-1", "w-2": pods and services would shadow host addresses' }],
    },
    'service CIDR inside the hosts subnet': {
      spec: (s) => (s.network.serviceCidr = '10.0.0.128/25'),
      problems: [{ path: '/network/serviceCidr', message: 'overlaps 10.0.0.0/24, the subnet of "cp-1", "cp-2", "cp-3", "w-1", "w-2": pods and services would shadow host addresses' }],
    },
    'CIDRs that do not parse': {
      spec: (s) => {
        s.network.podCidr = '10.244.0.0/33';
        s.network.serviceCidr = '300.96.0.0/12';
      },
      problems: [
        { path: '/network/podCidr', message: 'prefix "/33" is not 0-32' },
        { path: '/network/serviceCidr', message: '"300.96.0.0" is not an IPv4 or IPv6 address' },
      ],
    },
    'host bits set': {
      spec: (s) => (s.network.podCidr = '10.244.1.0/16'),
      problems: [{ path: '/network/podCidr', message: 'has host bits set: did you mean 10.244.0.0/16?' }],
    },
    'service CIDR too large': {
      spec: (s) => (s.network.serviceCidr = '172.0.0.0/11'),
      problems: [{ path: '/network/serviceCidr', message: 'is too large: kube-apiserver accepts at most 20 host bits (/12)' }],
    },
    'pod CIDR smaller than a node range': {
      spec: (s) => (s.network.podCidr = '10.244.0.0/25'),
      problems: [{ path: '/network/podCidr', message: "is smaller than one node's pod range (/24): use /16 or larger" }],
    },
    'pod CIDR with room for fewer nodes than the cluster has': {
      spec: (s) => (s.network.podCidr = '10.244.0.0/23'),
      problems: [{ path: '/network/podCidr', message: 'has room for 2 node pod ranges (/24) but the cluster has 5 nodes' }],
    },
    'IPv6 pod CIDR on IPv4 hosts': {
      spec: (s) => (s.network.podCidr = 'fd00:10:244::/56'),
      problems: [{ path: '/network/podCidr', message: 'is IPv6 but the hosts are IPv4: a cluster is single-stack' }],
    },
    'no CNI manifest': {
      spec: (s) => (s.network.cniManifest = undefined),
      notes: [{ path: '/network/cniManifest', message: 'not set: nodes stay NotReady until a CNI is installed' }],
    },
    // ---- enrolment and health
    'a host not enrolled': {
      env: (e) => e.statuses.delete('w-2'),
      problems: [{ path: '/hosts/4/name', message: 'host "w-2" is not enrolled: create a join token and install the agent on it' }],
    },
    'a degraded host': {
      env: (e) => e.statuses.set('cp-2', { ...status(e, 'cp-2'), state: 'degraded', failingChecks: ['disk-space', 'containerd'] }),
      problems: [{ path: '/hosts/1/name', message: 'host "cp-2" is degraded, not healthy (failing: disk-space, containerd)' }],
    },
    'a disconnected host': {
      env: (e) => e.statuses.set('w-1', { ...status(e, 'w-1'), state: 'unreachable', connected: false }),
      problems: [{ path: '/hosts/3/name', message: 'host "w-1" has no agent connected (state unreachable)' }],
    },
    'a pending host without facts yet': {
      env: (e) => e.statuses.set('w-1', { ...status(e, 'w-1'), state: 'pending', facts: null, arch: null, health: null }),
      problems: [
        { path: '/hosts/3/name', message: 'host "w-1" is pending, not healthy' },
        { path: '/hosts/3/name', message: 'host "w-1" has not reported its facts yet' },
      ],
      notes: [
        { path: '/hosts', message: 'clock offset unknown for w-1: skew not checked' },
        { path: '/versions', message: 'architecture unknown for some hosts (no facts, or offline): their artifacts are checked for amd64' },
      ],
    },
    'clocks off both ways': {
      env: (e) => {
        status(e, 'cp-1').health = { ...(status(e, 'cp-1').health ?? ({} as never)), clockOffsetMs: 812.4 };
        status(e, 'w-2').health = { ...(status(e, 'w-2').health ?? ({} as never)), clockOffsetMs: -1500 };
        status(e, 'w-1').health = { ...(status(e, 'w-1').health ?? ({} as never)), clockOffsetMs: -500 };
      },
      problems: [
        { path: '/hosts/0/name', message: 'host "cp-1"\'s clock is 812 ms ahead of the controller\'s (limit 500 ms): sync it with NTP' },
        { path: '/hosts/4/name', message: 'host "w-2"\'s clock is 1500 ms behind the controller\'s (limit 500 ms): sync it with NTP' },
      ],
    },
    'a stricter clock limit': {
      options: { maxClockSkewMs: 10 },
      env: (e) => {
        for (const [name, s] of e.statuses) if (name !== 'cp-1') s.health = null;
      },
      problems: [{ path: '/hosts/0/name', message: 'host "cp-1"\'s clock is 12 ms ahead of the controller\'s (limit 10 ms): sync it with NTP' }],
      notes: [{ path: '/hosts', message: 'clock offset unknown for cp-2, cp-3, w-1, w-2: skew not checked' }],
    },
    // ---- facts
    'address not on the host': {
      env: (e) => {
        const nic = status(e, 'w-1').facts.nics[0];
        if (nic !== undefined) nic.ipv4 = ['10.0.0.99'];
      },
      problems: [{ path: '/hosts/3/address', message: '10.0.0.21 is not on any interface of "w-1" (it has 10.0.0.99, fe80::5054:ff:fe00:04)' }],
    },
    'VIP interface missing on a control-plane host (workers need not have it)': {
      env: (e) => {
        for (const name of ['cp-2', 'w-1']) {
          const nic = status(e, name).facts.nics[0];
          if (nic !== undefined) nic.name = 'enp1s0';
        }
      },
      problems: [{ path: '/vip/interface', message: 'no interface eth0 on control-plane host cp-2' }],
    },
    'cloned machines: hostname, MAC and product UUID repeat': {
      env: (e) => {
        const a = status(e, 'w-1').facts;
        const b = status(e, 'w-2').facts;
        b.hostname = 'W-1';
        b.productUuid = a.productUuid.toUpperCase();
        const nic = b.nics[0];
        if (nic !== undefined) nic.mac = a.nics[0]?.mac ?? '';
      },
      problems: [
        { path: '/hosts/4/name', message: '"w-2" reports the same hostname as "w-1" (w-1): node names would clash' },
        { path: '/hosts/4/name', message: '"w-2" reports the same MAC address as "w-1" (52:54:00:00:00:04): cloned machines confuse ARP and DHCP' },
        { path: '/hosts/4/name', message: '"w-2" reports the same product UUID as "w-1" (4c4c4544-0000-0000-0000-000000000004): kubeadm refuses duplicate product_uuid' },
      ],
    },
    'placeholder product UUIDs are noted, not compared': {
      env: (e) => {
        status(e, 'w-1').facts.productUuid = '03000200-0400-0500-0006-000700080009';
        status(e, 'w-2').facts.productUuid = '03000200-0400-0500-0006-000700080009';
        status(e, 'cp-1').facts.productUuid = '';
      },
      notes: [{ path: '/hosts', message: 'no usable product UUID from cp-1, w-1, w-2: uniqueness not checked for them' }],
    },
    // ---- artifacts
    'artifacts missing from the mirror': {
      env: (e) => (e.mirror = e.mirror.filter((a) => a.name !== 'kubelet' && a.name !== 'runc' && a.name !== 'etcd')),
      problems: [
        { path: '/versions/etcd', message: 'etcd 3.5.33 for amd64 is not in the mirror: add it with `ballastctl artifacts fetch` (or upload it)' },
        { path: '/versions', message: 'no runc for amd64 in the mirror: add it with `ballastctl artifacts fetch` (or upload it)' },
        { path: '/versions/kubernetes', message: 'kubelet 1.36.3 for amd64 is not in the mirror: add it with `ballastctl artifacts fetch` (or upload it)' },
      ],
    },
    'a Kubernetes older than any kubeadm config API Ballast renders, with build metadata or not': {
      spec: (s) => (s.versions.kubernetes = '1.21.14+custom.1'),
      problems: [
        { path: '/versions/kubernetes', message: 'failed to pick a kubeadm config API: Kubernetes 1.21.14+custom.1 is not supported (want 1.22 or newer)' },
        ...['kubeadm', 'kubelet', 'kubectl'].map((n) => ({
          path: '/versions/kubernetes',
          message: `${n} 1.21.14+custom.1 for amd64 is not in the mirror: add it with \`ballastctl artifacts fetch\` (or upload it)`,
        })),
      ],
    },
    'a version the mirror lacks (v prefix ignored)': {
      spec: (s) => (s.versions.kubernetes = 'v1.31.0'),
      problems: ['kubeadm', 'kubelet', 'kubectl'].map((n) => ({
        path: '/versions/kubernetes',
        message: `${n} 1.31.0 for amd64 is not in the mirror: add it with \`ballastctl artifacts fetch\` (or upload it)`,
      })),
    },
    'a version with build metadata is looked up whole: the catalogue build of the release does not count': {
      spec: (s) => (s.versions.kubernetes = `${s.versions.kubernetes}+ballast.standin`),
      problems: ['kubeadm', 'kubelet', 'kubectl'].map((n) => ({
        path: '/versions/kubernetes',
        message: `${n} 1.36.3+ballast.standin for amd64 is not in the mirror: add it with \`ballastctl artifacts fetch\` (or upload it)`,
      })),
    },
    'an arm64 worker needs arm64 node artifacts, not etcd': {
      env: (e) => e.statuses.set('w-2', { ...status(e, 'w-2'), arch: 'arm64' }),
      problems: ['containerd 1.7.22', 'no runc', 'no cni-plugins', 'kubeadm 1.36.3', 'kubelet 1.36.3', 'kubectl 1.36.3'].map((what) => ({
        path: what.startsWith('no ') ? '/versions' : what.startsWith('kube') ? '/versions/kubernetes' : '/versions/containerd',
        message: `${what} for arm64 ${what.startsWith('no ') ? '' : 'is not '}in the mirror: add it with \`ballastctl artifacts fetch\` (or upload it)`,
      })),
    },
    'stand-in mode does not require the kube binaries': {
      env: (e) => (e.mirror = e.mirror.filter((a) => !a.name.startsWith('kube'))),
      options: { standIn: true },
      notes: [{ path: '/versions/kubernetes', message: 'stand-in mode: kubeadm, kubelet, kubectl not required in the mirror' }],
    },
  };

  it.each(Object.entries(CASES))('%s', (_name, c) => {
    const result = validate(c);
    expect(result.problems).toEqual(c.problems ?? []);
    expect(result.notes).toEqual(c.notes ?? []);
  });

  it('reports problems of every kind in one pass', () => {
    const result = validate({
      spec: (s) => {
        host(s, 'w-1').roles = ['etcd', 'worker'];
        s.vip.address = '10.0.0.11';
        s.network.serviceCidr = '10.244.0.0/16';
        host(s, 'w-2').name = 'w-1';
      },
      env: (e) => {
        e.statuses.delete('cp-3');
        e.mirror = [];
      },
    });
    expect(result.problems.map((p) => p.path)).toEqual([
      '/hosts/4/name',
      '/hosts',
      '/vip/address',
      '/network/serviceCidr',
      '/hosts/2/name',
      ...Array(REQUIRED_ARTIFACTS.length).fill(expect.stringMatching(/^\/versions/)),
    ]);
  });

  it('offline: only the document is checked, and the notes say what was not', () => {
    const result = validateCluster(sampleSpec());
    expect(result).toEqual({
      problems: [],
      notes: [
        { path: '/hosts', message: 'prefix length unknown for any host: assumed /24 (IPv6 /64) for the VIP and CIDR checks' },
        { path: '/hosts', message: 'not checked offline: enrolment, health, facts and clocks (cluster create checks them)' },
        { path: '/versions', message: 'not checked offline: artifacts in the mirror (cluster create checks them)' },
      ],
    });
  });

  it('asks the mirror for pinned versions and the newest runc and cni-plugins', () => {
    const spec = sampleSpec();
    const mirror = fakeMirror(completeMirror());
    validateCluster(spec, { hosts: { find: (n) => healthyStatuses(spec).get(n) ?? null }, artifacts: mirror, prefixLength: () => 24 });
    expect(mirror.queries).toEqual([
      'etcd@3.5.33/amd64',
      'containerd@1.7.22/amd64',
      'runc@*/amd64',
      'cni-plugins@*/amd64',
      'kubeadm@1.36.3/amd64',
      'kubelet@1.36.3/amd64',
      'kubectl@1.36.3/amd64',
    ]);
  });

  it('validates an IPv6 cluster', () => {
    const result = validate({
      spec: (s) => {
        for (const [i, h] of s.hosts.entries()) h.address = `fd00:0:0:1::${i + 11}`;
        s.vip.address = 'fd00:0:0:1::10';
        s.network.podCidr = 'fd00:10:244::/56';
        s.network.serviceCidr = 'fd00:10:96::/112';
      },
      env: (e) => {
        for (const h of e.spec.hosts) e.statuses.get(h.name)?.facts?.nics[0]?.ipv6.push(h.address);
      },
      prefix: 64,
    });
    expect(result).toEqual({ problems: [], notes: [] });
  });
});

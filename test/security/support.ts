/**
 * Shared fixtures of the security tests: valid vars for every role (the values the lab passes, or
 * the defaults), the hostile values an attacker with an operator token would try, and the check
 * that a rendered task stays inside what the agent accepts.
 */
import { renderInitConfig, type KubeadmConfigInput } from '../../controller/src/kube/kubeadm-config.js';
import { REQUIRED_CONTROL_PLANE_PKI } from '../../controller/src/roles/kube-control-plane.js';
import { kubeadmTestInput, pem, TEST_TLS, GOLDEN_CA_PEM } from '../../controller/src/roles/testing.js';
import type { RoleTask } from '../../controller/src/roles/types.js';
import {
  BINARY_PATHS,
  CONFIG_PATHS,
  kmodAllowed,
  pathAllowed,
  pathProblem,
  REMOVABLE_PATHS,
  ROLE_UNITS,
  sysctlProblem,
  UNIT_PATHS,
} from '../../shared/src/tasks/safety.js';
import { unitProblems } from '../../shared/src/tasks/unit-safety.js';

const KUBEADM_INPUT: KubeadmConfigInput = kubeadmTestInput('1.36.3');

const TLS = TEST_TLS;

/** Vars that render for every role: what the lab and the bootstrap pass (defaults for the paths). */
export const BASE_VARS: Readonly<Record<string, Record<string, unknown>>> = {
  preflight: { freePorts: [2379, { port: 6443, unlessExists: '/etc/kubernetes/admin.conf' }], minFreeBytes: { '/var/lib': 1 } },
  'os-prep': {},
  containerd: {},
  etcd: { tls: TLS },
  'etcd-member': { action: 'add', member: 'node-2', peerUrls: ['https://198.18.0.3:2380'] },
  'etcd-wipe': {},
  'static-pods': { state: 'parked' },
  'etcd-stop': {},
  'etcd-restore': {
    action: 'restore',
    restoreId: 'op-1',
    name: 'node-1',
    initialCluster: 'node-1=https://198.18.0.2:2380',
    peerUrls: ['https://198.18.0.2:2380'],
    snapshot: { cluster: 'lab', id: 'snap-1', sha256: 'a'.repeat(64), size: 10 },
    endpoints: ['https://198.18.0.2:2379'],
  },
  'kube-node': {},
  'kube-control-plane': {
    pki: REQUIRED_CONTROL_PLANE_PKI.map((name) => ({
      path: `/etc/kubernetes/pki/${name}`,
      content: name.endsWith('.key') ? pem('PRIVATE KEY', name) : pem('CERTIFICATE', name),
    })),
    kubeadm: { action: 'init', config: renderInitConfig(KUBEADM_INPUT) },
  },
  'kube-worker': { caCert: GOLDEN_CA_PEM, kubeadm: { config: 'kind: JoinConfiguration\napiVersion: kubeadm.k8s.io/v1beta3\n' } },
  vip: {
    name: 'api',
    address: '198.18.0.100',
    interface: 'eth0',
    etcdEndpoint: 'https://127.0.0.1:2379',
    tls: { caCert: TLS.caCert, clientCert: TLS.serverCert, clientKey: TLS.serverKey },
    health: { kind: 'https', url: 'https://127.0.0.1:6443/readyz', caFile: '/etc/kubernetes/pki/ca.crt' },
  },
  reset: {},
};

/** Paths an attacker would try: non-canonical forms of harmless or vital places, and places no role writes. */
export const HOSTILE_PATHS = [
  '/./.',
  '/./etc',
  '/.',
  '/',
  '/etc',
  '/etc/../etc/kubernetes',
  '/var/lib/etcd/..',
  '/var/lib/etcd/.',
  '//var/lib/etcd',
  '/var/lib//etcd',
  '/var/lib/etcd/',
  '/etc/cron.d/ballast',
  '/root/.ssh/authorized_keys',
  '/etc/passwd',
  '/usr/local/bin/ls',
  '/usr/sbin/attacker',
  '/tmp/x',
  `/var/lib/etcd/${'a'.repeat(5000)}`,
];

/** Sysctls and kernel modules no role needs (the first one is root code execution on the next crash). */
export const HOSTILE_SYSCTLS: Record<string, string> = {
  'kernel.core_pattern': '|/bin/sh -c "id > /tmp/pwned"',
  'kernel.modprobe': '/tmp/evil',
  'net.ipv4.ip_forward': '1; reboot',
  'vm.max_map_count': 'x'.repeat(300),
};
export const HOSTILE_KMODS = ['evil', 'ip_vs_x', 'a'.repeat(64)];

/** Every problem a rendered task has against the agent's own allow-lists (empty: the agent accepts it). */
export function taskProblems(task: RoleTask): string[] {
  const args = task.args as Record<string, unknown>;
  const out: string[] = [];
  const path = (p: unknown, rules: Parameters<typeof pathAllowed>[1] | null, what: string) => {
    if (typeof p !== 'string') return;
    const why = pathProblem(p);
    if (why !== null) out.push(`${task.name}: ${what} ${p} ${why}`);
    else if (rules !== null && !pathAllowed(p, rules)) out.push(`${task.name}: ${what} ${p} outside the allow-list`);
  };
  const absent = args.state === 'absent';
  switch (task.module) {
    case 'file':
    case 'template':
    case 'directory':
      path(args.path, absent ? REMOVABLE_PATHS : CONFIG_PATHS, 'path');
      break;
    case 'artifact':
      for (const i of args.install as { to: string }[]) path(i.to, BINARY_PATHS, 'install.to');
      break;
    case 'systemd': {
      if (!(ROLE_UNITS as readonly string[]).includes(String(args.unit))) out.push(`${task.name}: unit ${String(args.unit)} is not a role unit`);
      path(`/etc/systemd/system/${String(args.unit)}`, UNIT_PATHS, 'unit');
      // The agent refuses unit content that could run anything but the roles' binaries (unit-safety.ts).
      const texts = [...(typeof args.content === 'string' ? [args.content] : []), ...Object.values((args.dropIns ?? {}) as Record<string, string>)];
      for (const p of texts.flatMap(unitProblems)) out.push(`${task.name}: unit line ${p.line}: ${p.message}`);
      break;
    }
    case 'sysctl': {
      const why = sysctlProblem(String(args.name), String(args.value));
      if (why !== null) out.push(`${task.name}: ${why}`);
      break;
    }
    case 'kmod':
      if (!kmodAllowed(String(args.name))) out.push(`${task.name}: kernel module ${String(args.name)} not allowed`);
      break;
    default:
      // Read-only or fixed-path modules: every path they name must still be canonical.
      for (const key of ['caFile', 'certFile', 'keyFile', 'configPath', 'creates', 'removes']) path(args[key], null, key);
  }
  return out;
}

/**
 * The safe domains of task arguments, shared by the controller's roles (which refuse a role run
 * whose vars leave them) and the agent's modules (which re-check every task on their own: the agent
 * is the last line of defence and must not trust that a task came from a well-behaved role).
 *
 * Every list here is derived from what the roles in controller/src/roles actually write, read or
 * remove; a new role that needs a new place adds it here, in review, not through a variable.
 */

/** Longest path a task may name (PATH_MAX). */
export const MAX_TASK_PATH = 4096;

/**
 * Why `path` is not a canonical absolute path, or null when it is. Canonical: starts with `/`, no
 * empty (`//`), `.` or `..` segment, no trailing `/`, no NUL. Such paths are refused rather than
 * normalised: `/./etc` passed a "top-level directory" check that counted raw segments, and a task
 * that needs normalising is a bug or an attack either way.
 */
export function pathProblem(path: string): string | null {
  if (path.length === 0 || path.length > MAX_TASK_PATH) return `must be 1 to ${MAX_TASK_PATH} characters`;
  if (!path.startsWith('/')) return 'must be absolute';
  if (path.includes('\0')) return 'must not contain NUL';
  if (path === '/') return null;
  const segments = path.slice(1).split('/');
  if (segments.some((s) => s === '')) return 'must not contain "//" or end with "/"';
  if (segments.some((s) => s === '.' || s === '..')) return 'must not contain "." or ".." segments';
  return null;
}

/**
 * One place tasks may touch: `tree` is the path and everything below it, `under` only what is
 * strictly below it (the directory itself is not ours: /etc/systemd/system), `file` exactly the path.
 */
export interface PathRule {
  kind: 'tree' | 'under' | 'file';
  path: string;
}

/** The path and everything below it. */
export const tree = (path: string): PathRule => ({ kind: 'tree', path });
/** Only what is strictly below the path. */
export const under = (path: string): PathRule => ({ kind: 'under', path });
/** Exactly the path. */
export const file = (path: string): PathRule => ({ kind: 'file', path });

/** True when canonical `path` is inside one of `rules`. */
export function pathAllowed(path: string, rules: readonly PathRule[]): boolean {
  return rules.some((r) => {
    if (r.kind === 'file') return path === r.path;
    if (r.kind === 'tree' && path === r.path) return true;
    return path.startsWith(`${r.path}/`);
  });
}

/** A short human list of `rules`, for error messages. */
export function describeRules(rules: readonly PathRule[]): string {
  return rules.map((r) => (r.kind === 'file' ? r.path : r.kind === 'tree' ? `${r.path}[/…]` : `${r.path}/…`)).join(', ');
}

/** Directories the roles install binaries into (kubeadm's drop-in and the packages expect /usr/bin). */
export const BINARY_DIRS = ['/usr/local/bin', '/usr/local/sbin', '/usr/bin'] as const;

/** Every binary a role installs from an artifact, outside the CNI plugin directory. */
export const BINARY_NAMES = ['containerd', 'containerd-shim-runc-v2', 'ctr', 'runc', 'etcd', 'etcdctl', 'etcdutl', 'kubelet', 'kubeadm', 'kubectl', 'crictl'] as const;

/** Where the CNI plugins go: their names come from upstream's release, so the whole directory is ours. */
export const CNI_BIN_DIR = '/opt/cni/bin';

/**
 * Where the `artifact` module may install: each known binary name in each binary directory, and the
 * CNI plugin directory. Not a directory prefix: /usr/local/bin comes first in root's PATH, so an
 * arbitrary name there (`/usr/local/bin/ls`) would be root code execution.
 */
export const BINARY_PATHS: readonly PathRule[] = [
  ...BINARY_DIRS.flatMap((dir) => BINARY_NAMES.map((name) => file(`${dir}/${name}`))),
  under(CNI_BIN_DIR),
];

/**
 * Where `file` and `template` may write and `directory` may create. Not /etc/ballast as a whole:
 * the agent's own key and certificate live there. Not /etc/systemd/system (only the `systemd`
 * module writes units), /etc/sysctl.d or /etc/modules-load.d (only their own modules, with
 * allow-listed content), and never /etc/cron.d, /root or a home directory.
 */
export const CONFIG_PATHS: readonly PathRule[] = [
  tree('/etc/ballast/components.d'),
  tree('/etc/ballast/vip'),
  file('/etc/ballast/vip.yaml'),
  // The VIP exclusion marker: only the reset role removes it (a reset host must campaign again once re-enrolled).
  file('/var/lib/ballast/vip-excluded'),
  tree('/etc/kubernetes'),
  tree('/etc/containerd'),
  tree('/etc/cni/net.d'),
  tree('/etc/etcd'),
  file('/etc/crictl.yaml'),
  tree('/var/lib/etcd'),
  tree('/var/lib/kubelet'),
  tree(CNI_BIN_DIR),
];

/** Where the `image` module may find containerd's socket (the containerd role's `socket` rule). */
export const CONTAINERD_SOCKET_PATHS: readonly PathRule[] = [under('/run/containerd')];

/** Where units we install live: /etc overrides the vendor's /lib/systemd/system. */
export const UNIT_DIR = '/etc/systemd/system';

/**
 * The units the roles install (containerd, etcd, kube-node) and `reset` removes: the only units the
 * `systemd` module manages. Not every name under /etc/systemd/system: a new `ssh.service` there
 * would override the distribution's, and stopping one is a lock-out.
 */
export const ROLE_UNITS = ['containerd.service', 'etcd.service', 'kubelet.service'] as const;

/** Where the `systemd` module writes: exactly the role units and the drop-ins in their `.d` directories. */
export const UNIT_PATHS: readonly PathRule[] = ROLE_UNITS.flatMap((u) => [file(`${UNIT_DIR}/${u}`), under(`${UNIT_DIR}/${u}.d`)]);

/** The file the `os-prep` role persists its sysctls in (its default `sysctlFile`), which `reset` removes. */
export const BALLAST_SYSCTL_FILE = '/etc/sysctl.d/99-ballast-kubernetes.conf';
/** The one file the `kmod` module lists boot-time modules in. */
export const MODULES_LOAD_FILE = '/etc/modules-load.d/ballast.conf';

/**
 * What `file`/`directory` with `state: absent` may remove (the `reset` and `etcd-wipe` roles):
 * everything they may create, exactly the units (with their drop-in directories), binaries and
 * kernel settings files the roles install, and containerd's data. Not the rest of /etc/sysctl.d
 * (a distribution's hardening, e.g. kernel.yama.ptrace_scope) nor of /etc/systemd/system (reset
 * removes with `force`, so anything listed here can be removed even without our header).
 */
export const REMOVABLE_PATHS: readonly PathRule[] = [
  ...CONFIG_PATHS,
  ...ROLE_UNITS.flatMap((u) => [file(`${UNIT_DIR}/${u}`), tree(`${UNIT_DIR}/${u}.d`)]),
  ...BINARY_PATHS,
  file(BALLAST_SYSCTL_FILE),
  file(MODULES_LOAD_FILE),
  tree('/var/lib/containerd'),
];

/**
 * Sysctls a role may set: what Kubernetes nodes are commonly tuned with. All are numeric, so a
 * value is digits and spaces only — never `|/bin/sh …` (kernel.core_pattern runs its pipe target as
 * root on the next crash) or a path.
 */
export const SYSCTL_ALLOW_LIST: readonly string[] = [
  'net.ipv4.ip_forward',
  'net.ipv6.conf.all.forwarding',
  'net.bridge.bridge-nf-call-iptables',
  'net.bridge.bridge-nf-call-ip6tables',
  'net.ipv4.conf.all.rp_filter',
  'net.ipv4.ip_local_port_range',
  'net.core.somaxconn',
  'net.ipv4.tcp_rmem',
  'net.ipv4.tcp_wmem',
  'net.netfilter.nf_conntrack_max',
  'vm.max_map_count',
  'vm.overcommit_memory',
  'vm.swappiness',
  'vm.panic_on_oom',
  'kernel.panic',
  'kernel.panic_on_oops',
  'kernel.keys.root_maxkeys',
  'kernel.keys.root_maxbytes',
  'fs.inotify.max_user_watches',
  'fs.inotify.max_user_instances',
  'fs.file-max',
];

/** A sysctl value: one to four unsigned integers separated by single spaces (port ranges have two). */
export const SYSCTL_VALUE_PATTERN = '^[0-9]{1,20}( [0-9]{1,20}){0,3}$';

/** Kernel modules a role may load: container networking and storage, kube-proxy's IPVS mode. */
export const KMOD_ALLOW_LIST: readonly string[] = [
  'overlay',
  'br_netfilter',
  'nf_conntrack',
  'ip_tables',
  'ip6_tables',
  'iptable_filter',
  'iptable_nat',
  'ip_vs',
  'ip_vs_rr',
  'ip_vs_wrr',
  'ip_vs_sh',
  'vxlan',
];

/** `net/ipv4/ip_forward` and `net.ipv4.ip_forward` name the same key; the dotted form is canonical. */
export function dottedSysctl(name: string): string {
  return name.includes('/') ? name.replaceAll('/', '.') : name;
}

/** Why a sysctl name/value pair is refused, or null when it is allowed. */
export function sysctlProblem(name: string, value: string): string | null {
  if (!SYSCTL_ALLOW_LIST.includes(dottedSysctl(name))) return `sysctl ${JSON.stringify(name)} is not in the allow-list (${SYSCTL_ALLOW_LIST.join(', ')})`;
  if (!new RegExp(SYSCTL_VALUE_PATTERN).test(value.trim().split(/\s+/).join(' '))) {
    return `sysctl ${name} value ${JSON.stringify(value.slice(0, 64))} is not one to four integers`;
  }
  return null;
}

/** Kernel module names treat `-` and `_` alike (modprobe does). */
export function kmodAllowed(name: string): boolean {
  return KMOD_ALLOW_LIST.includes(name.replaceAll('-', '_'));
}

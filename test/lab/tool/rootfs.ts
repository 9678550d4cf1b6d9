import { createHash } from 'node:crypto';
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { run } from './exec.js';

/**
 * What every lab host boots: a minimal Debian with real systemd and what the agent package depends
 * on — and deliberately no Node.js, so the package must bring its own. curl and openssl are there for
 * the one-line install (`curl … | sh`), as on most servers. keepalived is the VIP benchmark's
 * comparison (test/lab/vip/keepalived.ts); it is installed disabled (see DISABLED_UNITS).
 */
export const ROOTFS_PACKAGES = [
  'systemd',
  'systemd-sysv',
  'dbus',
  'iproute2',
  'iputils-arping',
  'iputils-ping',
  'procps',
  'ca-certificates',
  'curl',
  'openssl',
  'keepalived',
  // The bridge CNI plugin's ipMasq and kube-apiserver/kubelet rules need iptables (real Kubernetes).
  'iptables',
];

/**
 * Units a package enables at install that no lab host may start at boot: keepalived without a
 * config does nothing useful, and with one it would fight Ballast's agents over the VIP. The VIP
 * bench enables it explicitly where it runs it.
 */
const DISABLED_UNITS = ['keepalived.service'];

/**
 * Units masked on every lab host. Hosts must not try to reach the outside: no apt timers, no
 * network waits. systemd-remount-fs remounts / with the options of its /etc/fstab line; a lab
 * host's root is an overlay the lab mounted (the rootfs has no fstab line for it), so the unit
 * failed on every boot and `scripts/lab status` showed each host as "degraded".
 */
const MASKED_UNITS = ['apt-daily.timer', 'apt-daily-upgrade.timer', 'systemd-networkd-wait-online.service', 'systemd-remount-fs.service'];

/** Masks {@link MASKED_UNITS} in the rootfs at `root` (idempotent: cached rootfses get new ones too). */
function ensureMasked(root: string): void {
  for (const unit of MASKED_UNITS) {
    const link = join(root, 'etc/systemd/system', unit);
    if (!existsSync(link)) symlinkSync('/dev/null', link);
  }
  ensureKubeUnits(root);
}

/** The global kernel tunables kubelet insists on, and the values it wants (kubelet's container manager). */
const SHIELDED_TUNABLES: Record<string, string> = { 'vm/overcommit_memory': '1', 'kernel/panic': '10', 'kernel/panic_on_oops': '1' };

/**
 * What a real kubelet and containerd need in a lab host (test/lab/KUBERNETES.md, "One host", step
 * 3), as units every lab host starts at boot, before containerd and kubelet:
 * - nspawn mounts the v1 cgroup controllers read-only; `remount,bind,rw` makes them writable (a
 *   plain `remount,rw` is refused as busy);
 * - kubelet needs `/` shared (mount propagation for volumes);
 * - with a writable /proc/sys, kubelet would set vm.overcommit_memory, kernel.panic and
 *   kernel.panic_on_oops for the whole machine: read-only files holding the values it wants are
 *   bound over them, inside the host's mount namespace only, so it reads them and writes nothing.
 */
const KUBE_UNITS: Record<string, string> = {
  'ballast-lab-cgroup-rw.service': `[Unit]
Description=Lab: remount the cgroup v1 controllers read-write (systemd-nspawn mounts them read-only)
DefaultDependencies=no
Before=containerd.service kubelet.service
[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/bin/sh -c 'for d in /sys/fs/cgroup/*/; do mount -o remount,bind,rw "$d"; done'
[Install]
WantedBy=multi-user.target
`,
  'ballast-lab-rshared.service': `[Unit]
Description=Lab: make / a shared mount for kubelet's mount propagation
DefaultDependencies=no
Before=containerd.service kubelet.service
[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/bin/mount --make-rshared /
[Install]
WantedBy=multi-user.target
`,
  'ballast-lab-kernel-shield.service': `[Unit]
Description=Lab: show kubelet the global kernel tunables it wants from read-only files, so it never changes the machine's
DefaultDependencies=no
Before=kubelet.service
[Service]
Type=oneshot
RemainAfterExit=yes
${Object.keys(SHIELDED_TUNABLES)
  .map((t) => `ExecStart=/bin/mount --bind -o ro /etc/ballast-lab/kernel/${t.split('/')[1]} /proc/sys/${t}`)
  .join('\n')}
[Install]
WantedBy=multi-user.target
`,
};

function isLink(path: string): boolean {
  try {
    return lstatSync(path).isSymbolicLink();
  } catch {
    return false;
  }
}

/** Writes {@link KUBE_UNITS} and their files into the rootfs at `root` and enables them (idempotent). */
function ensureKubeUnits(root: string): void {
  const values = join(root, 'etc/ballast-lab/kernel');
  mkdirSync(values, { recursive: true });
  for (const [tunable, value] of Object.entries(SHIELDED_TUNABLES)) writeFileSync(join(values, tunable.split('/')[1] ?? tunable), `${value}\n`);
  const wants = join(root, 'etc/systemd/system/multi-user.target.wants');
  mkdirSync(wants, { recursive: true });
  for (const [unit, text] of Object.entries(KUBE_UNITS)) {
    writeFileSync(join(root, 'etc/systemd/system', unit), text);
    const link = join(wants, unit);
    // lstat, not exists: the link's absolute target resolves on this machine, not in the rootfs.
    if (!isLink(link)) symlinkSync(`/etc/systemd/system/${unit}`, link);
  }
}

export interface RootfsSpec {
  suite: string;
  mirror: string;
  packages: string[];
}

export const DEFAULT_CACHE_DIR = '/var/cache/ballast-lab';

/** The Debian mirror this machine uses (apt sources), so debootstrap reaches what apt reaches. */
export function detectMirror(): string {
  if (process.env.BALLAST_LAB_MIRROR) return process.env.BALLAST_LAB_MIRROR;
  const files = ['/etc/apt/sources.list'];
  if (existsSync('/etc/apt/sources.list.d')) {
    for (const f of readdirSync('/etc/apt/sources.list.d')) files.push(join('/etc/apt/sources.list.d', f));
  }
  for (const file of files) {
    if (!existsSync(file)) continue;
    const text = readFileSync(file, 'utf8');
    const match = /(?:^URIs:\s*|^deb\s+(?:\[[^\]]*\]\s+)?)(https?:\/\/\S+\/debian)\/?\s*$/m.exec(text);
    if (match?.[1]) return match[1];
  }
  return 'http://deb.debian.org/debian';
}

/** Cache key: a rootfs is reused only when suite, mirror and package list are all the same. */
export function rootfsKey(spec: RootfsSpec): string {
  const canonical = JSON.stringify({ suite: spec.suite, mirror: spec.mirror, packages: [...spec.packages].sort() });
  return createHash('sha256').update(canonical).digest('hex').slice(0, 16);
}

/**
 * Returns the path of a cached rootfs for `spec`, building it with debootstrap first if needed
 * (~40–60 s). Built into a temp dir and renamed, so an interrupted build is never mistaken for one.
 */
export async function ensureRootfs(
  spec: RootfsSpec = { suite: 'bookworm', mirror: detectMirror(), packages: ROOTFS_PACKAGES },
  cacheDir = process.env.BALLAST_LAB_CACHE ?? DEFAULT_CACHE_DIR,
  log: (msg: string) => void = () => {},
): Promise<{ path: string; built: boolean; buildMs: number }> {
  const path = join(cacheDir, `rootfs-${spec.suite}-${rootfsKey(spec)}`);
  if (existsSync(join(path, '.ballast-rootfs-complete'))) {
    ensureMasked(path);
    return { path, built: false, buildMs: 0 };
  }
  mkdirSync(cacheDir, { recursive: true });
  const tmp = `${path}.tmp`;
  rmSync(tmp, { recursive: true, force: true });
  log(`building rootfs ${path} with debootstrap from ${spec.mirror} (cached afterwards)`);
  const started = Date.now();
  await run(
    ['debootstrap', '--variant=minbase', `--include=${spec.packages.join(',')}`, spec.suite, tmp, spec.mirror],
    { timeoutMs: 15 * 60_000 },
  );
  ensureMasked(tmp);
  for (const unit of DISABLED_UNITS) {
    rmSync(join(tmp, 'etc/systemd/system/multi-user.target.wants', unit), { force: true });
  }
  // An empty machine-id: each host gets its own at first boot (kept in its overlay).
  writeFileSync(join(tmp, 'etc/machine-id'), '');
  writeFileSync(join(tmp, '.ballast-rootfs-complete'), `${JSON.stringify(spec)}\n`);
  rmSync(path, { recursive: true, force: true });
  renameSync(tmp, path);
  return { path, built: true, buildMs: Date.now() - started };
}

import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
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

import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { type RunOptions, type RunResult, run, StopWaiting, sleep, waitUntil } from './exec.js';
import { createHostCgroups, removeHostCgroups } from './cgroups.js';
import { childrenOf, commOf, isAlive, procRef, signal } from './proc.js';
import type { HostState } from './state.js';

/** Inside a host, commands see the environment of a root login, not the lab's. */
const HOST_ENV = ['env', '-i', 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'HOME=/root', 'LANG=C.UTF-8'];

/** Is the host's writable overlay mounted at its root dir? */
export function isMounted(path: string): boolean {
  const mounts = readFileSync('/proc/self/mountinfo', 'utf8');
  return mounts.split('\n').some((line) => line.split(' ')[4] === path);
}

/**
 * The host's root: the shared read-only base as lower layer and an on-disk upper layer of its own,
 * so what a host writes (its package, its identity) survives a power cycle and the base stays clean.
 */
export async function ensureOverlay(host: HostState, base: string): Promise<void> {
  for (const dir of [host.upper, host.work, host.root]) mkdirSync(dir, { recursive: true });
  if (isMounted(host.root)) return;
  await run(['mount', '-t', 'overlay', 'overlay', '-o', `lowerdir=${base},upperdir=${host.upper},workdir=${host.work}`, host.root]);
  // debootstrap copies the build machine's /etc/hostname; a real fleet has one name per host (and
  // the cluster validator refuses duplicate hostnames, as kubeadm does), so each host gets its own.
  writeFileSync(join(host.root, 'etc/hostname'), `${host.name}\n`);
}

/**
 * /etc/hosts naming every lab host, as a bare-metal fleet's DNS or hosts file would: kubeadm's
 * preflight looks its own host name up, and the lab has no DNS server (lookups time out).
 */
export function writeEtcHosts(host: HostState, peers: readonly { name: string; address: string }[]): void {
  const lines = ['127.0.0.1 localhost', '::1 localhost ip6-localhost ip6-loopback', ...peers.map((p) => `${p.address} ${p.name}`)];
  writeFileSync(join(host.root, 'etc/hosts'), `${lines.join('\n')}\n`);
}

export async function unmountOverlay(host: HostState): Promise<void> {
  for (let attempt = 0; attempt < 10 && isMounted(host.root); attempt++) {
    const r = await run(['umount', host.root], { allowFail: true });
    if (r.code === 0) break;
    await sleep(300);
  }
  // Still busy after 3 s (a straggler holding a file): detach it so teardown completes.
  if (isMounted(host.root)) await run(['umount', '-l', host.root]);
}

/**
 * Boots the host's systemd with systemd-nspawn in its network namespace (LAB.md recipe). The nspawn
 * process is detached from the lab CLI, so the lab outlives the command that built it.
 */
export async function boot(host: HostState, options: { distDir: string; logDir: string; timeoutMs?: number }): Promise<void> {
  if (isAlive(host.nspawn)) return;
  rmSync(`/run/systemd/nspawn/propagate/${host.name}`, { recursive: true, force: true });
  mkdirSync(options.logDir, { recursive: true });
  const logFd = openSync(join(options.logDir, `${host.name}.console.log`), 'a');
  createHostCgroups(host.cgroups ?? []);
  mkdirSync(containerdDir(host), { recursive: true, mode: 0o711 });
  const child = spawn(
    'sh',
    [
      '-c',
      // Joins the host's cgroup subtree, then becomes systemd-nspawn (cgroups.ts).
      'while [ "$1" != -- ]; do echo $$ > "$1/cgroup.procs"; shift; done; shift; exec "$@"',
      'sh',
      ...(host.cgroups ?? []),
      '--',
      'systemd-nspawn',
      '-D',
      host.root,
      '-b',
      '--register=no',
      '--keep-unit',
      '--console=pipe',
      '--link-journal=no',
      '-M',
      host.name,
      `--network-namespace-path=/run/netns/${host.netns}`,
      // What a real kubelet and containerd need inside (test/lab/KUBERNETES.md): every capability,
      // the keyring and bpf system calls, /dev/kmsg. Lab hosts are not security boundaries.
      '--capability=all',
      '--system-call-filter=@keyring bpf',
      '--bind=/dev/kmsg',
      // containerd's overlayfs snapshots cannot live on the host's overlay root (overlay on overlay):
      // its state is on the machine's disk, one dir per host, bound in.
      `--bind=${containerdDir(host)}:/var/lib/containerd`,
      `--bind-ro=${options.distDir}:/mnt/ballast`,
    ],
    // A writable /proc/sys: kubelet refuses to start on a read-only one. The global tunables it
    // would change are shielded inside the host (rootfs.ts, ballast-lab-kernel-shield.service).
    { detached: true, stdio: ['ignore', logFd, logFd], env: { ...process.env, SYSTEMD_NSPAWN_API_VFS_WRITABLE: '1' } },
  );
  closeSync(logFd);
  child.unref();
  if (child.pid === undefined) throw new Error(`failed to boot ${host.name}: systemd-nspawn did not start`);
  host.nspawn = procRef(child.pid);
  host.init = await waitUntil(
    `${host.name}'s systemd to start`,
    async () => {
      if (!isAlive(host.nspawn)) throw new StopWaiting(`failed to boot ${host.name}: systemd-nspawn exited (see its console log)`);
      const init = childrenOf(host.nspawn!.pid).find((pid) => commOf(pid) === 'systemd');
      return init === undefined ? undefined : procRef(init);
    },
    { timeoutMs: 15_000, intervalMs: 50 },
  );
  await waitUntil(
    `${host.name} to reach running`,
    async () => {
      const r = await hostRun(host, ['systemctl', 'is-system-running'], { allowFail: true, timeoutMs: 5000 });
      const s = r.stdout.trim();
      if (s === 'running' || s === 'degraded') return s;
      return undefined;
    },
    { timeoutMs: options.timeoutMs ?? 60_000, intervalMs: 100 },
  );
}

/** The host's containerd state dir on the machine's disk, beside its overlay dirs. */
export function containerdDir(host: HostState): string {
  return join(dirname(host.root), 'containerd');
}

/** Runs argv inside the host (all its namespaces) as root. */
export function hostRun(host: HostState, argv: string[], options: RunOptions = {}): Promise<RunResult> {
  if (!isAlive(host.init)) return Promise.reject(new Error(`failed to run in ${host.name}: it is powered off`));
  return run(['nsenter', '-t', String(host.init.pid), '-a', ...HOST_ENV, ...argv], options);
}

/**
 * Clean shutdown through the container's own systemd (never SIGKILL nspawn: that orphans the
 * container's systemd). If it does not halt in time: SIGTERM to nspawn (it forwards a halt request),
 * and only as the very last resort SIGKILL of the container's PID 1, which ends its pid namespace.
 */
export async function poweroff(host: HostState, timeoutMs = 30_000): Promise<void> {
  if (isAlive(host.nspawn) && isAlive(host.init)) {
    await run(['nsenter', '-t', String(host.init.pid), '-a', 'systemctl', 'poweroff'], { allowFail: true, timeoutMs: 10_000 });
  }
  const gone = async (ms: number) => {
    const deadline = Date.now() + ms;
    while (isAlive(host.nspawn) && Date.now() < deadline) await sleep(50);
    return !isAlive(host.nspawn);
  };
  if (!(await gone(timeoutMs)) && host.nspawn) {
    signal(host.nspawn, 'SIGTERM');
    if (!(await gone(10_000)) && host.init) {
      signal(host.init, 'SIGKILL');
      await gone(10_000);
    }
  }
  if (isAlive(host.nspawn)) throw new Error(`failed to power off ${host.name}: systemd-nspawn ${host.nspawn?.pid} still runs`);
  host.nspawn = null;
  host.init = null;
  await removeCgroupsOf(host);
  rmSync(`/run/systemd/nspawn/propagate/${host.name}`, { recursive: true, force: true });
}

/** Removes the host's cgroup subtree once the processes of its pid namespace are gone (bounded wait). */
async function removeCgroupsOf(host: HostState): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      removeHostCgroups(host.cgroups ?? []);
      return;
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await sleep(200);
    }
  }
}

/** True when the lab's dist dir holds the agent package to install. */
export function agentDebIn(distDir: string, version: string): string | null {
  const file = join(distDir, `ballast-agent_${version}_amd64.deb`);
  return existsSync(file) ? file : null;
}

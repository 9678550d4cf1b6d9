import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

/**
 * One cgroup subtree per lab host, in every hierarchy this machine mounts (cgroup v1 hybrid: the
 * v1 controllers, name=systemd and the unified tree). systemd-nspawn is started from a process
 * moved into the subtree and keeps its cgroup namespace, so the host's systemd, containerd and
 * kubelet see the subtree as their root: a kubelet's `cgroupRoot: /` is the host's own, its pods
 * never land in the machine's root cgroups, and another host's kubelet never sees them
 * (test/lab/KUBERNETES.md, "One host", step 1). Binding /sys/fs/cgroup instead fails here and lets
 * the container's systemd take over the machine's root cgroups.
 */
const PARENT = 'ballast-lab';

/** `/sys/fs/cgroup/<mount>` and this process's path in it, one per line of /proc/self/cgroup. */
function hierarchies(): { mount: string; current: string }[] {
  const out: { mount: string; current: string }[] = [];
  for (const line of readFileSync('/proc/self/cgroup', 'utf8').split('\n')) {
    const m = /^(\d+):([^:]*):(.*)$/.exec(line);
    if (!m) continue;
    const [, id, controllers = '', path = '/'] = m;
    const name = id === '0' && controllers === '' ? 'unified' : controllers.replace(/^name=/, '');
    const mount = join('/sys/fs/cgroup', name);
    if (existsSync(mount)) out.push({ mount, current: path });
  }
  return out;
}

/** The directories the subtree of `host` will have: recorded in the lab state before they are made. */
export function hostCgroupDirs(host: string): string[] {
  return hierarchies().map((h) => join(h.mount, h.current, PARENT, host));
}

/** cpuset children start empty: they must get the parent's cpus and mems before a task may join. */
function inheritCpuset(dir: string): void {
  for (const file of ['cpuset.cpus', 'cpuset.mems']) {
    const mine = join(dir, file);
    if (!existsSync(mine) || readFileSync(mine, 'utf8').trim() !== '') continue;
    writeFileSync(mine, readFileSync(join(dirname(dir), file), 'utf8').trim());
  }
}

/** Creates the dirs (idempotent), parents first, cpuset ones seeded from their parent. */
export function createHostCgroups(dirs: readonly string[]): void {
  for (const dir of dirs) {
    const parent = dirname(dir);
    mkdirSync(parent, { recursive: true });
    if (existsSync(join(parent, 'cpuset.cpus'))) inheritCpuset(parent);
    mkdirSync(dir, { recursive: true });
    if (existsSync(join(dir, 'cpuset.cpus'))) inheritCpuset(dir);
  }
}

/** Every directory below `dir` (itself included), deepest first. */
function depthFirst(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir)) {
    const child = join(dir, entry);
    if (statSync(child).isDirectory()) out.push(...depthFirst(child));
  }
  out.push(dir);
  return out;
}

/**
 * Removes a powered-off host's subtree, deepest first. A kubelet leaves its `kubepods` tree behind
 * when the host stops; left there, the next kubelet start spent 40 s walking it. Refuses (throws)
 * when a process is still in it: that is a leak to look at, never something to kill blindly.
 */
export function removeHostCgroups(dirs: readonly string[]): void {
  for (const dir of dirs) {
    if (!existsSync(dir)) continue;
    const all = depthFirst(dir);
    const busy = all.filter((d) => {
      const procs = join(d, 'cgroup.procs');
      return existsSync(procs) && readFileSync(procs, 'utf8').trim() !== '';
    });
    if (busy.length > 0) throw new Error(`failed to remove cgroup ${dir}: processes are left in ${busy.join(', ')}`);
    for (const d of all) rmdirSync(d);
  }
}

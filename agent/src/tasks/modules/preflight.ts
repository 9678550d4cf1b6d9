import { listeningSockets } from '../../host/port-listeners.js';
import { statfs } from 'node:fs/promises';
import { availableParallelism, release } from 'node:os';
import { dirname } from 'node:path';
import { BallastError, messageOf } from '../../../../shared/src/errors.js';
import type { ModuleArgs } from '../../../../shared/src/tasks/modules.js';
import { lstatOrNull, readFileOrNull } from '../attrs.js';
import { hostPath, type Module, type ModuleContext } from '../module.js';

/**
 * What preflight reads that is not a file under the root. Tests pass a fake; production uses
 * statfs(2) and the CPUs this process may run on (what kubeadm's runtime.NumCPU check counts).
 */
export interface PreflightProbe {
  /** Bytes available to unprivileged users on the filesystem holding `path` (an existing, root-resolved path). */
  freeBytes(path: string): Promise<number>;
  cpus(): number;
  /** The running kernel's release, when /proc/sys/kernel/osrelease cannot be read under the root. */
  kernelRelease(): string;
}

/** The production probe. */
export const defaultPreflightProbe: PreflightProbe = {
  async freeBytes(path) {
    const st = await statfs(path);
    return st.bavail * st.bsize;
  },
  cpus: () => availableParallelism(),
  kernelRelease: () => release(),
};

/** Who usually listens where, for "port 2379 is in use (etcd? …)". */
const WELL_KNOWN_PORTS: Readonly<Record<number, string>> = {
  2379: 'etcd',
  2380: 'etcd peer',
  2381: 'etcd metrics',
  6443: 'kube-apiserver',
  10248: 'kubelet healthz',
  10249: 'kube-proxy metrics',
  10250: 'kubelet',
  10256: 'kube-proxy healthz',
  10257: 'kube-controller-manager',
  10259: 'kube-scheduler',
};

/**
 * `preflight`: read-only host checks before a host joins a cluster. Every check runs and every
 * failure is collected, then one BALLAST_ERR_PREFLIGHT lists them all, so an operator fixes a host
 * in one pass. `noSwap` and `cgroupV2` default to true (kubelet refuses swap and Ballast's
 * containerd config uses the systemd cgroup driver on v2); the numeric checks run only when given.
 * Nothing is written, so check mode runs the same checks.
 */
export function createPreflightModule(probe: PreflightProbe = defaultPreflightProbe): Module<'preflight'> {
  return {
    name: 'preflight',
    async run(args, ctx) {
      // Every path argument is checked (canonical, under the root) before any check runs, used or not.
      for (const entry of args.freePorts ?? []) if (typeof entry !== 'number') hostPath(ctx, entry.unlessExists);
      for (const path of Object.keys(args.minFreeBytes ?? {})) hostPath(ctx, path);
      const problems: string[] = [];
      const checked: string[] = [];
      const step = async (label: string, check: () => Promise<string[]>) => {
        checked.push(label);
        problems.push(...(await check()));
      };
      if (args.minKernel !== undefined) await step('kernel', () => checkKernel(ctx, probe, args.minKernel ?? ''));
      if (args.cgroupV2 !== false) await step('cgroup v2', () => checkCgroupV2(ctx));
      if (args.noSwap !== false) await step('swap', () => checkSwap(ctx));
      if (args.freePorts !== undefined && args.freePorts.length > 0) {
        const ports = args.freePorts;
        await step(`${ports.length} port${ports.length === 1 ? '' : 's'}`, () => checkPorts(ctx, ports));
      }
      if (args.minFreeBytes !== undefined && Object.keys(args.minFreeBytes).length > 0) {
        const wanted = args.minFreeBytes;
        await step('disk', () => checkDisk(ctx, probe, wanted));
      }
      if (args.minMemoryBytes !== undefined) {
        const min = args.minMemoryBytes;
        await step('memory', () => checkMemory(ctx, min));
      }
      if (args.minCpus !== undefined) {
        const min = args.minCpus;
        await step('CPUs', async () => (probe.cpus() < min ? [`${probe.cpus()} CPU${probe.cpus() === 1 ? '' : 's'} < ${min}`] : []));
      }
      if (problems.length > 0) {
        const n = problems.length;
        throw new BallastError('BALLAST_ERR_PREFLIGHT', `failed preflight: ${n} problem${n === 1 ? '' : 's'}: ${problems.join('; ')}`);
      }
      return { changed: false, message: checked.length === 0 ? 'nothing to check' : `passed: ${checked.join(', ')}` };
    },
  };
}

/** The module with the production probe, for BUILTIN_MODULES. */
export const preflightModule = createPreflightModule();

/** Leading numeric parts of a version: "5.15.0-91-generic" → [5, 15, 0]. */
export function versionParts(version: string): number[] {
  return (/^\d+(\.\d+)*/.exec(version.trim())?.[0] ?? '').split('.').filter((p) => p !== '').map(Number);
}

/** Compares numeric version parts, a missing part counting as 0. */
export function compareParts(a: number[], b: number[]): number {
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const diff = (a[i] ?? 0) - (b[i] ?? 0);
    if (diff !== 0) return Math.sign(diff);
  }
  return 0;
}

async function checkKernel(ctx: ModuleContext, probe: PreflightProbe, min: string): Promise<string[]> {
  const fromProc = await readFileOrNull(hostPath(ctx, '/proc/sys/kernel/osrelease'));
  const running = (fromProc ?? probe.kernelRelease()).trim();
  const parts = versionParts(running);
  if (parts.length === 0) return [`kernel release "${running}" is not a version`];
  return compareParts(parts, versionParts(min)) < 0 ? [`kernel ${running} < ${min}`] : [];
}

async function checkCgroupV2(ctx: ModuleContext): Promise<string[]> {
  // cgroup.controllers exists only at the root of a unified (v2) hierarchy.
  const controllers = await readFileOrNull(hostPath(ctx, '/sys/fs/cgroup/cgroup.controllers'));
  return controllers === null ? ['cgroup v2 is not mounted at /sys/fs/cgroup (v1 or hybrid hierarchy)'] : [];
}

async function checkSwap(ctx: ModuleContext): Promise<string[]> {
  const swaps = await readFileOrNull(hostPath(ctx, '/proc/swaps'));
  // No /proc/swaps: a kernel built without swap support, which is swap off.
  if (swaps === null) return [];
  const devices = swaps
    .split('\n')
    .slice(1)
    .map((line) => line.trim().split(/\s+/)[0] ?? '')
    .filter((name) => name !== '');
  return devices.length === 0 ? [] : [`swap is on (${devices.join(', ')})`];
}

/** Ports with a LISTEN socket, from /proc/net/tcp and tcp6 (no binding: that would race the real owner). */
export function listeningPorts(table: string): Map<number, string> {
  const out = new Map<number, string>();
  for (const s of listeningSockets(table)) if (!out.has(s.port)) out.set(s.port, s.address);
  return out;
}

async function checkPorts(ctx: ModuleContext, wanted: NonNullable<ModuleArgs<'preflight'>['freePorts']>): Promise<string[]> {
  const v4 = await readFileOrNull(hostPath(ctx, '/proc/net/tcp'));
  // tcp6 is absent when IPv6 is disabled; tcp is always there on Linux, so its absence is a failure.
  if (v4 === null) return ['cannot read /proc/net/tcp: listening ports unknown'];
  const v6 = (await readFileOrNull(hostPath(ctx, '/proc/net/tcp6'))) ?? '';
  const listening = new Map([...listeningPorts(v6), ...listeningPorts(v4)]);
  const problems: string[] = [];
  for (const entry of wanted) {
    const port = typeof entry === 'number' ? entry : entry.port;
    if (!listening.has(port)) continue;
    // In use by what Ballast installed here earlier: fine.
    if (typeof entry !== 'number' && (await lstatOrNull(hostPath(ctx, entry.unlessExists))) !== null) continue;
    const who = WELL_KNOWN_PORTS[port];
    problems.push(`port ${port} is in use (${who === undefined ? '' : `${who}? `}pid unknown)`);
  }
  return problems;
}

async function checkDisk(ctx: ModuleContext, probe: PreflightProbe, wanted: ModuleArgs<'preflight'>['minFreeBytes'] & object): Promise<string[]> {
  const problems: string[] = [];
  for (const [path, min] of Object.entries(wanted)) {
    // A data dir may not exist yet: measure the filesystem of its nearest existing ancestor.
    let at = path;
    while (at !== '/' && (await lstatOrNull(hostPath(ctx, at))) === null) at = dirname(at);
    let free: number;
    try {
      free = await probe.freeBytes(hostPath(ctx, at));
    } catch (err) {
      problems.push(`cannot measure free space of ${path}: ${messageOf(err)}`);
      continue;
    }
    if (free < min) problems.push(`${path} has ${formatBytes(free)} free < ${formatBytes(min)}`);
  }
  return problems;
}

async function checkMemory(ctx: ModuleContext, min: number): Promise<string[]> {
  const meminfo = await readFileOrNull(hostPath(ctx, '/proc/meminfo'));
  const kb = meminfo === null ? null : /^MemTotal:\s+(\d+)\s*kB/m.exec(meminfo)?.[1];
  if (kb === null || kb === undefined) return ['cannot read MemTotal from /proc/meminfo'];
  const total = Number(kb) * 1024;
  return total < min ? [`memory ${formatBytes(total)} < ${formatBytes(min)}`] : [];
}

/** Bytes in binary units with one decimal ("1.5 GiB"), as free(1) -h prints them. */
export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return unit === 0 ? `${value} B` : `${Number.isInteger(value) ? value : value.toFixed(1)} ${units[unit]}`;
}

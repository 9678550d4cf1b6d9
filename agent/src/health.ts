import type { StatsFs } from 'node:fs';
import { readFile, statfs } from 'node:fs/promises';
import os from 'node:os';
import { compareCodeUnits } from '../../shared/src/code-unit-order.js';
import { messageOf } from '../../shared/src/errors.js';
import { CheckResultSchema, type Health, HealthSchema } from '../../shared/src/protocol/facts.js';

/** A check that hangs longer than this is reported as failed, so one stuck probe cannot stall health. */
export const HEALTH_CHECK_TIMEOUT_MS = 5_000;

/** At most this many filesystems are reported; the shallowest mount points win. */
export const MAX_REPORTED_MOUNTS = 64;

/** A disk at or above this used fraction is "full" for {@link healthChanged}. */
export const DISK_FULL_RATIO = 0.9;

/**
 * Filesystem types never reported: kernel pseudo filesystems and memory-backed ones (their usage says
 * nothing about disks), read-only images (squashfs snaps and ISOs are always 100% used), and network
 * or FUSE filesystems, whose statfs can hang on a dead server and pin a libuv thread for good.
 * overlay is kept: inside a container the root filesystem is one.
 */
const SKIPPED_FS_TYPES = new Set([
  'autofs',
  'binfmt_misc',
  'bpf',
  'cgroup',
  'cgroup2',
  'ceph',
  'cifs',
  'configfs',
  'debugfs',
  'devpts',
  'devtmpfs',
  'efivarfs',
  'fuse',
  'fusectl',
  'glusterfs',
  'hugetlbfs',
  'iso9660',
  'mqueue',
  'nfs',
  'nfs4',
  'nsfs',
  'proc',
  'pstore',
  'ramfs',
  'rootfs',
  'rpc_pipefs',
  'securityfs',
  'selinuxfs',
  'smb3',
  'smbfs',
  'squashfs',
  'sysfs',
  'tmpfs',
  'tracefs',
]);

/** A local probe whose outcome goes into every health snapshot. */
export interface HealthCheck {
  /** Stable name; {@link healthChanged} matches checks across snapshots by it. */
  name: string;
  /** May throw or hang: {@link collectHealth} turns both into `ok: false`. */
  run(): Promise<{ ok: boolean; message: string }>;
}

/** One line of /proc/self/mounts. */
export interface MountEntry {
  source: string;
  mountPoint: string;
  fsType: string;
}

/** The statfs fields health needs. */
export type FsUsage = Pick<StatsFs, 'bsize' | 'blocks' | 'bfree' | 'bavail' | 'files'>;

/** The host reads health makes; injected so tests need no particular machine. */
export interface HealthSystemPort {
  loadavg(): number[];
  totalmem(): number;
  freemem(): number;
  readFile(path: string): Promise<string>;
  statfs(path: string): Promise<FsUsage>;
}

/** The reads {@link readMemory} makes. */
export type MemorySystemPort = Pick<HealthSystemPort, 'readFile' | 'totalmem' | 'freemem'>;

/** The real host: node's os module and fs. */
export const nodeHealthSystem: HealthSystemPort = {
  loadavg: () => os.loadavg(),
  totalmem: () => os.totalmem(),
  freemem: () => os.freemem(),
  readFile: (path) => readFile(path, 'utf8'),
  statfs: (path) => statfs(path),
};

/** Dependencies of {@link collectHealth}. */
export interface CollectHealthDeps {
  checks: HealthCheck[];
  /** The current estimate of the controller clock minus ours, or null when unknown. */
  clockOffsetMs: () => number | null;
  /** The filesystems to consider; default: {@link readMounts} of /proc/self/mounts. */
  mounts?: () => Promise<MountEntry[]>;
  system?: HealthSystemPort;
  /** Wall clock for the snapshot's `ts`; default Date.now. */
  now?: () => number;
  /** Per-check (and per-statfs) limit; default {@link HEALTH_CHECK_TIMEOUT_MS}. */
  checkTimeoutMs?: number;
}

/**
 * Takes a health snapshot. Never throws: a failing source yields empty or fallback values and a
 * failing check yields `ok: false`, so the agent always has something to send.
 */
export async function collectHealth(deps: CollectHealthDeps): Promise<Health> {
  const system = deps.system ?? nodeHealthSystem;
  const timeoutMs = deps.checkTimeoutMs ?? HEALTH_CHECK_TIMEOUT_MS;
  const listMounts = deps.mounts ?? (() => readMounts(system));
  const [memory, disks, checks] = await Promise.all([
    readMemory(system),
    diskUsage(listMounts, system, timeoutMs),
    Promise.all(deps.checks.slice(0, HealthSchema.properties.checks.maxItems).map((c) => runCheck(c, timeoutMs))),
  ]);
  const load = system.loadavg().map(finiteOrZero);
  const offset = deps.clockOffsetMs();
  return {
    ts: (deps.now ?? Date.now)(),
    load: [load[0] ?? 0, load[1] ?? 0, load[2] ?? 0],
    memory,
    disks,
    clockOffsetMs: offset !== null && Number.isFinite(offset) ? offset : null,
    checks,
  };
}

/**
 * True when a snapshot is worth sending before the periodic one: a check's `ok` flipped, a check
 * appeared or disappeared, or a disk crossed the {@link DISK_FULL_RATIO} line in either direction
 * (a mount that appears already full counts as crossing). Load, byte counts and the clock offset
 * drift all the time and only travel with the periodic snapshot, as do mounts coming and going.
 */
export function healthChanged(a: Health, b: Health): boolean {
  if (a.checks.length !== b.checks.length) return true;
  const okBefore = new Map(a.checks.map((c) => [c.name, c.ok]));
  if (b.checks.some((c) => okBefore.get(c.name) !== c.ok)) return true;
  const fullBefore = new Map(a.disks.map((d) => [d.mount, isFull(d)]));
  return b.disks.some((d) => {
    const was = fullBefore.get(d.mount);
    return isFull(d) ? was !== true : was === true;
  });
}

function isFull(disk: { sizeBytes: number; usedBytes: number }): boolean {
  return disk.sizeBytes > 0 && disk.usedBytes / disk.sizeBytes >= DISK_FULL_RATIO;
}

/** A check that fails when `path`'s filesystem has less than `minFreePercent` available to non-root. */
export function diskSpaceCheck(opts: {
  path: string;
  minFreePercent: number;
  name?: string;
  system?: Pick<HealthSystemPort, 'statfs'>;
}): HealthCheck {
  const system = opts.system ?? nodeHealthSystem;
  return {
    name: opts.name ?? `disk-space:${opts.path}`,
    async run() {
      const fs = await system.statfs(opts.path);
      // bavail, not bfree: the blocks reserved for root are of no use to kubelet or containerd.
      const freePercent = fs.blocks > 0 ? (fs.bavail / fs.blocks) * 100 : 0;
      return {
        ok: freePercent >= opts.minFreePercent,
        message: `${freePercent.toFixed(1)}% free on ${opts.path} (minimum ${opts.minFreePercent}%)`,
      };
    },
  };
}

/** A check that fails when less than `minAvailablePercent` of memory is available (MemAvailable). */
export function memoryCheck(opts: {
  minAvailablePercent: number;
  name?: string;
  system?: MemorySystemPort;
}): HealthCheck {
  const system = opts.system ?? nodeHealthSystem;
  return {
    name: opts.name ?? 'memory',
    async run() {
      const memory = await readMemory(system);
      const percent = memory.totalBytes > 0 ? (memory.availableBytes / memory.totalBytes) * 100 : 0;
      return {
        ok: percent >= opts.minAvailablePercent,
        message: `${percent.toFixed(1)}% memory available (minimum ${opts.minAvailablePercent}%)`,
      };
    },
  };
}

/**
 * Total and available memory. MemAvailable (Linux 3.14+) counts reclaimable page cache, unlike
 * os.freemem() on older nodes, which would call a host with a warm cache "out of memory".
 */
export async function readMemory(system: MemorySystemPort): Promise<Health['memory']> {
  try {
    const info = parseMeminfo(await system.readFile('/proc/meminfo'));
    const total = info.get('MemTotal');
    const available = info.get('MemAvailable');
    if (total !== undefined && available !== undefined) return { totalBytes: total, availableBytes: available };
  } catch {
    // Not Linux, or /proc not mounted: fall through to node's view.
  }
  return { totalBytes: finiteOrZero(system.totalmem()), availableBytes: finiteOrZero(system.freemem()) };
}

/** Parses /proc/meminfo into bytes per field ("MemTotal: 16 kB" → 16384). */
export function parseMeminfo(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    const match = /^(\w+(?:\(\w+\))?):\s+(\d+)(\s+kB)?/.exec(line);
    if (match) out.set(match[1]!, Number(match[2]) * (match[3] ? 1024 : 1));
  }
  return out;
}

/** The real filesystems of /proc/self/mounts (see {@link parseMounts}); empty if unreadable. */
export async function readMounts(system: Pick<HealthSystemPort, 'readFile'>): Promise<MountEntry[]> {
  try {
    return parseMounts(await system.readFile('/proc/self/mounts'));
  } catch {
    return [];
  }
}

/**
 * Parses /proc/self/mounts, dropping pseudo, network and image filesystems, keeping only the last
 * mount on a mount point (it shadows the earlier ones) and, for block devices mounted several times
 * (bind mounts, btrfs subvolumes), only the shallowest mount point. Sorted shallow first.
 */
export function parseMounts(text: string): MountEntry[] {
  const byMountPoint = new Map<string, MountEntry>();
  for (const line of text.split('\n')) {
    const [source, mountPoint, fsType] = line.split(' ').map(unescapeMountField);
    if (source === undefined || mountPoint === undefined || fsType === undefined) continue;
    if (SKIPPED_FS_TYPES.has(fsType) || fsType.startsWith('fuse.')) continue;
    byMountPoint.delete(mountPoint); // re-insert so the shadowing mount keeps its later position
    byMountPoint.set(mountPoint, { source, mountPoint, fsType });
  }
  const sorted = [...byMountPoint.values()].sort(shallowFirst);
  const seenDevices = new Set<string>();
  return sorted.filter((m) => {
    if (!m.source.startsWith('/dev/')) return true;
    if (seenDevices.has(m.source)) return false;
    seenDevices.add(m.source);
    return true;
  });
}

/** The kernel escapes space, tab, newline and backslash in mount fields as octal (\040 etc.). */
function unescapeMountField(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(Number.parseInt(octal, 8)));
}

function shallowFirst(a: MountEntry, b: MountEntry): number {
  const depth = (p: string) => (p === '/' ? 0 : p.split('/').length - 1);
  return depth(a.mountPoint) - depth(b.mountPoint) || compareCodeUnits(a.mountPoint, b.mountPoint);
}

async function diskUsage(
  listMounts: () => Promise<MountEntry[]>,
  system: HealthSystemPort,
  timeoutMs: number,
): Promise<Health['disks']> {
  const mounts = await listMounts().catch(() => [] as MountEntry[]);
  // Bound the statfs calls too: a node can have thousands of container mounts.
  const candidates = [...mounts].sort(shallowFirst).slice(0, 8 * MAX_REPORTED_MOUNTS);
  const usages = await Promise.all(
    candidates.map((m) => withTimeout(system.statfs(m.mountPoint), timeoutMs).catch(() => undefined)),
  );
  const maxLength = HealthSchema.properties.disks.items.properties.mount.maxLength;
  const seen = new Set<string>();
  const out: Health['disks'] = [];
  candidates.forEach((mount, i) => {
    const fs = usages[i];
    if (fs === undefined || out.length >= MAX_REPORTED_MOUNTS) return;
    // Every container's overlay root reports its upper filesystem's numbers; one entry is enough.
    const signature = `${fs.bsize}:${fs.blocks}:${fs.files}`;
    if (!mount.source.startsWith('/dev/') && seen.has(signature)) return;
    seen.add(signature);
    const sizeBytes = Math.max(0, fs.blocks * fs.bsize);
    const usedBytes = Math.max(0, (fs.blocks - fs.bfree) * fs.bsize);
    if (!Number.isFinite(sizeBytes) || !Number.isFinite(usedBytes)) return;
    out.push({ mount: clamp(mount.mountPoint, maxLength), sizeBytes, usedBytes });
  });
  return out;
}

async function runCheck(check: HealthCheck, timeoutMs: number): Promise<Health['checks'][number]> {
  const limits = CheckResultSchema.properties;
  const name = clamp(String(check.name), limits.name.maxLength);
  try {
    const result = await withTimeout(Promise.resolve().then(() => check.run()), timeoutMs);
    return { name, ok: result.ok === true, message: clamp(String(result.message), limits.message.maxLength) };
  } catch (err) {
    return { name, ok: false, message: clamp(messageOf(err), limits.message.maxLength) };
  }
}

function withTimeout<T>(promise: Promise<T>, timeoutMs: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${timeoutMs} ms`)), timeoutMs);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

function clamp(value: string, maxLength = 256): string {
  return value.length <= maxLength ? value : value.slice(0, maxLength);
}

function finiteOrZero(value: number): number {
  return Number.isFinite(value) && value > 0 ? value : 0;
}

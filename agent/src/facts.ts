import { readdir, readFile, readlink } from 'node:fs/promises';
import os from 'node:os';
import type { Systeminformation } from 'systeminformation';
import { compareCodeUnits } from '../../shared/src/code-unit-order.js';
import { messageOf } from '../../shared/src/errors.js';
import { DiskSchema, type Facts, FactsSchema, NicSchema } from '../../shared/src/protocol/facts.js';

/*
 * Which systeminformation calls are used, and why not the others (measured on a 2-vCPU VM, cold):
 * - cpu() ~30 ms, mem() ~3 ms, blockDevices() ~15 ms (one async lsblk), uuid() ~25 ms: used.
 * - networkInterfaces() ~90 ms, all of it *blocking*: one execSync shell with ~25 `cat`s plus
 *   nmcli per interface. A Kubernetes node has a veth per pod, so this would freeze the agent's
 *   event loop (and its websocket heartbeats) for seconds; a timeout cannot interrupt execSync.
 *   NICs are read from node's os.networkInterfaces() and /sys/class/net instead.
 * - osInfo() runs execSync('hostname -f'), which blocks on DNS when the resolver is unreachable,
 *   common while a bare-metal host is being set up. The same fields come from node's os module and
 *   /etc/os-release.
 * - diskLayout() runs `smartctl -a` on every disk; on a storage node with a few dozen spinning
 *   disks that takes seconds and would hit our timeout, leaving `disks` empty. blockDevices() has
 *   the fields the schema needs (device, kind, size, model) without touching the disks.
 * - system() shells out to dmidecode with execSync; uuid() reads the same product UUID asynchronously.
 */

/** Per-collector time limit: a stuck collector yields an empty value instead of stalling the connect. */
export const FACTS_COLLECTOR_TIMEOUT_MS = 3_000;

const MAX_NICS = FactsSchema.properties.nics.maxItems ?? 256;
const MAX_DISKS = FactsSchema.properties.disks.maxItems ?? 256;

type BlockDevice = Awaited<ReturnType<SystemInfoPort['blockDevices']>>[number];

/** One network interface as the sources see it, before clamping to the schema. */
export interface NicInfo {
  iface: string;
  mac: string;
  ip4: string[];
  ip6: string[];
  speed: number | null;
  virtual: boolean;
  internal: boolean;
}

/**
 * The raw calls behind {@link collectFacts}, shaped after systeminformation's. The full one
 * (facts-si.ts) uses systeminformation where that is cheap and non-blocking, and node's os module,
 * /etc, /proc and /sys elsewhere (see the note at the top of this file); it runs in the short-lived
 * `ballast-agent facts` child (facts-child.ts), so the daemon never loads systeminformation.
 * {@link nodeSystemInfo} is the daemon's fallback without it. Tests inject fakes.
 */
export interface SystemInfoPort {
  osInfo(): Promise<
    Pick<Systeminformation.OsData, 'hostname' | 'platform' | 'distro' | 'release' | 'codename' | 'kernel' | 'arch'>
  >;
  cpu(): Promise<Pick<Systeminformation.CpuData, 'manufacturer' | 'brand' | 'cores' | 'physicalCores' | 'speed'>>;
  mem(): Promise<Pick<Systeminformation.MemData, 'total'>>;
  blockDevices(): Promise<
    Pick<Systeminformation.BlockDevicesData, 'name' | 'type' | 'size' | 'physical' | 'model' | 'protocol'>[]
  >;
  networkInterfaces(): Promise<NicInfo[]>;
  uuid(): Promise<Pick<Systeminformation.UuidData, 'hardware'>>;
  /** The kernel's random id of the current boot, to tell a reboot from a reconnect. */
  bootId(): Promise<string>;
}

/** The one logging call the collectors make; a pino logger fits. */
export interface DebugLogger {
  debug(obj: object, msg: string): void;
}

/** Dependencies of {@link collectFacts}. */
export interface CollectFactsDeps {
  si: SystemInfoPort;
  logger?: DebugLogger;
  /** Per-collector limit; default {@link FACTS_COLLECTOR_TIMEOUT_MS}. */
  timeoutMs?: number;
}

/**
 * Collects the host's facts for the connect message. Collectors run concurrently, each bounded by a
 * timeout; one that fails or hangs contributes empty values (logged at debug) so a host with an odd
 * kernel or a broken tool still connects. Strings and arrays are clamped to the schema's limits,
 * so the result always validates against FactsSchema.
 */
export async function collectFacts(deps: CollectFactsDeps): Promise<Facts> {
  const port = deps.si;
  const timeoutMs = deps.timeoutMs ?? FACTS_COLLECTOR_TIMEOUT_MS;
  const run = <T>(name: string, call: () => Promise<T>, fallback: T): Promise<T> =>
    bounded(name, call, fallback, timeoutMs, deps.logger);

  const [osData, cpu, mem, blocks, nics, uuid, bootId] = await Promise.all([
    run('osInfo', () => port.osInfo(), null),
    run('cpu', () => port.cpu(), null),
    run('mem', () => port.mem(), null),
    run('blockDevices', () => port.blockDevices(), []),
    run('networkInterfaces', () => port.networkInterfaces(), []),
    run('uuid', () => port.uuid(), null),
    run('bootId', () => port.bootId(), ''),
  ]);

  const osLimits = FactsSchema.properties.os.properties;
  const cpuLimits = FactsSchema.properties.cpu.properties;
  return {
    hostname: clamp(osData?.hostname, FactsSchema.properties.hostname.maxLength),
    os: {
      platform: clamp(osData?.platform, osLimits.platform.maxLength),
      distro: clamp(osData?.distro, osLimits.distro.maxLength),
      release: clamp(osData?.release, osLimits.release.maxLength),
      codename: clamp(osData?.codename, osLimits.codename.maxLength),
      kernel: clamp(osData?.kernel, osLimits.kernel.maxLength),
      arch: clamp(osData?.arch, osLimits.arch.maxLength),
    },
    cpu: {
      manufacturer: clamp(cpu?.manufacturer, cpuLimits.manufacturer.maxLength),
      brand: clamp(cpu?.brand, cpuLimits.brand.maxLength),
      cores: count(cpu?.cores),
      physicalCores: count(cpu?.physicalCores),
      speedGHz: nonNegative(cpu?.speed),
    },
    memory: { totalBytes: nonNegative(mem?.total) },
    disks: mapDisks(blocks),
    nics: mapNics(nics),
    productUuid: clamp(uuid?.hardware, FactsSchema.properties.productUuid.maxLength),
    bootId: clamp(bootId, FactsSchema.properties.bootId.maxLength),
  };
}

/** Whole disks only: partitions, loop devices and empty slots (size 0, e.g. unused zram) are noise. */
function mapDisks(blocks: BlockDevice[]): Facts['disks'] {
  const limits = DiskSchema.properties;
  return listOf(blocks)
    .filter((b) => b.type === 'disk' && typeof b.name === 'string' && b.name !== '' && nonNegative(b.size) > 0)
    .slice(0, MAX_DISKS)
    .map((b) => ({
      device: clamp(`/dev/${b.name}`, limits.device.maxLength),
      // lsblk reports NVMe drives as non-rotational "SSD"; the transport is the more useful label.
      type: clamp(String(b.protocol).toLowerCase() === 'nvme' ? 'NVMe' : b.physical, limits.type.maxLength),
      sizeBytes: nonNegative(b.size),
      model: clamp(b.model, limits.model.maxLength),
    }));
}

/**
 * Loopback is dropped (its addresses are never a way to reach the host). Physical NICs sort first so
 * that when a node has more veths than fit, the truncation loses veths and not the uplinks.
 */
function mapNics(nics: NicInfo[]): Facts['nics'] {
  const limits = NicSchema.properties;
  const list = listOf(nics).filter((n) => typeof n.iface === 'string' && n.internal !== true);
  list.sort((a, b) => Number(a.virtual === true) - Number(b.virtual === true) || compareCodeUnits(a.iface, b.iface));
  return list.slice(0, MAX_NICS).map((n) => ({
    name: clamp(n.iface, limits.name.maxLength),
    mac: clamp(n.mac, limits.mac.maxLength),
    ipv4: clampList(n.ip4, limits.ipv4.maxItems, limits.ipv4.items.maxLength),
    ipv6: clampList(n.ip6, limits.ipv6.maxItems, limits.ipv6.items.maxLength),
    speedMbps: typeof n.speed === 'number' && Number.isFinite(n.speed) && n.speed >= 0 ? n.speed : null,
    virtual: n.virtual === true,
  }));
}

/**
 * The port without systeminformation: node's os module, /etc, /proc and /sys. CPU, block devices
 * and the product UUID need systeminformation and fail here (their collectors then report empty
 * values): the daemon uses this only when the `ballast-agent facts` child could not run.
 */
export function nodeSystemInfo(): SystemInfoPort {
  const unavailable = (what: string) => () => Promise.reject(new Error(`${what} is collected by the facts child process only`));
  return {
    osInfo: readOsInfo,
    cpu: unavailable('cpu'),
    mem: async () => ({ total: os.totalmem() }),
    blockDevices: unavailable('blockDevices'),
    networkInterfaces: readNics,
    uuid: unavailable('uuid'),
    bootId: async () => (await readFile('/proc/sys/kernel/random/boot_id', 'utf8')).trim(),
  };
}

async function readOsInfo(): Promise<Awaited<ReturnType<SystemInfoPort['osInfo']>>> {
  let release: Record<string, string> = {};
  try {
    release = parseOsRelease(await readFile('/etc/os-release', 'utf8'));
  } catch {
    // os-release(5): /usr/lib/os-release is the fallback when /etc has none (e.g. minimal images).
    release = parseOsRelease(await readFile('/usr/lib/os-release', 'utf8').catch(() => ''));
  }
  return {
    hostname: os.hostname(),
    platform: os.platform(),
    distro: release.NAME ?? '',
    release: release.VERSION_ID ?? '',
    codename: release.VERSION_CODENAME ?? '',
    kernel: os.release(),
    arch: os.arch(),
  };
}

/** Parses os-release(5): KEY=value lines, values optionally quoted with shell-style escapes. */
export function parseOsRelease(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const match = /^\s*([A-Za-z0-9_]+)=(.*)$/.exec(line);
    if (!match) continue;
    let value = match[2]!.trim();
    const quote = value[0];
    if ((quote === '"' || quote === "'") && value.endsWith(quote) && value.length >= 2) {
      value = value.slice(1, -1);
      if (quote === '"') value = value.replace(/\\([\\$"`])/g, '$1');
    }
    out[match[1]!] = value;
  }
  return out;
}

/**
 * NICs from node's address table joined with /sys/class/net, which also lists interfaces without
 * addresses (a bond member, a down uplink). "Virtual" means not backed by a device: its sysfs entry
 * lives under /devices/virtual (bridges, veths, vlans, bonds, tunnels).
 */
async function readNics(): Promise<NicInfo[]> {
  const addresses = os.networkInterfaces();
  const sysNames = await readdir('/sys/class/net').catch(() => [] as string[]);
  const names = [...new Set([...sysNames, ...Object.keys(addresses)])].slice(0, 4 * MAX_NICS);
  return Promise.all(
    names.map(async (iface): Promise<NicInfo> => {
      const infos = addresses[iface] ?? [];
      const sysPath = `/sys/class/net/${iface}`;
      const target = await readlink(sysPath).catch(() => '');
      const virtual = target.includes('/devices/virtual/');
      const mac = infos[0]?.mac ?? (await readFile(`${sysPath}/address`, 'utf8').catch(() => '')).trim();
      // A veth's reported speed is fictional and reading it for hundreds of them is wasted work.
      const speedText = virtual ? '' : await readFile(`${sysPath}/speed`, 'utf8').catch(() => '');
      const speed = Number.parseInt(speedText, 10);
      return {
        iface,
        mac,
        ip4: infos.filter((i) => i.family === 'IPv4').map((i) => i.address),
        ip6: infos.filter((i) => i.family === 'IPv6').map((i) => i.address),
        speed: Number.isFinite(speed) && speed > 0 ? speed : null,
        virtual,
        internal: iface === 'lo' || infos.some((i) => i.internal),
      };
    }),
  );
}

async function bounded<T>(
  name: string,
  call: () => Promise<T>,
  fallback: T,
  timeoutMs: number,
  logger: DebugLogger | undefined,
): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    // `then(call)` turns a synchronous throw into a rejection too.
    return await Promise.race([Promise.resolve().then(call), timeout]);
  } catch (err) {
    logger?.debug({ collector: name, err: messageOf(err) }, 'fact collector failed, using empty values');
    return fallback;
  } finally {
    clearTimeout(timer);
  }
}

/** Sources are untyped JS at runtime: a "list" may be missing, and its elements null. */
function listOf<T>(value: readonly (T | null | undefined)[]): T[] {
  return Array.isArray(value) ? value.filter((v): v is T => v !== null && typeof v === 'object') : [];
}

function clamp(value: unknown, maxLength = 256): string {
  if (typeof value !== 'string') return '';
  let out = value.trim();
  if (out.length <= maxLength) return out;
  out = out.slice(0, maxLength);
  // Do not leave half of a surrogate pair at the cut.
  const last = out.charCodeAt(out.length - 1);
  return last >= 0xd800 && last <= 0xdbff ? out.slice(0, -1) : out;
}

function clampList(value: unknown, maxItems = 64, maxLength = 64): string[] {
  if (!Array.isArray(value)) return [];
  return value
    .filter((v): v is string => typeof v === 'string')
    .map((v) => clamp(v, maxLength))
    .filter((v) => v !== '')
    .slice(0, maxItems);
}

function nonNegative(value: unknown): number {
  return typeof value === 'number' && Number.isFinite(value) && value > 0 ? value : 0;
}

function count(value: unknown): number {
  return Math.floor(nonNegative(value));
}

import { isIP } from 'node:net';
import { resolve } from 'node:path';
import { parseDuration } from '../../shared/src/duration.js';
import { DEFAULT_UPSTREAM_HOSTS } from './artifacts/upstream.js';

/** Raw flag values as commander hands them over (strings, possibly absent). */
export interface ControllerFlags {
  dataDir: string;
  listen: string;
  advertiseAddress: string[];
  heartbeatInterval: string;
  healthInterval: string;
  unreachableAfter?: string;
  heartbeatFlush: string;
  restartGrace: string;
  certValidityDays: string;
  logLevel: string;
  packagesDir: string;
  joinRate: string;
  /** `--artifact-upstream` (repeatable); empty = the default list. */
  artifactUpstream?: string[];
  /** `--artifact-trust-key` (repeatable): public key files whose signatures admins may import unpinned artifacts with. */
  artifactTrustKey?: string[];
  /** `--snapshot-key FILE`: the snapshot encryption key (generated on first use when absent). */
  snapshotKey?: string;
  /** `--snapshot-s3 FILE`: the S3 target's JSON configuration; absent = no off-host copy. */
  snapshotS3?: string;
  /** `--drill-bin-dir DIR` (repeatable): where etcd, etcdutl and kube-apiserver are for drills. */
  drillBinDir?: string[];
}

/** Validated settings; ControllerOptions (controller.ts) is these minus logLevel plus a logger. */
export interface ControllerSettings {
  dataDir: string;
  listenHost: string;
  listenPort: number;
  advertise: string[];
  heartbeatIntervalMs: number;
  healthIntervalMs: number;
  unreachableAfterMs: number;
  heartbeatFlushMs: number;
  /** After a start, how long every host has to reconnect before its stored last heartbeat counts against it. */
  restartGraceMs: number;
  certValidityDays: number;
  logLevel: string;
  /** Agent .deb files served to fresh hosts by /install.sh. */
  packagesDir: string;
  /** Join attempts per second per source address (burst 5×); 0 = unlimited (benchmarks). */
  joinRatePerSecond: number;
  /** Hosts `artifacts fetch` may download from (and be redirected to). */
  artifactUpstreams: string[];
  /** Absolute paths of the artifact signing public keys (read at start, trust-keys.ts); empty: none trusted. */
  artifactTrustKeys: string[];
  /** Absolute path of the snapshot key (snapshots/key-file.ts); default /etc/ballast/snapshot.key. */
  snapshotKeyPath?: string;
  /** Absolute path of the S3 target file; absent = snapshots stay on this host only. */
  snapshotS3Path?: string;
  /** Absolute directories searched for etcd, etcdutl and kube-apiserver (restore drills). */
  drillBinDirs?: string[];
}

/** Defaults, documented in the README's configuration reference. */
export const CONTROLLER_DEFAULTS = {
  dataDir: '/var/lib/ballast-controller',
  listen: '0.0.0.0:9443',
  heartbeatInterval: '1s',
  healthInterval: '15s',
  heartbeatFlush: '50ms',
  // The agents' reconnect backoff is capped at 30 s (agent/src/backoff.ts): an agent that failed a
  // few times while the controller was down may wait that long, plus the time the controller needs
  // to handshake a whole fleet (~10 s for 10,000 agents here). Shorter, and a restart under load
  // marks live hosts unreachable (README "Host states").
  restartGrace: '45s',
  certValidityDays: '365',
  joinRate: '10',
  logLevel: 'info',
} as const;

const LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];
const HOSTNAME = /^[a-zA-Z0-9]([a-zA-Z0-9.-]{0,251}[a-zA-Z0-9])?$/;

/**
 * Validates the flags and reports every problem at once, each with the flag it concerns
 * (k0s/kube-vip validator style). Touches nothing on the host.
 */
export function validateControllerFlags(flags: ControllerFlags): { ok: true; settings: ControllerSettings } | { ok: false; problems: string[] } {
  const problems: string[] = [];
  const duration = (flag: string, text: string, min: number, max: number): number => {
    const ms = parseDuration(text);
    if (ms === null) problems.push(`--${flag}: "${text}" is not a duration (e.g. 500ms, 1s, 2m)`);
    else if (ms < min || ms > max) problems.push(`--${flag}: ${text} is outside ${min}ms..${max}ms`);
    return ms ?? 0;
  };
  const listen = parseHostPort(flags.listen);
  if (listen === null) problems.push(`--listen: "${flags.listen}" is not HOST:PORT (e.g. 0.0.0.0:9443 or [::]:9443)`);
  for (const [i, a] of flags.advertiseAddress.entries()) {
    if (isIP(a) === 0 && !HOSTNAME.test(a)) problems.push(`--advertise-address[${i}]: "${a}" is neither an IP address nor a DNS name`);
  }
  const heartbeatIntervalMs = duration('heartbeat-interval', flags.heartbeatInterval, 100, 60_000);
  const healthIntervalMs = duration('health-interval', flags.healthInterval, 1000, 600_000);
  const heartbeatFlushMs = duration('heartbeat-flush', flags.heartbeatFlush, 5, 5000);
  const restartGraceMs = duration('restart-grace', flags.restartGrace, 0, 600_000);
  const unreachableAfterMs =
    flags.unreachableAfter === undefined
      ? heartbeatIntervalMs * 3
      : duration('unreachable-after', flags.unreachableAfter, 300, 600_000);
  if (unreachableAfterMs > 0 && heartbeatIntervalMs > 0 && unreachableAfterMs < 2 * heartbeatIntervalMs) {
    problems.push('--unreachable-after: must be at least two heartbeat intervals, or every late heartbeat is an outage');
  }
  const certValidityDays = Number(flags.certValidityDays);
  if (!Number.isInteger(certValidityDays) || certValidityDays < 1 || certValidityDays > 3650) {
    problems.push(`--cert-validity-days: "${flags.certValidityDays}" must be a whole number of days from 1 to 3650`);
  }
  const joinRatePerSecond = Number(flags.joinRate ?? CONTROLLER_DEFAULTS.joinRate);
  if (!Number.isFinite(joinRatePerSecond) || joinRatePerSecond < 0 || joinRatePerSecond > 100_000) {
    problems.push(`--join-rate: "${flags.joinRate}" must be a number of join attempts per second per source (0 = unlimited)`);
  }
  for (const [i, h] of (flags.artifactUpstream ?? []).entries()) {
    // Names only: an IP literal would bypass DNS-based CDN moves and usually means an internal box.
    if (isIP(h.replace(/^\[(.*)\]$/, '$1')) !== 0 || !HOSTNAME.test(h)) problems.push(`--artifact-upstream[${i}]: "${h}" must be a DNS name such as dl.k8s.io`);
  }
  for (const [i, k] of (flags.artifactTrustKey ?? []).entries()) {
    if (k.trim() === '') problems.push(`--artifact-trust-key[${i}]: must name a public key file`);
  }
  for (const [flag, v] of [['snapshot-key', flags.snapshotKey], ['snapshot-s3', flags.snapshotS3]] as const) {
    if (v !== undefined && v.trim() === '') problems.push(`--${flag}: must name a file`);
  }
  for (const [i, d] of (flags.drillBinDir ?? []).entries()) {
    if (d.trim() === '') problems.push(`--drill-bin-dir[${i}]: must name a directory`);
  }
  if (!LEVELS.includes(flags.logLevel)) problems.push(`--log-level: "${flags.logLevel}" must be one of ${LEVELS.join(', ')}`);
  if (flags.dataDir.trim() === '') problems.push('--data-dir: must not be empty');
  if (problems.length > 0 || listen === null) return { ok: false, problems };
  return {
    ok: true,
    settings: {
      dataDir: resolve(flags.dataDir),
      listenHost: listen.host,
      listenPort: listen.port,
      advertise: flags.advertiseAddress,
      heartbeatIntervalMs,
      healthIntervalMs,
      unreachableAfterMs,
      heartbeatFlushMs,
      restartGraceMs,
      certValidityDays,
      logLevel: flags.logLevel,
      packagesDir: resolve(flags.packagesDir),
      joinRatePerSecond,
      // Given flags replace the default list, so an admin can also narrow it.
      artifactUpstreams: flags.artifactUpstream?.length ? flags.artifactUpstream.map((h) => h.toLowerCase()) : [...DEFAULT_UPSTREAM_HOSTS],
      artifactTrustKeys: (flags.artifactTrustKey ?? []).map((k) => resolve(k)),
      ...(flags.snapshotKey === undefined ? {} : { snapshotKeyPath: resolve(flags.snapshotKey) }),
      ...(flags.snapshotS3 === undefined ? {} : { snapshotS3Path: resolve(flags.snapshotS3) }),
      drillBinDirs: (flags.drillBinDir ?? []).map((d) => resolve(d)),
    },
  };
}

/** Parses `host:port` or `[v6]:port`; port 0 means "any free port" (tests). */
export function parseHostPort(text: string): { host: string; port: number } | null {
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(text);
  if (match === null) return null;
  const port = Number(match[3]);
  if (port > 65535) return null;
  const host = match[1] ?? match[2] ?? '';
  if (match[1] !== undefined && isIP(host) !== 6) return null;
  return { host, port };
}

/**
 * /etc/ballast/vip.yaml: what the VIP manager elects for. Written by the controller's VIP role;
 * validated here with every problem reported by path, then completed with defaults and checked
 * against the timing inequality that makes dual ownership impossible (see README.md, "The
 * timing proof"). A file that fails is refused as a whole: a half-understood VIP config is worse
 * than none.
 */
import { isIPv4 } from 'node:net';
import { type Static, Type } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { parse } from 'yaml';
import { BallastError } from '../../../shared/src/errors.js';

/** Where the controller writes it. */
export const VIP_CONFIG_PATH = '/etc/ballast/vip.yaml';
/** A VIP config is a few hundred bytes; anything this big is not one. */
export const MAX_VIP_CONFIG_BYTES = 64 * 1024;

/**
 * Measured on this kernel: an IPv4 address whose lifetime is not renewed disappears 1.0–1.25 s
 * after the last renewal with `valid_lft 1`, i.e. up to 250 ms after its lifetime (the kernel's
 * lifetime check runs on a coarse timer). Every bound below adds this slack.
 */
export const KERNEL_EXPIRY_SLACK_MS = 250;
/**
 * Time left between "a renewal may still start" and "the kernel must have taken it" for
 * spawning `ip` and the netlink call; the validator insists on at least this much.
 */
export const MIN_EXEC_MARGIN_MS = 100;
/** A heartbeat write never waits longer than this (brief: renew deadline ≤ 500 ms). */
export const RENEW_CALL_TIMEOUT_MS = 500;
/** Every other etcd call's deadline. */
export const OTHER_CALL_TIMEOUT_MS = 1_000;

const Path = Type.String({ pattern: '^/[^\\0]*$', maxLength: 4096 });
const Port = Type.Integer({ minimum: 1, maximum: 65535 });
const Timing = {
  intervalMs: Type.Optional(Type.Integer({ minimum: 50, maximum: 60_000 })),
  timeoutMs: Type.Optional(Type.Integer({ minimum: 10, maximum: 30_000 })),
  rise: Type.Optional(Type.Integer({ minimum: 1, maximum: 100 })),
  fall: Type.Optional(Type.Integer({ minimum: 1, maximum: 100 })),
};
const HttpHealthSchema = Type.Object(
  {
    kind: Type.Union([Type.Literal('http'), Type.Literal('https')]),
    url: Type.String({ pattern: '^https?://', maxLength: 2048 }),
    caFile: Type.Optional(Path),
    certFile: Type.Optional(Path),
    keyFile: Type.Optional(Path),
    ...Timing,
  },
  { additionalProperties: false },
);
const TcpHealthSchema = Type.Object(
  { kind: Type.Literal('tcp'), host: Type.String({ minLength: 1, maxLength: 253 }), port: Port, ...Timing },
  { additionalProperties: false },
);

/**
 * No check: the host is always healthy. The bootstrap uses it on the first control plane, before
 * any API server exists to probe; the VIP role switches to the /readyz check once one does.
 */
const NoneHealthSchema = Type.Object({ kind: Type.Literal('none') }, { additionalProperties: false });

/** The file as written (optional fields may be absent). */
export const VipConfigFileSchema = Type.Object(
  {
    /** Names the election: etcd keys live under /ballast/vip/<name>/. */
    name: Type.String({ pattern: '^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$' }),
    /** IPv4 only: the kernel-lifetime measurements and gratuitous ARP are IPv4 facts. */
    address: Type.String({ pattern: '^[0-9.]{7,15}$' }),
    prefixLength: Type.Optional(Type.Integer({ minimum: 1, maximum: 32 })),
    interface: Type.String({ pattern: '^[A-Za-z0-9_.@:-]{1,15}$' }),
    etcd: Type.Object(
      {
        /**
         * The host's own member only (one item). With several endpoints a keep-alive can sit on a
         * partitioned member while the election moves on elsewhere (DESIGN, measured): a holder must
         * lose the VIP when its own member is cut off, and a candidate's member is then in the
         * majority.
         */
        endpoints: Type.Optional(Type.Array(Type.String({ pattern: '^https://', maxLength: 2048 }), { minItems: 1, maxItems: 1 })),
        caFile: Path,
        certFile: Path,
        keyFile: Path,
      },
      { additionalProperties: false },
    ),
    /**
     * How long a holder's heartbeat may stay unchanged before a candidate takes the VIP over
     * (ms). The address must be gone by then: see the timing check below.
     */
    holdTimeoutMs: Type.Optional(Type.Integer({ minimum: 1_000, maximum: 60_000 })),
    addressLifetimeSeconds: Type.Optional(Type.Integer({ minimum: 1, maximum: 30 })),
    maxRenewRttMs: Type.Optional(Type.Integer({ minimum: 10, maximum: RENEW_CALL_TIMEOUT_MS })),
    pollIntervalMs: Type.Optional(Type.Integer({ minimum: 10, maximum: 5_000 })),
    health: Type.Optional(Type.Union([HttpHealthSchema, TcpHealthSchema, NoneHealthSchema])),
    /** false: this host never campaigns, and a holder hands the VIP on (maintenance). */
    candidate: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
);
export type VipConfigFile = Static<typeof VipConfigFileSchema>;

/** Health check settings with defaults applied. */
export type VipHealthConfig =
  | { kind: 'http' | 'https'; url: string; caFile?: string; certFile?: string; keyFile?: string; intervalMs: number; timeoutMs: number; rise: number; fall: number }
  | { kind: 'tcp'; host: string; port: number; intervalMs: number; timeoutMs: number; rise: number; fall: number }
  | { kind: 'none'; intervalMs: number; timeoutMs: number; rise: number; fall: number };

/** A validated config with every default filled in and the derived timings. */
export interface VipConfig {
  name: string;
  address: string;
  prefixLength: number;
  interface: string;
  etcd: { endpoints: string[]; caFile: string; certFile: string; keyFile: string };
  holdTimeoutMs: number;
  addressLifetimeSeconds: number;
  maxRenewRttMs: number;
  pollIntervalMs: number;
  health: VipHealthConfig;
  candidate: boolean;
  /** Derived: how often the holder writes its heartbeat. */
  renewIntervalMs: number;
  /**
   * Derived: after a heartbeat was sent at S, the kernel must have taken the address renewal by
   * S + renewBudgetMs = S + holdTimeout − lifetime − slack; renewing later could let the address
   * outlive the earliest takeover.
   */
  renewBudgetMs: number;
}

/** kube-apiserver's /readyz as kubeadm sets it up (its serving cert is signed by the cluster CA). */
export const DEFAULT_HEALTH: VipHealthConfig = {
  kind: 'https',
  url: 'https://127.0.0.1:6443/readyz',
  caFile: '/etc/kubernetes/pki/ca.crt',
  intervalMs: 200,
  timeoutMs: 500,
  rise: 2,
  fall: 2,
};

/**
 * `health: {kind: none}` resolved: one pass makes the host healthy (rise 1) and nothing can fail
 * it; the interval only paces the monitor's (free) ticks.
 */
export const NONE_HEALTH: VipHealthConfig = { kind: 'none', intervalMs: 1_000, timeoutMs: 100, rise: 1, fall: 1 };

const checkFile = TypeCompiler.Compile(VipConfigFileSchema);

function configError(message: string, path: string): BallastError {
  return new BallastError('BALLAST_ERR_CONFIG', message, { path });
}

/**
 * Validates a parsed config, applies defaults and checks the timing rules. Throws
 * BALLAST_ERR_CONFIG listing every schema problem (the first one's path on `path`).
 */
export function resolveVipConfig(value: unknown, source = VIP_CONFIG_PATH): VipConfig {
  if (!checkFile.Check(value)) {
    const problems = [...checkFile.Errors(value)].slice(0, 20);
    const list = problems.map((p) => `${p.path || '/'}: ${p.message}`).join('; ');
    throw configError(`failed to load ${source}: ${list}`, problems[0]?.path || '/');
  }
  const file = value;
  if (!isIPv4(file.address)) throw configError(`failed to load ${source}: /address: ${file.address} is not an IPv4 address`, '/address');
  const ttlMs = file.holdTimeoutMs ?? 2_000;
  const lifetime = file.addressLifetimeSeconds ?? 1;
  const lifetimeMs = lifetime * 1000;
  const renewBudgetMs = ttlMs - lifetimeMs - KERNEL_EXPIRY_SLACK_MS;
  // Default: as much round trip as the budget allows after keeping 250 ms for spawning `ip`,
  // capped by the heartbeat deadline (hold 2 s, lifetime 1 s → 750 − 250 = 500 ms).
  const maxRenewRttMs = file.maxRenewRttMs ?? Math.min(RENEW_CALL_TIMEOUT_MS, renewBudgetMs - 250);
  if (maxRenewRttMs < 10 || maxRenewRttMs + MIN_EXEC_MARGIN_MS > renewBudgetMs) {
    throw configError(
      `failed to load ${source}: the VIP could outlive its hold: need maxRenewRttMs (${maxRenewRttMs}) + ${MIN_EXEC_MARGIN_MS} ms to run \`ip\` ` +
        `≤ holdTimeoutMs (${ttlMs}) − addressLifetimeSeconds×1000 (${lifetimeMs}) − ${KERNEL_EXPIRY_SLACK_MS} ms kernel slack = ${renewBudgetMs} ms; ` +
        'raise holdTimeoutMs, or lower addressLifetimeSeconds or maxRenewRttMs',
      file.maxRenewRttMs === undefined ? '/holdTimeoutMs' : '/maxRenewRttMs',
    );
  }
  // Renew well inside both the hold timeout and the address lifetime, so a lost heartbeat or two
  // cost nothing (a 250 ms interval is 4 small raft writes a second). Safety does not depend on it
  // (see README.md, the proof).
  const renewIntervalMs = Math.min(ttlMs / 8, lifetimeMs / 4);
  const h = file.health;
  const timing = (x: { intervalMs?: number; timeoutMs?: number; rise?: number; fall?: number } | undefined) => {
    const intervalMs = x?.intervalMs ?? DEFAULT_HEALTH.intervalMs;
    return { intervalMs, timeoutMs: x?.timeoutMs ?? Math.min(DEFAULT_HEALTH.timeoutMs, intervalMs * 5), rise: x?.rise ?? DEFAULT_HEALTH.rise, fall: x?.fall ?? DEFAULT_HEALTH.fall };
  };
  let health: VipHealthConfig;
  if (h === undefined) health = DEFAULT_HEALTH;
  else if (h.kind === 'none') health = NONE_HEALTH;
  else if (h.kind === 'tcp') health = { kind: 'tcp', host: h.host, port: h.port, ...timing(h) };
  else {
    if (!h.url.startsWith(`${h.kind}://`)) throw configError(`failed to load ${source}: /health/url: ${h.url} does not match kind ${h.kind}`, '/health/url');
    health = { kind: h.kind, url: h.url, caFile: h.caFile, certFile: h.certFile, keyFile: h.keyFile, ...timing(h) };
  }
  return {
    name: file.name,
    address: file.address,
    prefixLength: file.prefixLength ?? 32,
    interface: file.interface,
    etcd: { endpoints: file.etcd.endpoints ?? ['https://127.0.0.1:2379'], caFile: file.etcd.caFile, certFile: file.etcd.certFile, keyFile: file.etcd.keyFile },
    holdTimeoutMs: ttlMs,
    addressLifetimeSeconds: lifetime,
    maxRenewRttMs,
    pollIntervalMs: file.pollIntervalMs ?? 50,
    health,
    candidate: file.candidate ?? true,
    renewIntervalMs,
    renewBudgetMs,
  };
}

/** Parses and resolves the YAML text of vip.yaml (size-bounded). */
export function parseVipConfig(text: string, source = VIP_CONFIG_PATH): VipConfig {
  if (Buffer.byteLength(text) > MAX_VIP_CONFIG_BYTES) throw configError(`failed to load ${source}: larger than ${MAX_VIP_CONFIG_BYTES} bytes`, '/');
  let value: unknown;
  try {
    value = parse(text, { maxAliasCount: 10 });
  } catch (err) {
    throw new BallastError('BALLAST_ERR_CONFIG', `failed to load ${source}: not valid YAML: ${err instanceof Error ? err.message : String(err)}`, { path: '/', cause: err });
  }
  return resolveVipConfig(value, source);
}

/**
 * The fields whose change means a different election or different timing guarantees: a running
 * elector is released and a new one started. Anything else (health, candidate, poll interval)
 * is applied in place, so tuning a probe never moves the VIP.
 */
export function electionIdentity(c: VipConfig): string {
  return JSON.stringify([c.name, c.address, c.prefixLength, c.interface, c.etcd, c.holdTimeoutMs, c.addressLifetimeSeconds, c.maxRenewRttMs]);
}

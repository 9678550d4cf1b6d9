/**
 * The agent's VIP manager: watches /etc/ballast/vip.yaml (polled every second, like the
 * components dir: cheap, and it cannot miss an event the way an inotify watch across an atomic
 * rename can), runs one {@link VipElector} for it, and keeps two files in step:
 *
 * - `/var/lib/ballast/vip-state.json`: the VIP this agent last managed. If the config later
 *   disappears or names another address, the old address is removed at start or on reload even
 *   though no config describes it any more.
 * - `/run/ballast/vip.env`: `VIP=<addr>/<prefix>` and `VIP_INTERFACE=<dev>` for the ExecStopPost
 *   script (ballast-vip-cleanup), written before the elector may add the address, so whatever way
 *   the agent dies, systemd removes exactly what we could have added. /run is right: the address
 *   does not survive a reboot either.
 *
 * No file → idle. A file that does not validate is reported once and the running election (if
 * any) continues unchanged. Works without the controller; events are dropped while disconnected.
 *
 * Maintenance: the exclusion marker (exclusion.ts) makes the effective candidate flag
 * `candidate && !excluded`; `exclude()` on the holder hands over first (or resigns), then stops
 * campaigning. `tick`, `move`, `exclude` and `include` run one at a time (a serial queue), so a
 * config reload can never interleave with a handover.
 */
import { readFile, rm, stat } from 'node:fs/promises';
import type { Logger } from 'pino';
import { BallastError, isBallastError, messageOf } from '../../../shared/src/errors.js';
import { writeFileAtomic } from '../../../shared/src/fs/atomic.js';
import type { EtcdTlsPem } from '../etcd/lease.js';
import type { HealthCheck } from '../health.js';
import { createPollLoop } from '../poll-loop.js';
import { hostPath } from '../tasks/module.js';
import type { ExecPort } from '../tasks/module.js';
import { createIpAddressPort } from './address.js';
import { realBackend, type VipBackend, type VipBackendFactory } from './backend.js';
import { electionIdentity, MAX_VIP_CONFIG_BYTES, parseVipConfig, VIP_CONFIG_PATH, type VipConfig } from './config.js';
import { createVipElector, type VipElector, type VipStatus } from './elector.js';
import { createHealthMonitor, createHealthProbe, type HealthMonitor } from './health.js';
import type { VipAgentStatus, VipExcludeResult, VipHandoverResult } from '../../../shared/src/protocol/vip.js';
import { isExcluded, removeExcluded, VIP_EXCLUDED_PATH, writeExcluded } from './exclusion.js';
import type { Clock, VipEventSink } from './ports.js';
import { agentStatus, type VipPort } from './requests.js';
import { createRttWindow } from './rtt.js';
import { createSerialQueue } from './serial.js';

export const VIP_STATE_PATH = '/var/lib/ballast/vip-state.json';
export const VIP_ENV_PATH = '/run/ballast/vip.env';

/** Options of {@link createVipManager}. */
export interface VipManagerOptions {
  /** '/' in production; file paths resolve under it. */
  root: string;
  /** This host's name (stored in the holder key). */
  host: string;
  exec: ExecPort;
  log: Logger;
  onEvent: VipEventSink;
  configPath?: string;
  statePath?: string;
  envPath?: string;
  /** The exclusion marker (default /var/lib/ballast/vip-excluded). */
  excludedPath?: string;
  /** How often vip.yaml and the TLS files are checked; default 1 s. */
  pollMs?: number;
  clock?: Clock;
  /** Builds the election's etcd, address and ARP ports; default: the real ones (tests: fakes). */
  backend?: VipBackendFactory;
}

/** See the file comment. As a {@link VipPort} it answers the controller's `req.vip`. */
export interface VipManager extends VipPort {
  start(): void;
  /** Releases a held VIP (address first, then the holder key) and stops. */
  stop(): Promise<void>;
  /** One config check (the loop calls this; so do tests). */
  tick(): Promise<void>;
  status(): VipStatus;
  /** The `vip` check for health snapshots (only while a config exists). */
  checks(): HealthCheck[];
  /** Graceful move to `target` (the controller asks; the target takes over within ~one poll interval). */
  handover(target: string): Promise<void>;
}

interface Running {
  config: VipConfig;
  identity: string;
  elector: VipElector;
  health: HealthMonitor;
  backend: VipBackend;
  tlsStamp: string;
}

/** The state file's shape: enough to remove the address again. */
interface ManagedAddress {
  name: string;
  address: string;
  prefixLength: number;
  interface: string;
}

const realClock: Clock = { now: () => performance.now(), wallNow: () => Date.now() };

/** How long exclude() waits for a resigning holder's elector to let go (it acts at its next step). */
const RESIGN_WAIT_MS = 2_000;

export function createVipManager(opts: VipManagerOptions): VipManager {
  const log = opts.log.child({ component: 'vip' });
  const path = (p: string) => hostPath({ root: opts.root }, p);
  const configPath = opts.configPath ?? VIP_CONFIG_PATH;
  const statePath = opts.statePath ?? VIP_STATE_PATH;
  const envPath = opts.envPath ?? VIP_ENV_PATH;
  const clock = opts.clock ?? realClock;
  const excludedPath = opts.excludedPath ?? VIP_EXCLUDED_PATH;
  const backendFor = opts.backend ?? realBackend(opts.exec);
  /** The last renewals' round trips (cleared with each new election). */
  const rtt = createRttWindow();
  /** tick/move/exclude/include, one at a time. */
  const serial = createSerialQueue();
  /** The exclusion marker as last read or written. */
  let excluded = false;
  /** What the elector runs with: the file's candidate flag, overridden by the marker. */
  const effective = (c: VipConfig): VipConfig => ({ ...c, candidate: c.candidate && !excluded });
  let running: Running | null = null;
  let configStamp: string | null = null;
  let lastProblem = '';
  let checkedState = false;

  const stampOf = async (file: string): Promise<string> => {
    try {
      const s = await stat(path(file));
      return `${s.ino}:${s.size}:${s.mtimeMs}`;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 'absent';
      throw err;
    }
  };
  const tlsFiles = (c: VipConfig) => [c.etcd.caFile, c.etcd.certFile, c.etcd.keyFile];
  const readTls = async (c: VipConfig): Promise<EtcdTlsPem> => {
    const [ca, cert, key] = await Promise.all(tlsFiles(c).map((f) => readFile(path(f), 'utf8')));
    return { ca: ca!, cert: cert!, key: key! };
  };

  async function readState(): Promise<ManagedAddress | null> {
    try {
      const v = JSON.parse(await readFile(path(statePath), 'utf8')) as Partial<ManagedAddress>;
      if (typeof v.address === 'string' && typeof v.prefixLength === 'number' && typeof v.interface === 'string') {
        return { name: String(v.name ?? ''), address: v.address, prefixLength: v.prefixLength, interface: v.interface };
      }
      log.warn({ file: statePath }, 'ignoring a VIP state file of unknown shape');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') log.warn({ err: messageOf(err), file: statePath }, 'failed to read the VIP state file');
    }
    return null;
  }

  /** Removes an address we managed under an earlier config (not the current one: its elector does that). */
  async function removeManaged(m: ManagedAddress, why: string): Promise<void> {
    const port = createIpAddressPort({ exec: opts.exec, address: m.address, prefixLength: m.prefixLength, interface: m.interface, lifetimeSeconds: 1 });
    try {
      if (await port.remove()) {
        const message = `removed stale VIP ${m.address}/${m.prefixLength} from ${m.interface} (${why})`;
        log.warn(message);
        opts.onEvent('vip.stale-removed', message, { vip: m.name, address: `${m.address}/${m.prefixLength}`, host: opts.host, reason: why });
      }
    } catch (err) {
      log.error({ err: messageOf(err) }, `failed to remove stale VIP ${m.address}/${m.prefixLength} from ${m.interface}`);
    }
  }

  const sameAddress = (m: ManagedAddress, c: VipConfig | null) =>
    c !== null && m.address === c.address && m.prefixLength === c.prefixLength && m.interface === c.interface;

  async function stopRunning(): Promise<void> {
    if (running === null) return;
    const r = running;
    running = null;
    await r.health.stop();
    await r.elector.stop();
    r.backend.close();
  }

  async function startRunning(config: VipConfig): Promise<void> {
    const managed: ManagedAddress = { name: config.name, address: config.address, prefixLength: config.prefixLength, interface: config.interface };
    // Both files before the elector can add anything (see the file comment).
    await writeFileAtomic(path(statePath), `${JSON.stringify(managed)}\n`, 0o600);
    await writeFileAtomic(
      path(envPath),
      `# Written by ballast-agent: the VIP this host may hold, for ballast-vip-cleanup (ExecStopPost).\nVIP=${config.address}/${config.prefixLength}\nVIP_INTERFACE=${config.interface}\n`,
      0o644,
    );
    const backend = backendFor(config, await readTls(config), log.child({ vip: config.name }));
    let elector: VipElector | null = null;
    const health = createHealthMonitor({ probe: createHealthProbe(config.health), cfg: config.health, log: log.child({ vip: config.name }), onChange: () => elector?.healthChanged() });
    rtt.clear();
    elector = createVipElector({
      config: effective(config),
      host: opts.host,
      address: backend.address,
      arp: backend.arp,
      store: backend.store,
      health,
      clock,
      log: opts.log, // the elector adds component and vip itself
      onEvent: opts.onEvent,
      onRenew: (ms) => rtt.add(ms),
    });
    running = { config, identity: electionIdentity(config), elector, health, backend, tlsStamp: (await Promise.all(tlsFiles(config).map(stampOf))).join('|') };
    await elector.start();
    health.start();
    log.info({ vip: config.name, address: `${config.address}/${config.prefixLength}`, interface: config.interface, candidate: config.candidate, excluded }, 'VIP election started');
  }

  async function goIdle(): Promise<void> {
    await stopRunning();
    const managed = await readState();
    if (managed !== null) await removeManaged(managed, 'no VIP is configured any more');
    await rm(path(envPath), { force: true });
    await rm(path(statePath), { force: true });
  }

  async function loadConfig(): Promise<VipConfig | null | 'invalid'> {
    let text: string;
    try {
      const s = await stat(path(configPath));
      if (s.size > MAX_VIP_CONFIG_BYTES) throw new Error(`larger than ${MAX_VIP_CONFIG_BYTES} bytes`);
      text = await readFile(path(configPath), 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      return problem(`failed to read ${configPath}: ${messageOf(err)}`);
    }
    try {
      const config = parseVipConfig(text, configPath);
      lastProblem = '';
      return config;
    } catch (err) {
      return problem(messageOf(err), isBallastError(err) ? err.path : undefined);
    }
  }

  function problem(message: string, at?: string): 'invalid' {
    if (message !== lastProblem) {
      lastProblem = message;
      log.error({ file: configPath, path: at }, `${message}; ${running === null ? 'the VIP stays idle' : 'keeping the running VIP election'}`);
    }
    return 'invalid';
  }

  async function tickNow(): Promise<void> {
    const marker = await isExcluded(path(excludedPath));
    if (marker !== excluded) {
      excluded = marker;
      log.info({ excluded, file: excludedPath }, excluded ? 'VIP exclusion marker found: not campaigning' : 'VIP exclusion marker gone: campaigning again');
      if (running !== null) running.elector.update(effective(running.config));
    }
    if (!checkedState) {
      // At start: an address an earlier run managed under a config that is gone or different.
      checkedState = true;
      const managed = await readState();
      const current = await loadConfig();
      if (managed !== null && !sameAddress(managed, current === 'invalid' ? null : current)) await removeManaged(managed, 'left over from an earlier configuration');
    }
    const stamp = await stampOf(configPath);
    if (stamp !== configStamp) {
      configStamp = stamp;
      const next = await loadConfig();
      if (next === null) {
        if (running !== null) log.info('VIP config removed; releasing the VIP');
        await goIdle();
      } else if (next !== 'invalid') {
        if (running !== null && running.identity === electionIdentity(next)) {
          running.config = next;
          running.elector.update(effective(next));
          running.health.update(createHealthProbe(next.health), next.health);
        } else {
          const old = running === null ? null : { ...running.config };
          await stopRunning();
          if (old !== null && !sameAddress(old, next)) await removeManaged(old, 'the VIP config changed');
          await startRunning(next);
        }
      }
    }
    if (running !== null) {
      const tlsStamp = (await Promise.all(tlsFiles(running.config).map(stampOf))).join('|');
      if (tlsStamp !== running.tlsStamp) {
        running.tlsStamp = tlsStamp;
        try {
          running.backend.setTls(await readTls(running.config));
          log.info('reloaded the etcd client certificate for the VIP election');
        } catch (err) {
          log.error({ err: messageOf(err) }, 'failed to reload the etcd TLS files; keeping the previous ones');
        }
      }
    }
  }

  const tick = () => serial(tickNow);

  const idleStatus = (): VipStatus => ({ state: 'idle', holder: null, term: null, leaseLeftMs: null, lastRenewRttMs: null, healthy: false });
  const report = (): VipAgentStatus =>
    agentStatus({ host: opts.host, config: running?.config ?? null, status: running?.elector.status() ?? idleStatus(), rtt, healthMessage: running?.health.lastMessage() ?? 'no VIP configured', excluded });

  function requireRunning(what: string): Running {
    if (running === null) throw new BallastError('BALLAST_ERR_VIP_NOT_CONFIGURED', `failed to ${what}: no VIP is configured on ${opts.host} (${configPath} absent or invalid)`);
    return running;
  }

  async function move(to: string): Promise<VipHandoverResult> {
    const r = requireRunning(`hand over the VIP to ${to}`);
    const s = r.elector.status();
    if (s.state !== 'holder') {
      throw new BallastError('BALLAST_ERR_VIP_NOT_HOLDER', `failed to hand over VIP ${r.config.name} to ${to}: ${opts.host} does not hold it (holder: ${s.holder ?? 'none'})`);
    }
    if (to !== opts.host) {
      log.info({ vip: r.config.name, to, term: s.term }, 'handing the VIP over on request');
      await r.elector.handover(to);
    }
    return { from: opts.host, to, term: s.term };
  }

  async function exclude(req: { to?: string; reason?: string }): Promise<VipExcludeResult> {
    // The intent first, durably: a crash after this point still leaves the host out of the election.
    await writeExcluded(path(excludedPath), { host: opts.host, at: clock.wallNow(), reason: req.reason ?? 'local' });
    const r = running;
    const wasHolder = r !== null && r.elector.status().state === 'holder';
    let handedOverTo: string | null = null;
    if (r !== null && wasHolder && req.to !== undefined && req.to !== opts.host) {
      try {
        await r.elector.handover(req.to);
        handedOverTo = req.to;
      } catch (err) {
        // Falls through to resigning below: exclusion must end the holding either way.
        log.warn({ err: messageOf(err), to: req.to }, 'failed to hand the VIP over before exclusion; resigning instead');
      }
    }
    excluded = true;
    if (r !== null) {
      r.elector.update(effective(r.config));
      // A holder without a handover resigns at its next step (address first, then the holder key): wait for it.
      const until = Date.now() + RESIGN_WAIT_MS;
      while (r.elector.status().state === 'holder' && Date.now() < until) await new Promise((resolve) => setTimeout(resolve, 20));
    }
    log.info({ wasHolder, handedOverTo }, 'excluded from the VIP election');
    return { status: report(), wasHolder, handedOverTo };
  }

  async function include(): Promise<VipAgentStatus> {
    await removeExcluded(path(excludedPath));
    if (excluded) log.info('included in the VIP election again');
    excluded = false;
    if (running !== null) running.elector.update(effective(running.config));
    return report();
  }

  const poll = createPollLoop(
    () => tick().catch((err: unknown) => log.error({ err: messageOf(err) }, 'VIP config check failed')),
    () => opts.pollMs ?? 1_000,
  );

  return {
    start: () => poll.start(),
    async stop() {
      await poll.stop();
      await stopRunning();
    },
    tick,
    status: () => running?.elector.status() ?? idleStatus(),
    checks() {
      if (running === null) return [];
      const r = running;
      return [
        {
          name: 'vip',
          run: async () => {
            const s = r.elector.status();
            if (s.state === 'holder') return { ok: true, message: `holder term ${s.term}` };
            if (s.state === 'candidate') return { ok: true, message: 'candidate' };
            if (s.state === 'excluded') return { ok: true, message: 'excluded (not a candidate)' };
            return { ok: false, message: `${s.state}: ${r.health.lastMessage()}` };
          },
        },
      ];
    },
    report,
    move: (to) => serial(() => move(to)),
    exclude: (req) => serial(() => exclude(req)),
    include: () => serial(include),
    async handover(target) {
      if (running === null) throw new BallastError('BALLAST_ERR_NOT_FOUND', `failed to hand over the VIP to ${target}: no VIP is configured on ${opts.host}`);
      await running.elector.handover(target);
    },
  };
}

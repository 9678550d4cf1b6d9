/**
 * One running election: the ports (backend), the health monitor and the elector for one config,
 * started and stopped together. The manager has at most one; a config with the same election
 * identity is applied to it live, anything else replaces it.
 */
import type { Logger } from 'pino';
import { messageOf } from '../../../shared/src/errors.js';
import type { VipBackend, VipBackendFactory } from './backend.js';
import { electionIdentity, type VipConfig } from './config.js';
import type { ConfigWatch } from './config-watch.js';
import type { VipElector } from './elector.js';
import type { HealthMonitor } from './health.js';
import type { Clock, VipEventSink } from './ports.js';
import type { RttWindow } from './rtt.js';

/** The parts of the running election. */
export interface RunningElection {
  config: VipConfig;
  identity: string;
  elector: VipElector;
  health: HealthMonitor;
  backend: VipBackend;
  tlsStamp: string;
}

/** Options of {@link createElectionRunner}. */
export interface ElectionRunnerOptions {
  host: string;
  /** The manager's logger (the elector adds component and vip itself). */
  log: Logger;
  clock: Clock;
  backendFor: VipBackendFactory;
  watch: ConfigWatch;
  /** The renewal round trips of the current election (cleared with each new one). */
  rtt: RttWindow;
  onEvent: VipEventSink;
  /** What the elector runs with: the file's candidate flag, overridden by the exclusion marker. */
  effective: (config: VipConfig) => VipConfig;
  excluded: () => boolean;
}

/** Starts, updates and stops the one election. */
export interface ElectionRunner {
  current(): RunningElection | null;
  /** Starts an election for `config` (the caller has stopped any other and written the managed files). */
  start(config: VipConfig): Promise<void>;
  /** Applies a config of the same election identity without a new election. */
  apply(config: VipConfig): void;
  /** Releases a held VIP (address first, then the holder key) and stops; a no-op when idle. */
  stop(): Promise<void>;
  /** Reloads the etcd client certificate when its files changed (rotation). */
  reloadTls(): Promise<void>;
}

/** Creates the runner, idle. */
export function createElectionRunner(opts: ElectionRunnerOptions): ElectionRunner {
  const log = opts.log.child({ component: 'vip' });
  let running: RunningElection | null = null;
  /** health.js's probe factory, set by the first start (apply only runs while an election runs). */
  let probeFor: typeof import('./health.js').createHealthProbe = () => {
    throw new Error('failed to build a VIP health probe: no election was started');
  };

  return {
    current: () => running,
    async start(config) {
      const vipLog = log.child({ vip: config.name });
      // The election's code loads with the first election (see lazyRealBackend in manager.ts).
      const [{ createVipElector }, healthModule] = await Promise.all([import('./elector.js'), import('./health.js')]);
      const { createHealthMonitor, createHealthProbe } = healthModule;
      probeFor = createHealthProbe;
      const backend = await opts.backendFor(config, await opts.watch.readTls(config), vipLog);
      let elector: VipElector | null = null;
      const health = createHealthMonitor({ probe: createHealthProbe(config.health), cfg: config.health, log: vipLog, onChange: () => elector?.healthChanged() });
      opts.rtt.clear();
      elector = createVipElector({
        config: opts.effective(config),
        host: opts.host,
        address: backend.address,
        arp: backend.arp,
        store: backend.store,
        health,
        clock: opts.clock,
        log: opts.log,
        onEvent: opts.onEvent,
        onRenew: (ms) => opts.rtt.add(ms),
      });
      running = { config, identity: electionIdentity(config), elector, health, backend, tlsStamp: await opts.watch.tlsStamp(config) };
      await elector.start();
      health.start();
      log.info({ vip: config.name, address: `${config.address}/${config.prefixLength}`, interface: config.interface, candidate: config.candidate, excluded: opts.excluded() }, 'VIP election started');
    },
    apply(config) {
      if (running === null) return;
      running.config = config;
      running.elector.update(opts.effective(config));
      running.health.update(probeFor(config.health), config.health);
    },
    async stop() {
      if (running === null) return;
      const r = running;
      running = null;
      await r.health.stop();
      await r.elector.stop();
      r.backend.close();
    },
    async reloadTls() {
      if (running === null) return;
      const r = running;
      const stamp = await opts.watch.tlsStamp(r.config);
      if (stamp === r.tlsStamp) return;
      r.tlsStamp = stamp;
      try {
        r.backend.setTls(await opts.watch.readTls(r.config));
        log.info('reloaded the etcd client certificate for the VIP election');
      } catch (err) {
        log.error({ err: messageOf(err) }, 'failed to reload the etcd TLS files; keeping the previous ones');
      }
    },
  };
}

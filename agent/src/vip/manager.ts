/**
 * The agent's VIP manager: watches /etc/ballast/vip.yaml (config-watch.ts), runs one election for
 * it (election-run.ts), keeps the state and ExecStopPost files in step (managed-files.ts) and
 * answers the controller's maintenance requests (maintenance.ts).
 *
 * No file → idle. A file that does not validate is reported once and the running election (if
 * any) continues unchanged. Works without the controller; events are dropped while disconnected.
 *
 * `tick`, `move`, `exclude` and `include` run one at a time (a serial queue), so a config reload
 * can never interleave with a handover.
 */
import type { Logger } from 'pino';
import { messageOf } from '../../../shared/src/errors.js';
import type { HealthCheck } from '../health.js';
import { createPollLoop } from '../poll-loop.js';
import { hostPath } from '../tasks/module.js';
import type { ExecPort } from '../host/ports.js';
import type { VipBackendFactory } from './backend.js';
import { electionIdentity, VIP_CONFIG_PATH, type VipConfig } from './config.js';
import { createConfigWatch } from './config-watch.js';
import { createElectionRunner } from './election-run.js';
import type { VipStatus } from './elector.js';
import { VIP_EXCLUDED_PATH } from './exclusion.js';
import { createMaintenance } from './maintenance.js';
import { createManagedFiles, sameAddress, VIP_ENV_PATH, VIP_STATE_PATH } from './managed-files.js';
import type { Clock, VipEventSink } from './ports.js';
import type { VipPort } from './requests.js';
import { createRttWindow } from './rtt.js';
import { createSerialQueue } from './serial.js';

export { VIP_ENV_PATH, VIP_STATE_PATH } from './managed-files.js';

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
  /**
   * The older name of {@link VipPort.move}, kept for its callers: the same path (queued, holder
   * checked), except that without a config it fails with BALLAST_ERR_NOT_FOUND.
   */
  handover(target: string): Promise<void>;
}

const realClock: Clock = { now: () => performance.now(), wallNow: () => Date.now() };

/**
 * The production backend, imported with the first election: most hosts never hold a VIP, and an
 * idle agent should not keep the etcd client and the election code resident (issue 15).
 */
function lazyRealBackend(exec: ExecPort): VipBackendFactory {
  return async (config, tls, log) => (await import('./backend.js')).realBackend(exec)(config, tls, log);
}

/** Creates the manager, idle until `start()` (or a `tick()` in tests). */
export function createVipManager(opts: VipManagerOptions): VipManager {
  const log = opts.log.child({ component: 'vip' });
  const path = (p: string) => hostPath({ root: opts.root }, p);
  const configPath = opts.configPath ?? VIP_CONFIG_PATH;
  const clock = opts.clock ?? realClock;
  /** The last renewals' round trips (cleared with each new election). */
  const rtt = createRttWindow();
  /** tick/move/exclude/include, one at a time. */
  const serial = createSerialQueue();
  const files = createManagedFiles({ path, statePath: opts.statePath ?? VIP_STATE_PATH, envPath: opts.envPath ?? VIP_ENV_PATH, host: opts.host, exec: opts.exec, log, onEvent: opts.onEvent });
  const watch = createConfigWatch({ path, configPath, log, running: () => runner.current() !== null });
  const maintenance = createMaintenance({ host: opts.host, markerPath: opts.excludedPath ?? VIP_EXCLUDED_PATH, path, configPath, clock, log, rtt, runner: () => runner });
  const runner = createElectionRunner({
    host: opts.host,
    log: opts.log,
    clock,
    backendFor: opts.backend ?? lazyRealBackend(opts.exec),
    watch,
    rtt,
    onEvent: opts.onEvent,
    effective: maintenance.effective,
    excluded: maintenance.excluded,
  });
  let checkedState = false;

  async function goIdle(): Promise<void> {
    await runner.stop();
    const managed = await files.read();
    if (managed !== null) await files.removeAddress(managed, 'no VIP is configured any more');
    await files.clear();
  }

  /** A new election: the old one released first, its address removed if the new config names another. */
  async function replace(next: VipConfig): Promise<void> {
    const old = runner.current()?.config ?? null;
    await runner.stop();
    if (old !== null && !sameAddress(old, next)) await files.removeAddress(old, 'the VIP config changed');
    // Both files before the elector can add anything (managed-files.ts).
    await files.write(next);
    await runner.start(next);
  }

  async function tickNow(): Promise<void> {
    await maintenance.syncMarker();
    if (!checkedState) {
      // At start: an address an earlier run managed under a config that is gone or different.
      checkedState = true;
      const managed = await files.read();
      const current = await watch.load();
      if (managed !== null && !sameAddress(managed, current === 'invalid' ? null : current)) await files.removeAddress(managed, 'left over from an earlier configuration');
    }
    if (await watch.changed()) {
      const next = await watch.load();
      const running = runner.current();
      if (next === null) {
        if (running !== null) log.info('VIP config removed; releasing the VIP');
        await goIdle();
      } else if (next !== 'invalid') {
        if (running !== null && running.identity === electionIdentity(next)) runner.apply(next);
        else await replace(next);
      }
    }
    await runner.reloadTls();
  }

  const tick = () => serial(tickNow);
  const poll = createPollLoop(
    () => tick().catch((err: unknown) => log.error({ err: messageOf(err) }, 'VIP config check failed')),
    () => opts.pollMs ?? 1_000,
  );

  return {
    start: () => poll.start(),
    async stop() {
      await poll.stop();
      await runner.stop();
    },
    tick,
    status: maintenance.status,
    checks() {
      const r = runner.current();
      if (r === null) return [];
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
    report: maintenance.report,
    move: (to) => serial(() => maintenance.move(to)),
    exclude: (req) => serial(() => maintenance.exclude(req)),
    include: () => serial(maintenance.include),
    async handover(target) {
      await serial(() => maintenance.move(target, 'BALLAST_ERR_NOT_FOUND'));
    },
  };
}

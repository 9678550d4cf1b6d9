/**
 * The manager's maintenance side: the controller's `req.vip` (status, move, exclude, include) and
 * the exclusion marker (exclusion.ts), which makes the effective candidate flag
 * `candidate && !excluded`. `move` is the one way a handover is asked for; `exclude` on the holder
 * uses the same step (hand over, or resign without a target), then stops campaigning.
 *
 * The manager runs every call here through its serial queue, so a config reload can never
 * interleave with a handover.
 */
import type { Logger } from 'pino';
import { BallastError, type ErrorCode, messageOf } from '../../../shared/src/errors.js';
import type { VipAgentStatus, VipExcludeResult, VipHandoverResult } from '../../../shared/src/protocol/vip.js';
import type { VipConfig } from './config.js';
import type { ElectionRunner, RunningElection } from './election-run.js';
import { isExcluded, removeExcluded, writeExcluded } from './exclusion.js';
import type { Clock, VipStatus } from './ports.js';
import { agentStatus, type VipPort } from './requests.js';
import type { RttWindow } from './rtt.js';

/** Options of {@link createMaintenance}. */
export interface MaintenanceOptions {
  host: string;
  /** The marker's path on the host (logged as is). */
  markerPath: string;
  /** Resolves a host path under the manager's root. */
  path: (file: string) => string;
  /** Named in the not-configured error. */
  configPath: string;
  clock: Clock;
  log: Logger;
  rtt: RttWindow;
  runner: () => ElectionRunner;
}

/** The maintenance calls (unserialised: the manager queues them) and the marker's effect. */
export interface Maintenance extends VipPort {
  /**
   * Holder only: hands the VIP to `to`. `notConfigured` is the code when no VIP is configured
   * (BALLAST_ERR_VIP_NOT_CONFIGURED for `req.vip`; the manager's older `handover()` name said NOT_FOUND).
   */
  move(to: string, notConfigured?: ErrorCode): Promise<VipHandoverResult>;
  /** The marker as last read or written. */
  excluded(): boolean;
  /** What the elector runs with: the file's candidate flag, overridden by the marker. */
  effective(config: VipConfig): VipConfig;
  /** Reads the marker (a hand-made `touch` counts); on a change the running election follows. */
  syncMarker(): Promise<void>;
  status(): VipStatus;
}

const idleStatus = (): VipStatus => ({ state: 'idle', holder: null, term: null, leaseLeftMs: null, lastRenewRttMs: null, healthy: false });

/** Creates the maintenance side, not excluded until the marker is read. */
export function createMaintenance(opts: MaintenanceOptions): Maintenance {
  const { host, log } = opts;
  const markerFile = opts.path(opts.markerPath);
  let excluded = false;
  const effective = (c: VipConfig): VipConfig => ({ ...c, candidate: c.candidate && !excluded });
  const running = () => opts.runner().current();
  const status = () => running()?.elector.status() ?? idleStatus();
  /** Tells the running elector about a changed marker. */
  const follow = (r: RunningElection | null) => r?.elector.update(effective(r.config));

  const report = (): VipAgentStatus => {
    const r = running();
    return agentStatus({ host, config: r?.config ?? null, status: status(), rtt: opts.rtt, healthMessage: r?.health.lastMessage() ?? 'no VIP configured', excluded });
  };

  async function move(to: string, notConfigured: ErrorCode = 'BALLAST_ERR_VIP_NOT_CONFIGURED'): Promise<VipHandoverResult> {
    const r = running();
    if (r === null) throw new BallastError(notConfigured, `failed to hand over the VIP to ${to}: no VIP is configured on ${host} (${opts.configPath} absent or invalid)`);
    const s = r.elector.status();
    if (s.state !== 'holder') {
      throw new BallastError('BALLAST_ERR_VIP_NOT_HOLDER', `failed to hand over VIP ${r.config.name} to ${to}: ${host} does not hold it (holder: ${s.holder ?? 'none'})`);
    }
    if (to !== host) {
      log.info({ vip: r.config.name, to, term: s.term }, 'handing the VIP over on request');
      await r.elector.handover(to);
    }
    return { from: host, to, term: s.term };
  }

  async function exclude(req: { to?: string; reason?: string }): Promise<VipExcludeResult> {
    // The intent first, durably: a crash after this point still leaves the host out of the election.
    await writeExcluded(markerFile, { host, at: opts.clock.wallNow(), reason: req.reason ?? 'local' });
    const r = running();
    const wasHolder = r !== null && r.elector.status().state === 'holder';
    let handedOverTo: string | null = null;
    if (r !== null && wasHolder && req.to !== undefined && req.to !== host) {
      try {
        await move(req.to);
        handedOverTo = req.to;
      } catch (err) {
        // Falls through to resigning below: exclusion must end the holding either way.
        log.warn({ err: messageOf(err), to: req.to }, 'failed to hand the VIP over before exclusion; resigning instead');
      }
    }
    excluded = true;
    follow(r);
    // A holder that did not hand over resigns (address first, then the holder key) at its next
    // step, which the update asked for: run that step here and now rather than polling for it,
    // so the reply reports the outcome. Its etcd calls carry their own deadlines.
    if (r !== null && r.elector.status().state === 'holder') {
      await r.elector.step().catch((err: unknown) => log.error({ err: messageOf(err) }, 'failed to resign the VIP at once; the election loop retries'));
    }
    log.info({ wasHolder, handedOverTo }, 'excluded from the VIP election');
    return { status: report(), wasHolder, handedOverTo };
  }

  return {
    report,
    move,
    exclude,
    async include() {
      await removeExcluded(markerFile);
      if (excluded) log.info('included in the VIP election again');
      excluded = false;
      follow(running());
      return report();
    },
    excluded: () => excluded,
    effective,
    async syncMarker() {
      const marker = await isExcluded(markerFile);
      if (marker === excluded) return;
      excluded = marker;
      log.info({ excluded, file: opts.markerPath }, excluded ? 'VIP exclusion marker found: not campaigning' : 'VIP exclusion marker gone: campaigning again');
      follow(running());
    },
    status,
  };
}

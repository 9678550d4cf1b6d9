/**
 * Standing down after being taken out of the cluster (issue 12, point 6): a replaced or removed
 * host that comes back — a healed partition, power restored — must not run kubelet, etcd or the
 * VIP next to its replacement. The controller refuses its certificate with
 * BALLAST_ERR_HOST_TAKEN_OUT; the agent then, in this order:
 *   1. writes a marker in its data dir (atomic), so the next agent start stands down at once,
 *      before and without any controller;
 *   2. pauses its component supervisor for good (it would restart what is stopped next);
 *   3. writes the VIP exclusion marker (the manager stops campaigning and a holder lets go);
 *   4. stops and disables kubelet and etcd, so a reboot does not start them either.
 * Every step converges (safe to repeat at every start); a failing step is logged and the rest
 * still run. The host stays enrolled nowhere: re-enrolling it (a new join) and removing the marker
 * is how it is reused.
 */
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { writeFileAtomic } from '../../shared/src/atomic-file.js';
import { messageOf } from '../../shared/src/errors.js';
import type { SystemdPort } from './host/ports.js';

/** The marker's file name in the agent's data dir. */
export const TAKEN_OUT_MARKER = 'taken-out';
/** The units a taken-out host must not run. */
export const STAND_DOWN_UNITS = ['kubelet.service', 'etcd.service'] as const;

/** What {@link standDown} acts through. */
export interface StandDownPorts {
  dataDir: string;
  systemd: Pick<SystemdPort, 'stop' | 'disable'>;
  /** Keeps the component supervisor from restarting anything from now on. */
  pauseSupervisor(): void;
  /** Excludes this host from the VIP election (the persistent exclusion marker). */
  excludeVip(reason: string): Promise<void>;
  log: Logger;
  now?: () => number;
}

/** True when an earlier run stood down (the marker exists). */
export async function isTakenOut(dataDir: string): Promise<boolean> {
  try {
    await stat(join(dataDir, TAKEN_OUT_MARKER));
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
}

/** See the file comment; returns what failed (empty when everything is down). */
export async function standDown(p: StandDownPorts, reason: string): Promise<string[]> {
  const failed: string[] = [];
  const attempt = async (what: string, fn: () => Promise<void>) => {
    try {
      await fn();
    } catch (err) {
      failed.push(`${what}: ${messageOf(err)}`);
      p.log.error({ err: messageOf(err), what }, 'stand-down step failed');
    }
  };
  p.log.warn({ reason }, 'taken out of the cluster: standing down (kubelet, etcd and the VIP stay down)');
  await attempt('marker', () => writeFileAtomic(join(p.dataDir, TAKEN_OUT_MARKER), `${JSON.stringify({ at: new Date((p.now ?? Date.now)()).toISOString(), reason })}\n`, 0o600));
  p.pauseSupervisor();
  await attempt('vip', () => p.excludeVip(reason));
  for (const unit of STAND_DOWN_UNITS) {
    await attempt(`stop ${unit}`, () => p.systemd.stop(unit));
    await attempt(`disable ${unit}`, () => p.systemd.disable(unit));
  }
  return failed;
}

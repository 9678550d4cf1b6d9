/**
 * Standing down after being taken out of the cluster (issue 12, point 6): a replaced or removed
 * host that comes back — a healed partition, power restored — must not run kubelet, etcd or the
 * VIP next to its replacement. The controller refuses its certificate with
 * BALLAST_ERR_HOST_TAKEN_OUT; the agent then, in this order:
 *   1. writes a marker in its data dir (atomic), so the next agent start stands down at once,
 *      before and without any controller;
 *   2. pauses its component supervisor for good (it would restart what is stopped next);
 *   3. writes the VIP exclusion marker (the manager stops campaigning and a holder lets go);
 *   4. stops and disables kubelet, then removes every pod the container runtime still runs —
 *      kubelet leaves its containers running when it stops, and a returning control plane's static
 *      pods (kube-apiserver, controller-manager, scheduler) started at boot would keep serving the
 *      cluster through the surviving etcd members (seen in the real-Kubernetes lab) —
 *   5. stops and disables etcd, so a reboot does not start it either.
 * Every step converges (safe to repeat at every start); a failing step is logged and the rest
 * still run. The host stays enrolled nowhere: re-enrolling it (a new join) and removing the marker
 * is how it is reused.
 */
import { join } from 'node:path';
import type { Logger } from 'pino';
import { writeFileAtomic } from '../../shared/src/atomic-file.js';
import { BallastError, messageOf } from '../../shared/src/errors.js';
import type { ExecPort, ExecResult, SystemdPort } from './host/ports.js';
import { lstatOrNull } from './tasks/attrs.js';

/** The marker's file name in the agent's data dir. */
export const TAKEN_OUT_MARKER = 'taken-out';
/** The units a taken-out host must not run (kubelet first: the pods go once it cannot restart them). */
export const STAND_DOWN_UNITS = ['kubelet.service', 'etcd.service'] as const;

/** `crictl rmp --all --force`: stops and removes every pod sandbox and its containers. */
export const REMOVE_PODS_ARGV = ['crictl', 'rmp', '--all', '--force'] as const;

/**
 * The real {@link StandDownPorts.removePods}: crictl (installed with kubelet by the kube-node role,
 * configured for containerd's socket in /etc/crictl.yaml). No crictl: no kubelet ever ran here.
 */
export async function removePodsWithCrictl(exec: ExecPort): Promise<string> {
  let r: ExecResult;
  try {
    r = await exec([...REMOVE_PODS_ARGV], { timeoutMs: 60_000 });
  } catch (err) {
    if (err instanceof BallastError && err.code === 'BALLAST_ERR_COMMAND_FAILED') return `no crictl here (${messageOf(err)}): no pods to remove`;
    throw err;
  }
  if (r.code !== 0) throw new BallastError('BALLAST_ERR_COMMAND_FAILED', `failed to remove the pods: ${REMOVE_PODS_ARGV.join(' ')} exited ${r.code}: ${r.stderr.trim().slice(0, 300)}`);
  const removed = r.stdout.split('\n').filter((l) => l.startsWith('Removed sandbox')).length;
  return `${removed} pod sandboxes removed`;
}

/** What {@link standDown} acts through. */
export interface StandDownPorts {
  dataDir: string;
  systemd: Pick<SystemdPort, 'stop' | 'disable'>;
  /** Keeps the component supervisor from restarting anything from now on. */
  pauseSupervisor(): void;
  /** Excludes this host from the VIP election (the persistent exclusion marker). */
  excludeVip(reason: string): Promise<void>;
  /**
   * Stops and removes every pod sandbox of the container runtime (kubelet's containers outlive
   * kubelet); resolves with what it did. Called only once kubelet is stopped (it would restart
   * static pods). A host without a CRI runtime resolves with a note.
   */
  removePods(): Promise<string>;
  log: Logger;
  now?: () => number;
}

/** True when an earlier run stood down (the marker exists). */
export async function isTakenOut(dataDir: string): Promise<boolean> {
  return (await lstatOrNull(join(dataDir, TAKEN_OUT_MARKER))) !== null;
}

/**
 * See the file comment; returns what failed (empty when everything is down). `self-fence`
 * (self-fence.ts) does the same but writes no taken-out marker (it has its own) and stops units
 * without disabling them: a self-fenced host is still a member and comes back.
 */
export async function standDown(p: StandDownPorts, reason: string, mode: 'taken-out' | 'self-fence' = 'taken-out'): Promise<string[]> {
  const failed: string[] = [];
  const attempt = async (what: string, fn: () => Promise<void>) => {
    try {
      await fn();
    } catch (err) {
      failed.push(`${what}: ${messageOf(err)}`);
      p.log.error({ err: messageOf(err), what }, 'stand-down step failed');
    }
  };
  if (mode === 'taken-out') p.log.warn({ reason }, 'taken out of the cluster: standing down (kubelet, etcd and the VIP stay down)');
  if (mode === 'taken-out') await attempt('marker', () => writeFileAtomic(join(p.dataDir, TAKEN_OUT_MARKER), `${JSON.stringify({ at: new Date((p.now ?? Date.now)()).toISOString(), reason })}\n`, 0o600));
  p.pauseSupervisor();
  await attempt('vip', () => p.excludeVip(reason));
  for (const unit of STAND_DOWN_UNITS) {
    await attempt(`stop ${unit}`, () => p.systemd.stop(unit));
    if (mode === 'taken-out') await attempt(`disable ${unit}`, () => p.systemd.disable(unit));
    if (unit === 'kubelet.service') {
      await attempt('remove pods', async () => {
        p.log.info({ pods: await p.removePods() }, 'stand-down: pods removed');
      });
    }
  }
  return failed;
}

/**
 * Releases the control-plane VIP from hosts about to be reset, deliberately, before the reset
 * role stops their etcd and kubelet. Without it the holder's elector noticed its etcd going away
 * and the VIP failed over to whichever host was still up — during a full reset, to a host about
 * to be reset as well. Each host is excluded from the election (vip/service.ts): a holder hands
 * over to the best candidate outside the reset, or resigns when there is none. Holders go last,
 * so nothing hands the VIP to a host that is itself on the way out. After the reset the hosts are
 * included again, so a host reused in a new cluster campaigns as its new vip.yaml says.
 */
import type { Logger } from 'pino';
import { messageOf } from '../../../shared/src/errors.js';
import type { VipService } from '../vip/service.js';

/** What the release needs from the VIP service. */
export type VipReleasePort = Pick<VipService, 'status' | 'exclude' | 'include'>;

/** Excludes `hosts` from the VIP election, holders last; returns one line per host saying what happened. */
export async function releaseVip(vip: VipReleasePort, hosts: readonly string[], actor: string, log: Logger): Promise<string[]> {
  const holders = new Set((await vip.status()).items.flatMap((v) => (v.holder === null ? [] : [v.holder])));
  const ordered = [...hosts.filter((h) => !holders.has(h)), ...hosts.filter((h) => holders.has(h))];
  const lines: string[] = [];
  for (const host of ordered) {
    try {
      const res = await vip.exclude(host, actor);
      if (res.wasHolder) lines.push(res.handedOverTo === null ? `${host} released the VIP` : `${host} handed the VIP over to ${res.handedOverTo}`);
    } catch (err) {
      // A host without a connected agent or without a VIP cannot hold it: nothing to release.
      log.debug({ host, err: messageOf(err) }, 'no VIP to release before the reset');
    }
  }
  return lines;
}

/** Lets the reset hosts campaign again (best effort: a reset host usually has no VIP any more). */
export async function includeAgain(vip: VipReleasePort, hosts: readonly string[], actor: string, log: Logger): Promise<void> {
  for (const host of hosts) {
    try {
      await vip.include(host, actor);
    } catch (err) {
      log.debug({ host, err: messageOf(err) }, 'could not include the host in the VIP election again after the reset');
    }
  }
}

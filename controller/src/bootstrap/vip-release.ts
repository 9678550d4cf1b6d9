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

/** What {@link releaseVip} did: the hosts it excluded (to include again) and one line per handover. */
export interface VipRelease {
  excluded: string[];
  lines: string[];
}

/**
 * Excludes those of `hosts` that take part in a VIP election, holders last. Hosts that are in no
 * election (workers) are left alone: there is nothing to release, and asking each would cost a
 * round trip per host.
 */
export async function releaseVip(vip: VipReleasePort, hosts: readonly string[], actor: string, log: Logger): Promise<VipRelease> {
  const views = (await vip.status()).items;
  const holders = new Set(views.flatMap((v) => (v.holder === null ? [] : [v.holder])));
  const voters = new Set(views.flatMap((v) => v.candidates.map((c) => c.host)));
  const targets = hosts.filter((h) => voters.has(h));
  const ordered = [...targets.filter((h) => !holders.has(h)), ...targets.filter((h) => holders.has(h))];
  const out: VipRelease = { excluded: [], lines: [] };
  for (const host of ordered) {
    try {
      const res = await vip.exclude(host, actor);
      out.excluded.push(host);
      if (res.wasHolder) out.lines.push(res.handedOverTo === null ? `${host} released the VIP` : `${host} handed the VIP over to ${res.handedOverTo}`);
    } catch (err) {
      // No connected agent: it cannot hold the VIP through the reset either; nothing to release.
      log.warn({ host, err: messageOf(err) }, 'could not exclude the host from the VIP election before the reset');
    }
  }
  return out;
}

/** Lets the reset hosts campaign again (best effort: a reset host usually has no VIP any more). */
export async function includeAgain(vip: VipReleasePort, hosts: readonly string[], actor: string, log: Logger): Promise<void> {
  for (const host of hosts) {
    try {
      await vip.include(host, actor);
    } catch (err) {
      // Its exclusion marker (/var/lib/ballast/vip-excluded) stays: `ballastctl vip include` clears it.
      log.warn({ host, err: messageOf(err) }, 'could not include the host in the VIP election again after the reset');
    }
  }
}

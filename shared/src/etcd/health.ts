import { messageOf } from '../errors.js';
import type { EtcdCallOptions, EtcdClient, EtcdMember } from './client.js';

/** The outcome of {@link probeMembers}: healthy member ids, and why each other member is not. */
export interface MemberHealth {
  healthy: Set<string>;
  /** Member id → reason, for members probed and found unhealthy. */
  problems: Map<string, string>;
}

/**
 * Asks each member for its status at its own client URLs (in parallel, each call under the
 * client's deadline). Healthy means: it answered, it is the member we asked about (a reused
 * address could answer for another cluster's member), and it follows a leader — a member cut off
 * from the others still answers status, with leader 0. Members without client URLs (never
 * started) are unhealthy without a call.
 */
export async function probeMembers(client: EtcdClient, members: readonly EtcdMember[], opts: EtcdCallOptions = {}): Promise<MemberHealth> {
  const healthy = new Set<string>();
  const problems = new Map<string, string>();
  await Promise.all(
    members.map(async (member) => {
      if (member.clientUrls.length === 0) {
        problems.set(member.id, 'not started (no client URL)');
        return;
      }
      const reasons: string[] = [];
      for (const url of member.clientUrls) {
        if (opts.signal?.aborted) return;
        try {
          const status = await client.status(url, opts);
          if (status.memberId !== member.id) reasons.push(`${url} answered as member ${status.memberId}`);
          else if (status.leader === '0') reasons.push(`${url} has no leader`);
          else {
            healthy.add(member.id);
            return;
          }
        } catch (err) {
          reasons.push(messageOf(err));
        }
      }
      problems.set(member.id, reasons.join('; '));
    }),
  );
  return { healthy, problems };
}

/**
 * etcd care: `etcd status` asks every member's agent for its own member's status (in parallel,
 * each bounded); `etcd defrag` defragments one member at a time — never two at once, the leader
 * last (defragmenting blocks a member; a blocked leader stalls every write) — each only after the
 * previous one answered, and stops at the first failure. Without `all`, only members whose
 * in-use size is under half of a database over 100 MB are defragmented (etcd's own guidance: it
 * reclaims nothing otherwise), or the one `host` asked for. {@link autoDefrag} is the scheduled
 * form of that rule (policy `autoDefrag`, default on, daily at 04:00).
 */
import { BallastError, messageOf } from '../../../shared/src/errors.js';
import type { DefragResult, EtcdClusterStatus } from '../../../shared/src/etcd-api.js';
import type { EtcdMemberStatus } from '../../../shared/src/protocol/etcd.js';
import type { EventKind } from '../../../shared/src/events.js';
import type { HostDirectory } from '../fleet/directory.js';
import type { SnapshotMetrics } from './metrics.js';
import type { SnapshotService } from './service.js';

const STATUS_TIMEOUT_MS = 5_000;
const DEFRAG_TIMEOUT_MS = 15 * 60_000;
/** The automatic rule's thresholds. */
export const DEFRAG_MIN_DB_BYTES = 100 * 1024 * 1024;
export const DEFRAG_MAX_IN_USE_RATIO = 0.5;

type Hosts = Pick<HostDirectory, 'get' | 'session'>;

async function ask(hosts: Hosts, host: string, action: 'status' | 'defrag', timeoutMs: number): Promise<EtcdMemberStatus> {
  const view = hosts.get(host);
  const session = view === null ? null : hosts.session(view.id);
  if (session === null) throw new BallastError('BALLAST_ERR_HOST_NOT_CONNECTED', `failed to reach ${host}: its agent is not connected`);
  return session.request((id) => ({ type: 'req.etcd', id, timeoutMs, action }));
}

/** Every member's status; the leader as the answering members agree on it. */
export async function clusterStatus(service: SnapshotService, hosts: Hosts, cluster: string): Promise<EtcdClusterStatus> {
  const names = service.etcdHosts(cluster);
  const members = await Promise.all(
    names.map(async (host) => {
      try {
        return { host, status: await ask(hosts, host, 'status', STATUS_TIMEOUT_MS), error: null };
      } catch (err) {
        return { host, status: null, error: messageOf(err) };
      }
    }),
  );
  const leaders = new Set(members.flatMap((m) => (m.status === null || m.status.leader === '0' ? [] : [m.status.leader])));
  const leaderId = leaders.size === 1 ? [...leaders][0] : undefined;
  const leader = members.find((m) => m.status !== null && m.status.memberId === leaderId);
  return { cluster, leader: leader?.status?.member ?? null, members };
}

/** True when the automatic rule says defragmenting `s` is worth it. */
export function needsDefrag(s: EtcdMemberStatus): boolean {
  return s.dbSize > DEFRAG_MIN_DB_BYTES && s.dbSizeInUse < s.dbSize * DEFRAG_MAX_IN_USE_RATIO;
}

/** See the file comment. */
export async function defragCluster(service: SnapshotService, hosts: Hosts, opts: { cluster: string; all: boolean; host?: string }): Promise<DefragResult> {
  return service.exclusive(opts.cluster, 'defragment etcd', async () => {
    const status = await clusterStatus(service, hosts, opts.cluster);
    const down = status.members.filter((m) => m.status === null);
    if (down.length > 0) {
      throw new BallastError('BALLAST_ERR_ETCD_UNAVAILABLE', `failed to defragment etcd of cluster ${opts.cluster}: ${down.map((m) => `${m.host} (${m.error})`).join(', ')} did not answer; defragment only with every member up`);
    }
    let chosen = status.members;
    if (opts.host !== undefined) {
      chosen = chosen.filter((m) => m.host === opts.host);
      if (chosen.length === 0) throw new BallastError('BALLAST_ERR_NOT_FOUND', `failed to defragment: ${opts.host} is not an etcd member of cluster ${opts.cluster}`);
    } else if (!opts.all) {
      chosen = chosen.filter((m) => m.status !== null && needsDefrag(m.status));
    }
    // Followers first, the leader last.
    const ordered = [...chosen.filter((m) => m.host !== status.leader && m.status?.member !== status.leader), ...chosen.filter((m) => m.host === status.leader || m.status?.member === status.leader)];
    const result: DefragResult = { cluster: opts.cluster, members: [] };
    for (const m of ordered) {
      const t0 = performance.now();
      const after = await ask(hosts, m.host, 'defrag', DEFRAG_TIMEOUT_MS);
      result.members.push({ host: m.host, before: m.status?.dbSize ?? 0, after: after.dbSize, durationMs: Math.round(performance.now() - t0) });
    }
    return result;
  });
}

/** What {@link autoDefrag} reports to. */
export interface AutoDefragDeps {
  service: SnapshotService;
  hosts: Hosts;
  metrics: Pick<SnapshotMetrics, 'autoDefrags' | 'defragReclaimed'>;
  events: { append(e: { host: string | null; kind: EventKind; message: string; data?: Record<string, unknown> }): unknown };
}

/**
 * The scheduled, automatic defragmentation (policy `autoDefrag`): {@link defragCluster} without
 * `all`, so only members the rule picks, one at a time, the leader last, and only with every
 * member answering. A run that changed something is an `etcd.defrag` event; a failure an
 * `etcd.defrag-failed` event (and the error, for the scheduler's log); a run with nothing to do
 * only counts in the metric.
 */
export async function autoDefrag(deps: AutoDefragDeps, cluster: string): Promise<DefragResult> {
  let result: DefragResult;
  try {
    result = await defragCluster(deps.service, deps.hosts, { cluster, all: false });
  } catch (err) {
    deps.metrics.autoDefrags.inc({ cluster, outcome: 'failed' });
    deps.events.append({ host: null, kind: 'etcd.defrag-failed', message: `automatic etcd defragmentation of cluster ${cluster} failed: ${messageOf(err)}`, data: { cluster, automatic: true } });
    throw err;
  }
  if (result.members.length === 0) {
    deps.metrics.autoDefrags.inc({ cluster, outcome: 'not-needed' });
    return result;
  }
  const reclaimed = result.members.reduce((n, m) => n + Math.max(0, m.before - m.after), 0);
  deps.metrics.autoDefrags.inc({ cluster, outcome: 'defragmented' });
  deps.metrics.defragReclaimed.set({ cluster }, reclaimed);
  const mb = (b: number) => `${(b / 1024 / 1024).toFixed(0)} MB`;
  deps.events.append({
    host: null,
    kind: 'etcd.defrag',
    message: `automatic etcd defragmentation of cluster ${cluster}: ${result.members.map((m) => `${m.host} ${mb(m.before)} → ${mb(m.after)}`).join(', ')} (${mb(reclaimed)} reclaimed)`,
    data: { cluster, automatic: true, members: result.members.map((m) => m.host), reclaimed },
  });
  return result;
}

/**
 * Fencing by deadline: a host with no fence agent whose agent self-fences (agent/src/self-fence.ts,
 * advertised in its facts as `selfFence`) counts as fenced once its self-fence deadline has
 * certainly passed. The rule, on the controller's clock:
 *
 *   fenced at  start + deadlineMs + margin, where
 *   start   = max(OLD's last heartbeat, when this wait began, when OLD's etcd member last answered)
 *   margin  = actionBoundMs (the fence actions' own bound, from the facts)
 *           + intervalMs (the agent checks that often) + QUORUM_PROBE_MS (its probe's deadline)
 *           + heartbeatIntervalMs (the agent's last contact may follow the last heartbeat by one
 *             interval: the controller still sent to it) + probeIntervalMs (OLD may have regained
 *             quorum between two of our probes) + 1 % of the deadline + 2 s (clock rate, latency).
 *
 * Why it is safe: the agent fences at the latest `deadlineMs` after both its last message from the
 * controller and its last proven etcd quorum, measured on its own monotonic clock, plus its check
 * period and the time the actions take. Its last message from the controller is no later than our
 * last heartbeat from it plus one interval. Its last quorum is no later than the last time its
 * member answered the quorum side — which this wait observes every probeIntervalMs, and from its
 * own start only: what happened before this wait (a controller restart) is unknown, so the count
 * restarts with each wait. That costs a full deadline after a restart and is never early. While
 * OLD's member answers, OLD has quorum and does not fence itself: the wait goes on saying so.
 */
import { BallastError } from '../../../shared/src/errors.js';
import type { ClusterSpec } from '../cluster/spec.js';
import { liveMembers } from './etcd-view.js';
import type { MembershipDeps, SelfFenceFacts } from './types.js';
import { abortableSleep } from '../../../shared/src/abortable-sleep.js';

/** The agent's etcd quorum probe deadline (agent/src/etcd/quorum-probe.ts). */
export const QUORUM_PROBE_MS = 3000;

/** Inputs of {@link selfFenceDueAt}. */
export interface SelfFenceClock {
  selfFence: SelfFenceFacts;
  lastHeartbeatAt: number | null;
  waitStartedAt: number;
  lastMemberHealthyAt: number | null;
  heartbeatIntervalMs: number;
  probeIntervalMs: number;
}

/** When OLD has certainly fenced itself (controller wall clock ms); see the file comment. */
export function selfFenceDueAt(c: SelfFenceClock): number {
  const start = Math.max(c.lastHeartbeatAt ?? 0, c.waitStartedAt, c.lastMemberHealthyAt ?? 0);
  const f = c.selfFence;
  const margin = f.actionBoundMs + f.intervalMs + QUORUM_PROBE_MS + c.heartbeatIntervalMs + c.probeIntervalMs + Math.ceil(f.deadlineMs / 100) + 2000;
  return start + f.deadlineMs + margin;
}

/** What {@link waitForSelfFence} reads and how it waits. */
export interface SelfFenceWaitPorts {
  host: string;
  now(): number;
  /** Re-read at every probe: a host that comes back moves its heartbeat and the count restarts. */
  lastHeartbeatAt(): number | null;
  selfFence: SelfFenceFacts;
  /** Whether OLD's etcd member answers the quorum side now; a rejection counts as answering (unknown). */
  memberHealthy(): Promise<boolean>;
  heartbeatIntervalMs: number;
  probeIntervalMs: number;
  sleep(ms: number, signal: AbortSignal): Promise<void>;
  signal: AbortSignal;
  progress?: (message: string) => void;
}

/** Resolves with the outcome message once OLD has certainly self-fenced; rejects only when aborted. */
export async function waitForSelfFence(p: SelfFenceWaitPorts): Promise<string> {
  const waitStartedAt = p.now();
  let lastMemberHealthyAt: number | null = null;
  for (;;) {
    if (p.signal.aborted) throw new BallastError('BALLAST_ERR_CANCELLED', `failed to fence ${p.host}: cancelled while waiting for its self-fence deadline`);
    let healthy = true;
    try {
      healthy = await p.memberHealthy();
    } catch {
      healthy = true; // cannot tell: assume it still has quorum (never early)
    }
    const now = p.now();
    if (healthy) lastMemberHealthyAt = now;
    const due = selfFenceDueAt({ selfFence: p.selfFence, lastHeartbeatAt: p.lastHeartbeatAt(), waitStartedAt, lastMemberHealthyAt, heartbeatIntervalMs: p.heartbeatIntervalMs, probeIntervalMs: p.probeIntervalMs });
    if (now >= due) {
      const hb = p.lastHeartbeatAt();
      return `${p.host} counts as fenced (no fence agent; it fences itself): no heartbeat since ${hb === null ? 'ever' : new Date(hb).toISOString()} and its etcd member silent for its self-fence deadline (${Math.round(p.selfFence.deadlineMs / 1000)} s) plus the margin`;
    }
    const left = Math.ceil((due - now) / 1000);
    p.progress?.(
      healthy
        ? `${p.host} has no fence agent; its etcd member still answers (it has quorum, so it does not fence itself): waiting, ${left} s at the earliest`
        : `${p.host} has no fence agent: waiting for its self-fence deadline to have certainly passed, ${left} s left`,
    );
    await p.sleep(Math.min(p.probeIntervalMs, Math.max(100, due - now)), p.signal);
  }
}

/** OLD's self-fence parameters when the deadline path applies: no fence agent, no operator confirmation, an agent that fences itself. */
export function selfFenceApplies(deps: Pick<MembershipDeps, 'fence' | 'hosts'>, host: string, confirmed: boolean): SelfFenceFacts | null {
  if (confirmed || deps.fence.describe(host) !== null) return null;
  return deps.hosts.find(host)?.selfFence ?? null;
}

/** The fence step's deadline path, with the production probe: OLD's member as the live etcd view sees it. */
export function waitForOldSelfFence(deps: MembershipDeps, host: string, selfFence: SelfFenceFacts, ctx: { signal: AbortSignal; progress?: (m: string) => void; spec: ClusterSpec }): Promise<string> {
  const w = deps.selfFenceWait ?? { heartbeatIntervalMs: 1000 };
  return waitForSelfFence({
    host,
    now: w.now ?? Date.now,
    lastHeartbeatAt: () => deps.hosts.find(host)?.lastHeartbeatAt ?? null,
    selfFence,
    memberHealthy: async () => (await liveMembers(deps.bootstrap, ctx.spec, ctx.signal)).some((m) => m.name === host && m.healthy),
    heartbeatIntervalMs: w.heartbeatIntervalMs,
    probeIntervalMs: w.probeIntervalMs ?? 5000,
    sleep: w.sleep ?? abortableSleep,
    signal: ctx.signal,
    progress: ctx.progress,
  });
}

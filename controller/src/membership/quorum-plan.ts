/**
 * The quorum guard over a whole membership plan (issue 12, step 2): before anything changes, the
 * plan's etcd events are replayed against the current voters, and the plan is refused unless a
 * majority of the voters is healthy at every point — before each change (etcd must be able to
 * commit it) and after it. Pure: no I/O, so every case is unit-tested (quorum-plan.test.ts).
 *
 * The rules are Cluster API's (KubeadmControlPlane remediation), applied step by step instead of
 * once:
 * - a member already unhealthy stays unhealthy for the whole plan (nothing in the plan heals it);
 * - a new member counts as unhealthy from the moment it is promoted until the plan's `healthy`
 *   event (after the verification gate): a fresh voter that never caught up is a failed voter;
 * - stopping OLD's etcd (reset of a reachable host) makes it unhealthy while it is still a voter.
 * With quorum(n) = floor(n/2) + 1, the condition is healthy(n) ≥ quorum(n) for the voter count n
 * at that point. Even counts need no special case — a 4-voter cluster needs 3 healthy, so it
 * tolerates one failure, like 3 voters; kubespray's check (`members > 2` / `(n-1)/2`) gets exactly
 * this wrong for 2 and 4 voters.
 */

/** One current etcd voter. Learners are refused by the cluster preflight before this runs. */
export interface PlanVoter {
  name: string;
  healthy: boolean;
}

/** What the plan does to etcd, in order. */
export type PlanEvent =
  | { kind: 'stop'; member: string }
  | { kind: 'remove'; member: string }
  | { kind: 'add-learner'; member: string }
  | { kind: 'promote'; member: string }
  | { kind: 'healthy'; member: string };

/** One point of the replay: after `event` (or the start when null). */
export interface QuorumPoint {
  event: PlanEvent | null;
  voters: number;
  healthy: number;
  need: number;
}

/** The verdict, with the numbers of every point, and a one-line reason for refusals and logs. */
export type QuorumPlanVerdict = { allowed: true; points: QuorumPoint[]; reason: string } | { allowed: false; points: QuorumPoint[]; reason: string };

/** Votes needed for `voters` voting members. */
export function majority(voters: number): number {
  return Math.floor(voters / 2) + 1;
}

const describeEvent = (e: PlanEvent | null): string => {
  if (e === null) return 'now';
  const verb = { stop: 'stopping etcd on', remove: 'removing', 'add-learner': 'adding learner', promote: 'promoting', healthy: 'verifying' }[e.kind];
  return `after ${verb} ${e.member}`;
};

const pointText = (p: QuorumPoint) => `${describeEvent(p.event)}: ${p.voters} voters, ${p.healthy} healthy, ${p.need} needed`;

/** Replays `events` over `voters`; see the file comment. */
export function judgeMembershipPlan(input: { voters: readonly PlanVoter[]; events: readonly PlanEvent[] }): QuorumPlanVerdict {
  const voters = new Map(input.voters.map((v) => [v.name, v.healthy]));
  const learners = new Set<string>();
  const points: QuorumPoint[] = [];
  const measure = (event: PlanEvent | null): QuorumPoint => {
    const n = voters.size;
    const healthy = [...voters.values()].filter(Boolean).length;
    const point = { event, voters: n, healthy, need: majority(n) };
    points.push(point);
    return point;
  };
  const refuse = (why: string): QuorumPlanVerdict => ({ allowed: false, points, reason: why });

  const start = measure(null);
  if (start.voters === 0) return refuse('etcd has no voters');
  if (start.healthy < start.need) return refuse(`etcd has no quorum now: ${pointText(start)}; no membership change can be committed`);
  for (const event of input.events) {
    switch (event.kind) {
      case 'stop':
        if (!voters.has(event.member)) return refuse(`${event.member} is not a voter`);
        voters.set(event.member, false);
        break;
      case 'remove':
        if (learners.delete(event.member)) continue;
        if (!voters.has(event.member)) return refuse(`${event.member} is not a member`);
        if (voters.size === 1) return refuse(`${event.member} is the only voter; removing it would destroy the cluster`);
        voters.delete(event.member);
        break;
      case 'add-learner':
        if (voters.has(event.member) || learners.has(event.member)) return refuse(`${event.member} is already a member`);
        learners.add(event.member);
        continue; // a learner does not vote: the counts do not move
      case 'promote':
        if (!learners.delete(event.member)) return refuse(`${event.member} is not a learner`);
        voters.set(event.member, false); // unhealthy until verified (CAPI's rule)
        break;
      case 'healthy':
        if (!voters.has(event.member)) return refuse(`${event.member} is not a voter`);
        voters.set(event.member, true);
        break;
    }
    const p = measure(event);
    if (p.healthy < p.need) return refuse(`quorum would be lost ${pointText(p)}`);
  }
  const worst = points.reduce((a, b) => (b.healthy - b.need < a.healthy - a.need ? b : a));
  return { allowed: true, points, reason: `a majority stays healthy at every step (tightest ${pointText(worst)})` };
}

/**
 * The etcd events of a plan that takes `old` out (if any) and brings `add` in (if any). `oldOnline`:
 * OLD's etcd is stopped (reset) before its removal; an offline OLD is simply removed. OLD goes
 * first: adding before removing would make a dead member plus an unverified new voter count
 * against a larger quorum (4 voters need 3 healthy: refused whenever one is down).
 */
export function membershipEvents(opts: { old?: { name: string; online: boolean }; add?: string }): PlanEvent[] {
  const events: PlanEvent[] = [];
  if (opts.old !== undefined) {
    if (opts.old.online) events.push({ kind: 'stop', member: opts.old.name });
    events.push({ kind: 'remove', member: opts.old.name });
  }
  if (opts.add !== undefined) {
    events.push({ kind: 'add-learner', member: opts.add }, { kind: 'promote', member: opts.add }, { kind: 'healthy', member: opts.add });
  }
  return events;
}

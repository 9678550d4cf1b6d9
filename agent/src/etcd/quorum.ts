/**
 * The quorum guard: a pure decision on whether one membership change is safe, given the members
 * and which of them answered a status request in time. No I/O, so every rule is unit-tested.
 *
 * etcd itself refuses some unsafe changes (strict reconfig check), but only against members it
 * believes "started", not ones that are up *now*; and a refusal after the fact explains nothing.
 * The guard refuses earlier, with the numbers an operator needs.
 *
 * Rules, with quorum(n) = floor(n/2) + 1:
 * - add a learner: the cluster must be able to take changes (healthy voters ≥ quorum(voters)),
 *   and there must be no other *unstarted* member (added, never started: empty name). Such a
 *   member is almost always a stale add from a failed run; while it exists etcd refuses a second
 *   learner, and if it were a voter it would count against quorum. The operation removes it first.
 * - promote X: voters become n+1, so healthy voters — counting X only if it answers — must reach
 *   quorum(n+1).
 * - remove a voter X: the others must still make quorum of the smaller cluster: healthy voters
 *   other than X ≥ quorum(n-1). Removing a learner or an unstarted member never costs quorum.
 */
import { memberIdHex } from './client.js';

/** What the guard knows about one member (the shape of {@link EtcdMember}). */
export interface GuardMember {
  id: string;
  /** '' until the member first starts. */
  name: string;
  peerUrls: readonly string[];
  clientUrls: readonly string[];
  isLearner: boolean;
}

/** The change to judge. Members are named by id; the new learner by its peer URLs. */
export type MembershipChange = { kind: 'add-learner'; peerUrls: readonly string[] } | { kind: 'promote'; id: string } | { kind: 'remove'; id: string };

/** Input of {@link judgeMembershipChange}. */
export interface GuardInput {
  members: readonly GuardMember[];
  /** Ids of the members that answered a status request within the deadline (and follow a leader). */
  healthy: ReadonlySet<string>;
  change: MembershipChange;
}

/** The verdict; `reason` is one line with the numbers, for messages and logs. */
export type GuardVerdict = { allowed: true; reason: string } | { allowed: false; reason: string };

/** Votes needed for a cluster of `voters` voting members. */
export function quorum(voters: number): number {
  return Math.floor(voters / 2) + 1;
}

/** A member as people recognise it: its name, or "unstarted member <hex id> (<peer url>)". */
export function memberLabel(m: GuardMember): string {
  return m.name !== '' ? m.name : `unstarted member ${memberIdHex(m.id)} (${m.peerUrls.join(',') || 'no peer URL'})`;
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

/** Judges one change (see the file comment for the rules). */
export function judgeMembershipChange(input: GuardInput): GuardVerdict {
  const { members, healthy, change } = input;
  const voters = members.filter((m) => !m.isLearner);
  const healthyVoters = voters.filter((m) => healthy.has(m.id));
  const n = voters.length;
  const h = healthyVoters.length;

  if (change.kind === 'add-learner') {
    const wanted = new Set(change.peerUrls);
    const stale = members.find((m) => m.name === '' && !m.peerUrls.some((u) => wanted.has(u)));
    if (stale !== undefined) {
      return {
        allowed: false,
        reason: `${memberLabel(stale)} was added but never started (a stale add from a failed run?); remove it before adding another member`,
      };
    }
    if (h < quorum(n)) {
      return { allowed: false, reason: `${plural(n, 'voter')}, ${h} healthy; the cluster needs ${quorum(n)} healthy voters to take a membership change` };
    }
    return { allowed: true, reason: `${plural(n, 'voter')}, ${h} healthy; a learner does not vote` };
  }

  const target = members.find((m) => m.id === change.id);
  if (target === undefined) return { allowed: false, reason: `member ${memberIdHex(change.id)} is not in the cluster` };
  const label = memberLabel(target);

  if (change.kind === 'promote') {
    if (!target.isLearner) return { allowed: true, reason: `${label} is already a voter` };
    const learnerUp = healthy.has(target.id);
    const after = h + (learnerUp ? 1 : 0);
    const need = quorum(n + 1);
    const numbers = `${plural(n, 'voter')}, ${h} healthy, learner ${label} ${learnerUp ? 'healthy' : 'not answering'}; promoting it makes ${n + 1} voters needing ${need} healthy`;
    return after >= need ? { allowed: true, reason: numbers } : { allowed: false, reason: numbers };
  }

  // remove
  if (target.isLearner) return { allowed: true, reason: `${label} is a learner; removing it does not change quorum` };
  if (target.name === '') return { allowed: true, reason: `${label} never started; removing it can only help quorum` };
  if (n === 1) return { allowed: false, reason: `${label} is the only voter; removing it would destroy the cluster` };
  const others = healthyVoters.filter((m) => m.id !== target.id).length;
  const need = quorum(n - 1);
  const numbers = `${plural(n, 'voter')}, ${others} healthy besides ${label}; removing ${label} leaves ${n - 1} voters needing ${need} healthy`;
  return others >= need ? { allowed: true, reason: numbers } : { allowed: false, reason: numbers };
}

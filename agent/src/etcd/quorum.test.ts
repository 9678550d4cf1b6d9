import { describe, expect, it } from 'vitest';
import { type GuardMember, judgeMembershipChange, type MembershipChange, memberLabel, quorum } from './quorum.js';

/** Member hN: id "N", peer https://10.0.0.N:2380. `learner`/`unstarted` as named. */
function member(n: number, kind: 'voter' | 'learner' | 'unstarted-learner' | 'unstarted-voter' = 'voter'): GuardMember {
  const started = !kind.startsWith('unstarted');
  return {
    id: String(n),
    name: started ? `h${n}` : '',
    peerUrls: [`https://10.0.0.${n}:2380`],
    clientUrls: started ? [`https://10.0.0.${n}:2379`] : [],
    isLearner: kind.includes('learner'),
  };
}
const voters = (count: number) => Array.from({ length: count }, (_, i) => member(i + 1));
const ids = (...n: number[]) => new Set(n.map(String));
const addH9: MembershipChange = { kind: 'add-learner', peerUrls: ['https://10.0.0.9:2380'] };

describe('quorum', () => {
  it.each([
    [0, 1],
    [1, 1],
    [2, 2],
    [3, 2],
    [4, 3],
    [5, 3],
    [6, 4],
    [7, 4],
  ])('quorum(%i) = %i', (n, q) => expect(quorum(n)).toBe(q));
});

describe('quorum guard: add a learner', () => {
  it.each([
    // members, healthy, allowed
    ['1 voter, healthy', voters(1), ids(1), true],
    ['1 voter, down', voters(1), ids(), false],
    ['2 voters, both healthy', voters(2), ids(1, 2), true],
    ['2 voters, 1 healthy', voters(2), ids(1), false],
    ['3 voters, 2 healthy', voters(3), ids(1, 2), true],
    ['3 voters, 1 healthy', voters(3), ids(3), false],
    ['5 voters, 3 healthy', voters(5), ids(1, 3, 5), true],
    ['5 voters, 2 healthy', voters(5), ids(1, 2), false],
    ['3 voters + started learner (etcd decides about a 2nd learner)', [...voters(3), member(4, 'learner')], ids(1, 2, 3, 4), true],
    ['learners do not count as healthy voters', [...voters(3), member(4, 'learner')], ids(1, 4), false],
  ] as const)('%s → allowed=%s', (_name, members, healthy, allowed) => {
    expect(judgeMembershipChange({ members, healthy, change: addH9 }).allowed).toBe(allowed);
  });

  it('explains an unhealthy cluster with the numbers', () => {
    expect(judgeMembershipChange({ members: voters(3), healthy: ids(2), change: addH9 })).toEqual({
      allowed: false,
      reason: '3 voters, 1 healthy; the cluster needs 2 healthy voters to take a membership change',
    });
  });

  it.each([
    ['an unstarted learner', 'unstarted-learner'],
    ['an unstarted voter', 'unstarted-voter'],
  ] as const)('refuses while %s from an earlier run exists, naming it', (_name, kind) => {
    const stale = member(7, kind);
    const verdict = judgeMembershipChange({ members: [...voters(3), stale], healthy: ids(1, 2, 3), change: addH9 });
    expect(verdict.allowed).toBe(false);
    expect(verdict.reason).toBe('unstarted member 7 (https://10.0.0.7:2380) was added but never started (a stale add from a failed run?); remove it before adding another member');
  });

  it('does not count the member being added as stale (the module reports it unchanged before asking)', () => {
    const pending = { ...member(9, 'unstarted-learner') };
    expect(judgeMembershipChange({ members: [...voters(1), pending], healthy: ids(1), change: addH9 }).allowed).toBe(true);
  });
});

describe('quorum guard: promote a learner', () => {
  const promote8: MembershipChange = { kind: 'promote', id: '8' };
  it.each([
    // voters, learner healthy?, healthy voters, allowed — needs quorum(n+1)
    [1, true, [1], true], // 2 voters need 2: both up
    [1, false, [1], false], // the learner must answer
    [2, false, [1, 2], true], // 3 need 2: the voters suffice
    [2, true, [1], true],
    [2, false, [1], false],
    [3, true, [1, 2], true], // 4 need 3
    [3, false, [1, 2], false],
    [3, false, [1, 2, 3], true],
    [5, true, [1, 2], false], // 6 need 4
    [5, true, [1, 2, 3], true],
    [5, false, [1, 2, 3], false],
  ] as const)('%i voters, learner healthy=%s, healthy voters %j → allowed=%s', (n, learnerUp, up, allowed) => {
    const members = [...voters(n), member(8, 'learner')];
    const healthy = ids(...up, ...(learnerUp ? [8] : []));
    expect(judgeMembershipChange({ members, healthy, change: promote8 }).allowed).toBe(allowed);
  });

  it('explains a refusal with the numbers', () => {
    const members = [...voters(1), member(8, 'learner')];
    expect(judgeMembershipChange({ members, healthy: ids(1), change: promote8 })).toEqual({
      allowed: false,
      reason: '1 voter, 1 healthy, learner h8 not answering; promoting it makes 2 voters needing 2 healthy',
    });
  });

  it('allows a voter (nothing to do) and refuses an unknown member', () => {
    expect(judgeMembershipChange({ members: voters(2), healthy: ids(), change: { kind: 'promote', id: '2' } }).allowed).toBe(true);
    expect(judgeMembershipChange({ members: voters(2), healthy: ids(1, 2), change: { kind: 'promote', id: '99' } })).toEqual({
      allowed: false,
      reason: 'member 63 is not in the cluster',
    });
  });
});

describe('quorum guard: remove a member', () => {
  it.each([
    // voters, healthy, remove, allowed — healthy others need quorum(n-1)
    [1, [1], 1, false], // the last voter
    [2, [1, 2], 2, true], // 1 left needs 1
    [2, [1], 2, true], // removing the dead one of two
    [2, [2], 2, false], // the only healthy one
    [3, [1, 2, 3], 2, true], // 2 left need 2
    [3, [1, 2], 3, true], // removing the dead one
    [3, [1, 2], 2, false], // leaves h1 alone of 2
    [3, [1], 3, false],
    [5, [1, 2, 3, 4, 5], 1, true], // 4 left need 3
    [5, [1, 2, 3], 4, true],
    [5, [1, 2, 3], 3, false],
    [5, [1, 2], 5, false],
  ] as const)('%i voters, healthy %j, remove h%i → allowed=%s', (n, up, target, allowed) => {
    expect(judgeMembershipChange({ members: voters(n), healthy: ids(...up), change: { kind: 'remove', id: String(target) } }).allowed).toBe(allowed);
  });

  it('explains a refusal with the numbers', () => {
    expect(judgeMembershipChange({ members: voters(3), healthy: ids(1, 2), change: { kind: 'remove', id: '2' } })).toEqual({
      allowed: false,
      reason: '3 voters, 1 healthy besides h2; removing h2 leaves 2 voters needing 2 healthy',
    });
    expect(judgeMembershipChange({ members: voters(1), healthy: ids(1), change: { kind: 'remove', id: '1' } }).reason).toBe(
      'h1 is the only voter; removing it would destroy the cluster',
    );
  });

  it.each([
    ['a started learner', member(4, 'learner')],
    ['an unstarted learner', member(4, 'unstarted-learner')],
    ['an unstarted voter', member(4, 'unstarted-voter')],
  ] as const)('always allows removing %s, even from an unhealthy cluster', (_name, extra) => {
    expect(judgeMembershipChange({ members: [...voters(3), extra], healthy: ids(1), change: { kind: 'remove', id: '4' } }).allowed).toBe(true);
  });
});

describe('memberLabel', () => {
  it('names started members by name and unstarted ones by hex id and peer URL', () => {
    expect(memberLabel(member(2))).toBe('h2');
    expect(memberLabel({ ...member(2, 'unstarted-learner'), id: '10276657743932975437' })).toBe('unstarted member 8e9e05c52164694d (https://10.0.0.2:2380)');
  });
});

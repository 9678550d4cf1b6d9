import { describe, expect, it } from 'vitest';
import { judgeMembershipPlan, majority, membershipEvents, type PlanVoter } from './quorum-plan.js';

const voters = (n: number, down: readonly number[] = []): PlanVoter[] => Array.from({ length: n }, (_, i) => ({ name: `e${i + 1}`, healthy: !down.includes(i + 1) }));

describe('judgeMembershipPlan: hand-checked cases with their numbers', () => {
  it('replaces a healthy, reachable member of 3: 3 of 3, (stop) 2 of 3, 2 of 2, (promote) 2 of 3, 3 of 3', () => {
    const v = judgeMembershipPlan({ voters: voters(3), events: membershipEvents({ old: { name: 'e1', online: true }, add: 'n1' }) });
    expect(v.allowed).toBe(true);
    expect(v.points.map((p) => `${p.voters}/${p.healthy}/${p.need}`)).toEqual(['3/3/2', '3/2/2', '2/2/2', '3/2/2', '3/3/2']);
  });
  it('replaces the dead member of 3 (offline OLD): remove first, the new voter counted unhealthy until verified', () => {
    const v = judgeMembershipPlan({ voters: voters(3, [1]), events: membershipEvents({ old: { name: 'e1', online: false }, add: 'n1' }) });
    expect(v.allowed).toBe(true);
    expect(v.reason).toMatch(/tightest .*2 voters, 2 healthy, 2 needed|tightest .*3 voters, 2 healthy, 2 needed/);
  });
  it('refuses replacing a second member of 3 while one is down, with the numbers', () => {
    const v = judgeMembershipPlan({ voters: voters(3, [3]), events: membershipEvents({ old: { name: 'e2', online: true }, add: 'n1' }) });
    expect(v).toMatchObject({ allowed: false });
    expect(v.reason).toBe('quorum would be lost after stopping etcd on e2: 3 voters, 1 healthy, 2 needed');
  });
  it('even counts: 4 voters with one down can replace the dead one but not a live one (kubespray allows the second)', () => {
    const dead = judgeMembershipPlan({ voters: voters(4, [4]), events: membershipEvents({ old: { name: 'e4', online: false }, add: 'n1' }) });
    expect(dead.allowed).toBe(true);
    const live = judgeMembershipPlan({ voters: voters(4, [4]), events: membershipEvents({ old: { name: 'e1', online: true }, add: 'n1' }) });
    expect(live.reason).toBe('quorum would be lost after stopping etcd on e1: 4 voters, 2 healthy, 3 needed');
    // Removing a live member of 4 with one down (kubespray's `(n-1)/2 >= down` says yes):
    const remove = judgeMembershipPlan({ voters: voters(4, [4]), events: membershipEvents({ old: { name: 'e1', online: false } }) });
    expect(remove.allowed).toBe(true); // 3 voters, 2 healthy: still a majority …
    const addAfter = judgeMembershipPlan({ voters: voters(4, [4]), events: membershipEvents({ old: { name: 'e1', online: false }, add: 'n1' }) });
    expect(addAfter.reason).toBe('quorum would be lost after promoting n1: 4 voters, 2 healthy, 3 needed'); // … but not once the new voter counts
  });
  it('even counts: 2 voters cannot lose or replace either one; adding a third to 2 healthy is fine', () => {
    expect(judgeMembershipPlan({ voters: voters(2), events: membershipEvents({ old: { name: 'e1', online: true }, add: 'n1' }) }).reason).toBe(
      'quorum would be lost after stopping etcd on e1: 2 voters, 1 healthy, 2 needed',
    );
    expect(judgeMembershipPlan({ voters: voters(2, [2]), events: [] }).reason).toMatch(/^etcd has no quorum now: now: 2 voters, 1 healthy, 2 needed/);
    expect(judgeMembershipPlan({ voters: voters(2), events: membershipEvents({ add: 'n1' }) }).allowed).toBe(true);
  });
  it('1 voter: adding counts the new voter unhealthy (2 voters need 2) so is refused; removing the only voter is refused', () => {
    expect(judgeMembershipPlan({ voters: voters(1), events: membershipEvents({ add: 'n1' }) }).reason).toBe('quorum would be lost after promoting n1: 2 voters, 1 healthy, 2 needed');
    expect(judgeMembershipPlan({ voters: voters(1), events: membershipEvents({ old: { name: 'e1', online: false } }) }).reason).toMatch(/only voter/);
  });
  it('refuses a plan about members that are not there, and an empty cluster', () => {
    expect(judgeMembershipPlan({ voters: voters(3), events: [{ kind: 'remove', member: 'x' }] }).reason).toBe('x is not a member');
    expect(judgeMembershipPlan({ voters: voters(3), events: [{ kind: 'promote', member: 'x' }] }).reason).toBe('x is not a learner');
    expect(judgeMembershipPlan({ voters: voters(3), events: [{ kind: 'add-learner', member: 'e1' }] }).reason).toBe('e1 is already a member');
    expect(judgeMembershipPlan({ voters: [], events: [] }).reason).toBe('etcd has no voters');
  });
  it('a worker-only plan (no etcd events) only needs quorum now', () => {
    expect(judgeMembershipPlan({ voters: voters(3, [1]), events: [] }).allowed).toBe(true);
    expect(judgeMembershipPlan({ voters: voters(3, [1, 2]), events: [] }).allowed).toBe(false);
  });
});

/**
 * Every cluster of 1-9 voters, every number of other members down, OLD healthy or not, online or
 * not, replace or plain remove: the verdict equals the closed-form conditions written out by hand
 * below (an independent derivation, not the replay).
 */
describe('judgeMembershipPlan: exhaustive against the closed form', () => {
  const cases: { n: number; u: number; oldHealthy: boolean; online: boolean; add: boolean }[] = [];
  for (let n = 1; n <= 9; n++)
    for (let u = 0; u < n; u++)
      for (const oldHealthy of [true, false])
        for (const online of [true, false]) for (const add of [true, false]) cases.push({ n, u, oldHealthy, online, add });

  it(`agrees on all ${cases.length} cases`, () => {
    let allowedCount = 0;
    for (const c of cases) {
      const down = Array.from({ length: c.u }, (_, i) => i + 2); // e2.. are the other members down
      if (!c.oldHealthy) down.push(1);
      const v = judgeMembershipPlan({ voters: voters(c.n, down), events: membershipEvents({ old: { name: 'e1', online: c.online }, ...(c.add ? { add: 'n1' } : {}) }) });
      const oldUp = c.oldHealthy ? 1 : 0;
      const conditions = [
        c.n - c.u - (1 - oldUp) >= majority(c.n), // now
        !c.online || c.n - c.u - 1 >= majority(c.n), // OLD's etcd stopped, still a voter
        c.n > 1, // never remove the only voter
        c.n === 1 || c.n - 1 - c.u >= majority(c.n - 1), // OLD removed
        !c.add || c.n - 1 - c.u >= majority(c.n), // NEW promoted, not yet healthy
      ];
      const expected = conditions.every(Boolean);
      if (v.allowed !== expected) throw new Error(`n=${c.n} u=${c.u} oldHealthy=${c.oldHealthy} online=${c.online} add=${c.add}: got ${v.allowed} (${v.reason}), expected ${expected}`);
      if (v.allowed) allowedCount++;
      // Every allowed plan really kept a majority at every point it reports.
      if (v.allowed) for (const p of v.points) expect(p.healthy).toBeGreaterThanOrEqual(p.need);
    }
    expect(allowedCount).toBeGreaterThan(0);
    expect(allowedCount).toBeLessThan(cases.length);
  });

  it('a replace is allowed exactly when the cluster tolerates one more failure than it has (n=3: 0 down; n=5: ≤1 other down)', () => {
    for (const n of [3, 4, 5, 6, 7]) {
      const tolerated = n - majority(n); // failures etcd survives
      for (let u = 0; u < n; u++) {
        const v = judgeMembershipPlan({ voters: voters(n, Array.from({ length: u }, (_, i) => i + 2)), events: membershipEvents({ old: { name: 'e1', online: true }, add: 'n1' }) });
        expect({ n, u, allowed: v.allowed }).toEqual({ n, u, allowed: u + 1 <= tolerated });
      }
    }
  });
});

import { describe, expect, it } from 'vitest';
import { type AutoInput, decideAutoReplace } from './auto-policy.js';

const MIN = 60_000;
const base = (over: Partial<AutoInput> = {}): AutoInput => ({
  policy: { afterMs: 5 * MIN, spares: { kind: 'list', hosts: ['s1', 's2'] }, maxConcurrent: 1, minHealthyPeriodMs: 60 * MIN, maxUnhealthyPercent: 40 },
  hosts: ['h1', 'h2', 'h3', 'w1', 'w2'].map((name) => ({ name, downSince: null })),
  spares: [
    { name: 's1', usable: true },
    { name: 's2', usable: true },
  ],
  running: 0,
  lastReplacementAt: null,
  now: 1_000 * MIN,
  ...over,
});
const down = (names: Record<string, number>, now = 1_000 * MIN) => ['h1', 'h2', 'h3', 'w1', 'w2'].map((name) => ({ name, downSince: name in names ? now - (names[name] ?? 0) : null }));

describe('decideAutoReplace', () => {
  it('does nothing when every host is up', () => {
    expect(decideAutoReplace(base())).toEqual({ kind: 'none', reason: 'every host is up' });
  });
  it('waits until a host has been down for `after`, then replaces it with the first usable spare', () => {
    expect(decideAutoReplace(base({ hosts: down({ h1: 4 * MIN }) }))).toEqual({ kind: 'wait', reason: 'h1 down for 4m; replaced after 5m' });
    expect(decideAutoReplace(base({ hosts: down({ h1: 5 * MIN }), spares: [{ name: 's1', usable: false, why: 'not connected' }, { name: 's2', usable: true }] }))).toEqual({
      kind: 'replace',
      old: 'h1',
      spare: 's2',
      reason: 'h1 down for 5m (≥ 5m): replacing it with s2',
    });
  });
  it('replaces the host down longest first', () => {
    expect(decideAutoReplace(base({ hosts: down({ w1: 6 * MIN, h3: 9 * MIN }) }))).toMatchObject({ kind: 'replace', old: 'h3' });
  });
  it('holds when more than maxUnhealthy of the cluster is down (a partition), whatever else holds', () => {
    expect(decideAutoReplace(base({ hosts: down({ h1: 10 * MIN, h2: 10 * MIN }) }))).toMatchObject({ kind: 'replace' }); // 40% is not more than 40%
    expect(decideAutoReplace(base({ hosts: down({ h1: 10 * MIN, h2: 10 * MIN, h3: 10 * MIN }) }))).toEqual({
      kind: 'hold',
      reason: '3 of 5 hosts down (60% > maxUnhealthy 40%): a partition or a power event, not dead hosts; nothing is replaced automatically',
    });
  });
  it('waits while a membership change runs, and for minHealthyPeriod after the last automatic replacement', () => {
    expect(decideAutoReplace(base({ hosts: down({ h1: 10 * MIN }), running: 1 })).reason).toBe('a membership change is in progress (maxConcurrent 1)');
    const recent = decideAutoReplace(base({ hosts: down({ h1: 10 * MIN }), lastReplacementAt: 1_000 * MIN - 20 * MIN }));
    expect(recent).toEqual({ kind: 'wait', reason: 'the last automatic replacement finished 20m ago; the next may start in 40m (minHealthyPeriod)' });
    expect(decideAutoReplace(base({ hosts: down({ h1: 10 * MIN }), lastReplacementAt: 1_000 * MIN - 60 * MIN })).kind).toBe('replace');
  });
  it('waits, saying why, when no spare is usable', () => {
    const d = decideAutoReplace(base({ hosts: down({ h1: 10 * MIN }), spares: [{ name: 's1', usable: false, why: 'already in a cluster' }] }));
    expect(d).toEqual({ kind: 'wait', reason: 'h1 is due for replacement but no spare is usable (s1: already in a cluster)' });
  });
  it('names the spare pool in its decisions, and says so when the pool is empty', () => {
    const policy = { ...base().policy, spares: { kind: 'pool' as const, selector: { key: 'pool', value: 'spare' }, text: 'pool=spare' } };
    expect(decideAutoReplace(base({ policy, hosts: down({ h1: 10 * MIN }), spares: [] }))).toEqual({
      kind: 'wait',
      reason: 'h1 is due for replacement but the spare pool pool=spare is empty (no enrolled host has the label)',
    });
    expect(decideAutoReplace(base({ policy, hosts: down({ h1: 10 * MIN }), spares: [{ name: 's1', usable: false, why: 'not connected' }] })).reason).toBe(
      'h1 is due for replacement but no spare of the pool pool=spare is usable (s1: not connected)',
    );
    expect(decideAutoReplace(base({ policy, hosts: down({ h1: 10 * MIN }) })).reason).toBe('h1 down for 10m (≥ 5m): replacing it with s1 from the spare pool pool=spare');
  });
});

import { describe, expect, it } from 'vitest';
import { EventBudget, WarnThrottle } from './event-budget.js';
import { IdentityConflicts } from './identity-conflict.js';

describe('IdentityConflicts', () => {
  const a = { agentSessionId: 'a', address: '198.18.0.11' };
  const b = { agentSessionId: 'b', address: '198.18.0.12' };

  it('counts only replacements of a live session by another process or address', () => {
    expect(IdentityConflicts.contested(a, b, true)).toBe(true);
    expect(IdentityConflicts.contested(a, { ...a, address: '198.18.0.99' }, true)).toBe(true);
    expect(IdentityConflicts.contested(a, a, true)).toBe(false); // the same agent reconnecting
    expect(IdentityConflicts.contested(a, b, false)).toBe(false); // the old one had gone silent: a restart
    expect(IdentityConflicts.contested(undefined, b, true)).toBe(false);
  });

  it('flags after more than the threshold within the window, once, and clears when quiet', () => {
    const c = new IdentityConflicts({ threshold: 3, windowMs: 60_000, clearAfterMs: 600_000 });
    expect(c.noteContested('h', 0, ['x', 'y'])).toBeNull();
    expect(c.noteContested('h', 70_000, ['x', 'y'])).toBeNull(); // the first fell out of the window
    expect(c.noteContested('h', 71_000, ['x', 'y'])).toBeNull();
    expect(c.noteContested('h', 72_000, ['x', 'y'])).toBeNull();
    const flag = c.noteContested('h', 73_000, ['y', 'x']);
    expect(flag).toMatchObject({ since: 73_000, replacements: 4, addresses: ['y', 'x'] });
    expect(c.noteContested('h', 74_000, ['x', 'y'])).toBeNull(); // raised once, then only updated
    expect(c.get('h', 74_000)?.replacements).toBe(5);
    expect(c.count(74_000 + 599_999)).toBe(1);
    expect(c.get('h', 74_000 + 600_000)).toBeNull();
    c.noteContested('g', 0, []);
    c.forget('g');
    expect(c.count(0)).toBe(0);
  });
});

describe('EventBudget', () => {
  it('lets the burst through, then the rate, and warns once per interval with the drop count', () => {
    const budget = new EventBudget({ perSecond: 20, burst: 100, warnEveryMs: 60_000 });
    let accepted = 0;
    const warnings: number[] = [];
    for (let i = 0; i < 1000; i++) {
      const v = budget.take(0);
      if (v.accept) accepted += 1;
      else if (v.warn !== null) warnings.push(v.warn.dropped);
    }
    expect(accepted).toBe(100);
    expect(warnings).toEqual([1]);
    // One second later 20 more; the warning stays quiet until its minute is over.
    for (let i = 0; i < 30; i++) if (budget.take(1000).accept) accepted += 1;
    expect(accepted).toBe(120);
    const late = budget.take(61_000);
    expect(late.accept).toBe(true);
  });

  it('WarnThrottle reports how many occurrences a warning stands for', () => {
    const t = new WarnThrottle(1000);
    expect(t.take(0)).toBe(1);
    expect(t.take(10)).toBeNull();
    expect(t.take(20)).toBeNull();
    expect(t.take(1000)).toBe(3);
  });
});

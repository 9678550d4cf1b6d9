import { describe, expect, it } from 'vitest';
import { applyLabelChange, labelKeyProblem, labelValueProblem, matchesSelector, parseLabelSelector } from './labels.js';

describe('host labels (Kubernetes label syntax)', () => {
  it('accepts keys with and without a DNS prefix up to the limits, and refuses the rest', () => {
    for (const key of ['pool', 'a', 'ballast.dev/pool', 'Rack_1.a-b', 'k'.repeat(63), `${'a'.repeat(63)}.example.com/x`]) expect(labelKeyProblem(key)).toBeNull();
    for (const key of ['', 'k'.repeat(64), '-pool', 'pool-', 'po ol', '/pool', 'Ballast.dev/pool', 'a/b/c', 'ballast.dev/']) expect(labelKeyProblem(key)).not.toBeNull();
  });
  it('accepts an empty value or one of at most 63 characters', () => {
    for (const value of ['', 'spare', 'v'.repeat(63), 'A.b_c-1']) expect(labelValueProblem('k', value)).toBeNull();
    for (const value of ['v'.repeat(64), '-spare', 'spare.', 'a b', 'a/b']) expect(labelValueProblem('k', value)).not.toBeNull();
  });
  it('parses one key=value selector and matches it exactly', () => {
    expect(parseLabelSelector('pool=spare')).toEqual({ key: 'pool', value: 'spare' });
    expect(parseLabelSelector('pool')).toBeNull();
    expect(parseLabelSelector('pool=a=b')).toBeNull();
    expect(matchesSelector({ pool: 'spare' }, { key: 'pool', value: 'spare' })).toBe(true);
    expect(matchesSelector({ pool: 'spares' }, { key: 'pool', value: 'spare' })).toBe(false);
    expect(matchesSelector({}, { key: 'toString', value: '' })).toBe(false);
  });
  it('applies a change by kubectl label rules', () => {
    expect(applyLabelChange({ b: '1' }, { set: { a: '2' }, remove: [], overwrite: false }, 'h')).toEqual({ a: '2', b: '1' });
    expect(() => applyLabelChange({ a: '1' }, { set: { a: '2' }, remove: [], overwrite: false }, 'h')).toThrow(expect.objectContaining({ code: 'BALLAST_ERR_LABEL_EXISTS' }));
    expect(applyLabelChange({ a: '1' }, { set: { a: '2' }, remove: [], overwrite: true }, 'h')).toEqual({ a: '2' });
    expect(() => applyLabelChange({}, { set: { a: '1' }, remove: ['a'], overwrite: false }, 'h')).toThrow(/label a is both set and removed/);
    expect(() => applyLabelChange({}, { set: JSON.parse('{"__proto__": "x"}') as Record<string, string>, remove: [], overwrite: false }, 'h')).toThrow(/label key "__proto__"/);
    const full = Object.fromEntries(Array.from({ length: 32 }, (_, i) => [`k${i}`, 'v']));
    expect(Object.keys(applyLabelChange(full, { set: {}, remove: [], overwrite: false }, 'h'))).toHaveLength(32);
    expect(() => applyLabelChange(full, { set: { extra: 'v' }, remove: [], overwrite: false }, 'h')).toThrow(/33 labels, over the limit of 32 a host/);
  });
});

import { InvalidArgumentError } from 'commander';
import { describe, expect, it } from 'vitest';
import { intInRange, parseDuration, parseName, parseTtl } from './parse.js';

describe('parseDuration / parseTtl', () => {
  it('accepts s, m, h, d and combinations', () => {
    expect(parseDuration('90s')).toBe(90);
    expect(parseDuration('30m')).toBe(1800);
    expect(parseDuration('1h')).toBe(3600);
    expect(parseDuration('7d')).toBe(604_800);
    expect(parseDuration('1h30m')).toBe(5400);
    expect(parseTtl('1m')).toBe(60);
    expect(parseTtl('30d')).toBe(2_592_000);
  });

  it.each(['', '1', 'h', '1x', '-1h', '1.5h', '1 h', '1H', 'forever'])('rejects %j', (text) => {
    expect(() => parseDuration(text)).toThrow(InvalidArgumentError);
  });

  it('enforces the API bounds 1m..30d', () => {
    expect(() => parseTtl('59s')).toThrow('at least 1m');
    expect(() => parseTtl('0s')).toThrow('at least 1m');
    expect(() => parseTtl('31d')).toThrow('at most 30d');
    expect(() => parseTtl('30d1s')).toThrow('at most 30d');
  });
});

describe('intInRange / parseName', () => {
  it('parses bounded integers', () => {
    const parse = intInRange(1, 1000);
    expect(parse('1')).toBe(1);
    expect(parse('1000')).toBe(1000);
    for (const bad of ['0', '1001', '-1', '1.5', 'ten', '']) expect(() => parse(bad)).toThrow(InvalidArgumentError);
  });

  it('accepts DNS-label-like names only', () => {
    expect(parseName('node-1.rack2')).toBe('node-1.rack2');
    for (const bad of ['Node', '-a', 'a-', 'a_b', '', 'x'.repeat(64), '../etc']) expect(() => parseName(bad)).toThrow(InvalidArgumentError);
  });
});

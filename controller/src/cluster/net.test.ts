import { describe, expect, it } from 'vitest';
import { contains, formatCidr, formatIp, lastOf, overlaps, parseCidr, parseIp } from './net.js';

const cidr = (text: string) => {
  const c = parseCidr(text);
  if (typeof c === 'string') throw new Error(c);
  return c;
};
const ip = (text: string) => {
  const a = parseIp(text);
  if (a === null) throw new Error(text);
  return a;
};

describe('net', () => {
  it.each([
    ['10.0.0.1', 4, 0x0a000001n],
    ['::1', 6, 1n],
    ['fd00::10', 6, (0xfd00n << 112n) | 0x10n],
    ['::ffff:10.0.0.1', 6, (0xffffn << 32n) | 0x0a000001n],
    ['2001:db8:0:0:1:0:0:1', 6, 0x20010db8000000000001000000000001n],
  ] as const)('parses %s', (text, family, value) => {
    expect(parseIp(text)).toEqual({ family, value });
  });

  it.each(['10.0.0.256', 'x', '', 'fe80::1%eth0', '1.2.3'])('refuses %j', (text) => {
    expect(parseIp(text)).toBeNull();
  });

  it.each([
    ['10.0.0.0', 'is not a CIDR (expected address/prefix, e.g. 10.244.0.0/16)'],
    ['10.0.0.0/33', 'prefix "/33" is not 0-32'],
    ['fd00::/129', 'prefix "/129" is not 0-128'],
    ['10.0.0.0/-1', 'prefix "/-1" is not 0-32'],
    ['x/8', '"x" is not an IPv4 or IPv6 address'],
  ])('parseCidr(%j) → %s', (text, message) => {
    expect(parseCidr(text)).toBe(message);
  });

  it('contains, overlaps, network and last address', () => {
    expect(contains(cidr('10.0.0.0/24'), ip('10.0.0.255'))).toBe(true);
    expect(contains(cidr('10.0.0.0/24'), ip('10.0.1.0'))).toBe(false);
    expect(contains(cidr('10.0.0.0/24'), ip('::a00:1'))).toBe(false);
    expect(overlaps(cidr('10.96.0.0/12'), cidr('10.100.0.0/16'))).toBe(true);
    expect(overlaps(cidr('10.96.0.0/12'), cidr('10.112.0.0/16'))).toBe(false);
    expect(overlaps(cidr('0.0.0.0/0'), cidr('192.168.1.0/24'))).toBe(true);
    expect(overlaps(cidr('10.0.0.0/8'), cidr('fd00::/8'))).toBe(false);
    expect(formatIp(4, lastOf(cidr('10.0.0.5/26')))).toBe('10.0.0.63');
    expect(formatCidr(cidr('10.244.1.7/16'))).toBe('10.244.0.0/16');
    expect(formatCidr(cidr('fd00:10:244::1/56'))).toBe('fd00:10:244:0:0:0:0:0/56');
  });
});

/**
 * IPv4/IPv6 addresses and CIDRs as bigints, for the cluster validator's subnet, overlap and
 * containment checks. Node's `net.BlockList` answers "is this address in that range" but not "do
 * these two ranges overlap" or "what is the network address", so the arithmetic is done here.
 */
import { isIP } from 'node:net';

/** An address family as `net.isIP` numbers it. */
export type IpFamily = 4 | 6;

/** A parsed address. */
export interface IpAddress {
  family: IpFamily;
  value: bigint;
}

/** A parsed CIDR: `base` is the address as written (host bits possibly set). */
export interface Cidr {
  family: IpFamily;
  base: bigint;
  prefix: number;
}

const BITS: Record<IpFamily, number> = { 4: 32, 6: 128 };

/** Bits in an address of `family`. */
export function familyBits(family: IpFamily): number {
  return BITS[family];
}

/** Parses an IPv4 or IPv6 address (no zone, no brackets); null when it is neither. */
export function parseIp(text: string): IpAddress | null {
  const family = isIP(text);
  if (family === 4) {
    return { family: 4, value: text.split('.').reduce((acc, part) => (acc << 8n) | BigInt(Number(part)), 0n) };
  }
  if (family !== 6 || text.includes('%')) return null;
  // Expand an embedded IPv4 tail (::ffff:10.0.0.1) into two groups first.
  let body = text;
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(body);
  if (v4?.[1] !== undefined) {
    const n = parseIp(v4[1])?.value ?? 0n;
    body = `${body.slice(0, -v4[1].length)}${(n >> 16n).toString(16)}:${(n & 0xffffn).toString(16)}`;
  }
  const [head = '', tail] = body.split('::');
  const left = head === '' ? [] : head.split(':');
  const right = tail === undefined || tail === '' ? [] : tail.split(':');
  const groups = tail === undefined ? left : [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right];
  return { family: 6, value: groups.reduce((acc, g) => (acc << 16n) | BigInt(Number.parseInt(g, 16)), 0n) };
}

/** Parses `address/prefix`; a string saying what is wrong when it is not a CIDR. */
export function parseCidr(text: string): Cidr | string {
  const slash = text.indexOf('/');
  if (slash < 0) return 'is not a CIDR (expected address/prefix, e.g. 10.244.0.0/16)';
  const ip = parseIp(text.slice(0, slash));
  if (ip === null) return `"${text.slice(0, slash)}" is not an IPv4 or IPv6 address`;
  const prefixText = text.slice(slash + 1);
  const prefix = Number(prefixText);
  if (!/^\d{1,3}$/.test(prefixText) || prefix > BITS[ip.family]) return `prefix "/${prefixText}" is not 0-${BITS[ip.family]}`;
  return { family: ip.family, base: ip.value, prefix };
}

function mask(family: IpFamily, prefix: number): bigint {
  const bits = BigInt(BITS[family]);
  return ((1n << bits) - 1n) ^ ((1n << (bits - BigInt(prefix))) - 1n);
}

/** The network address of a CIDR (host bits cleared). */
export function networkOf(cidr: Cidr): bigint {
  return cidr.base & mask(cidr.family, cidr.prefix);
}

/** The last address of a CIDR (host bits all set: the IPv4 broadcast address). */
export function lastOf(cidr: Cidr): bigint {
  return networkOf(cidr) | (((1n << BigInt(BITS[cidr.family])) - 1n) ^ mask(cidr.family, cidr.prefix));
}

/** True when `ip` is inside `cidr`. */
export function contains(cidr: Cidr, ip: IpAddress): boolean {
  return cidr.family === ip.family && (ip.value & mask(cidr.family, cidr.prefix)) === networkOf(cidr);
}

/** True when two CIDRs share at least one address (one contains the other, CIDRs being aligned). */
export function overlaps(a: Cidr, b: Cidr): boolean {
  if (a.family !== b.family) return false;
  const p = Math.min(a.prefix, b.prefix);
  return (a.base & mask(a.family, p)) === (b.base & mask(b.family, p));
}

/** Formats an address value back to text (IPv6 in full, uncompressed lowercase groups). */
export function formatIp(family: IpFamily, value: bigint): string {
  if (family === 4) return [24n, 16n, 8n, 0n].map((s) => String((value >> s) & 0xffn)).join('.');
  const groups: string[] = [];
  for (let s = 112n; s >= 0n; s -= 16n) groups.push(((value >> s) & 0xffffn).toString(16));
  return groups.join(':');
}

/** A CIDR in canonical form: the network address and the prefix. */
export function formatCidr(cidr: Cidr): string {
  return `${formatIp(cidr.family, networkOf(cidr))}/${cidr.prefix}`;
}

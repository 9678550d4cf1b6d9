/**
 * Which IP addresses `artifacts fetch` may connect to (issue 16 point 10): only globally reachable
 * unicast. Loopback, private (RFC 1918, CGNAT), link-local (incl. cloud metadata at 169.254.169.254),
 * unique-local, multicast, unspecified, documentation, benchmarking and reserved ranges are refused,
 * so an upstream name that resolves inwards cannot turn the controller into a proxy to the LAN.
 *
 * IPv6 forms that carry an IPv4 address (IPv4-mapped `::ffff:a.b.c.d`, NAT64 `64:ff9b::/96`, 6to4
 * `2002::/16`) are judged by the IPv4 address inside: `::ffff:127.0.0.1` reaches 127.0.0.1 on a
 * dual-stack socket. Ranges after the IANA special-purpose registries (RFC 6890 and successors).
 */
import { isIP } from 'node:net';

interface Range {
  bytes: Uint8Array;
  bits: number;
  label: string;
}

const V4_DENIED: readonly Range[] = [
  ['0.0.0.0/8', 'unspecified ("this network")'],
  ['10.0.0.0/8', 'private'],
  ['100.64.0.0/10', 'shared address space (CGNAT)'],
  ['127.0.0.0/8', 'loopback'],
  ['169.254.0.0/16', 'link-local'],
  ['172.16.0.0/12', 'private'],
  ['192.0.0.0/24', 'IETF protocol assignments'],
  ['192.0.2.0/24', 'documentation'],
  ['192.88.99.0/24', '6to4 relay anycast'],
  ['192.168.0.0/16', 'private'],
  ['198.18.0.0/15', 'benchmarking'],
  ['198.51.100.0/24', 'documentation'],
  ['203.0.113.0/24', 'documentation'],
  ['224.0.0.0/4', 'multicast'],
  ['240.0.0.0/4', 'reserved or broadcast'],
].map(([cidr, label]) => range(cidr as string, label as string));

/** Checked after the embedded-IPv4 forms; everything outside 2000::/3 is refused as not global unicast. */
const V6_DENIED: readonly Range[] = [
  ['2001::/23', 'IETF protocol assignments (Teredo, benchmarking, ORCHID)'],
  ['2001:db8::/32', 'documentation'],
  ['3fff::/20', 'documentation'],
].map(([cidr, label]) => range(cidr as string, label as string));

const V6_GLOBAL = range('2000::/3', 'global unicast');
const V6_NAMED: readonly Range[] = [
  ['::/128', 'unspecified'],
  ['::1/128', 'loopback'],
  ['fc00::/7', 'unique-local'],
  ['fe80::/10', 'link-local'],
  ['fec0::/10', 'site-local'],
  ['ff00::/8', 'multicast'],
].map(([cidr, label]) => range(cidr as string, label as string));

const MAPPED = range('::ffff:0:0/96', 'IPv4-mapped');
const NAT64 = range('64:ff9b::/96', 'NAT64');
const SIX_TO_FOUR = range('2002::/16', '6to4');

/**
 * Why `address` (an IPv4 or IPv6 literal, as DNS returns it) must not be connected to, e.g.
 * "127.0.0.1 is loopback"; null when it is globally reachable unicast.
 */
export function addressProblem(address: string): string | null {
  if (address.includes('%')) return `${address} is scoped to an interface (link-local)`;
  const kind = isIP(address);
  if (kind === 4) {
    const hit = V4_DENIED.find((r) => inRange(parseV4(address), r));
    return hit === undefined ? null : `${address} is ${hit.label}`;
  }
  if (kind !== 6) return `${address} is not an IP address`;
  const bytes = parseV6(address);
  // The IPv4 forms first: a mapped loopback is loopback whatever IPv6 range it sits in.
  for (const [r, at] of [[MAPPED, 12], [NAT64, 12], [SIX_TO_FOUR, 2]] as const) {
    if (!inRange(bytes, r)) continue;
    const v4 = Array.from(bytes.subarray(at, at + 4)).join('.');
    const inner = addressProblem(v4);
    return inner === null ? null : `${address} is ${r.label} for ${inner}`;
  }
  const named = V6_NAMED.find((r) => inRange(bytes, r));
  if (named !== undefined) return `${address} is ${named.label}`;
  if (!inRange(bytes, V6_GLOBAL)) return `${address} is not global unicast (reserved)`;
  const hit = V6_DENIED.find((r) => inRange(bytes, r));
  return hit === undefined ? null : `${address} is ${hit.label}`;
}

function range(cidr: string, label: string): Range {
  const [ip = '', bits = ''] = cidr.split('/');
  return { bytes: isIP(ip) === 4 ? parseV4(ip) : parseV6(ip), bits: Number(bits), label };
}

function inRange(bytes: Uint8Array, r: Range): boolean {
  if (bytes.length !== r.bytes.length) return false;
  for (let bit = 0; bit < r.bits; bit++) {
    const mask = 0x80 >> bit % 8;
    const i = Math.floor(bit / 8);
    if (((bytes[i] ?? 0) & mask) !== ((r.bytes[i] ?? 0) & mask)) return false;
  }
  return true;
}

/** Callers pass only what isIP() accepted as IPv4. */
function parseV4(address: string): Uint8Array {
  return Uint8Array.from(address.split('.').map(Number));
}

/** Expands `::` and a trailing dotted quad into 16 bytes; callers pass only what isIP() accepted as IPv6. */
function parseV6(address: string): Uint8Array {
  let text = address.toLowerCase();
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (dotted?.[1] !== undefined) {
    const [a = 0, b = 0, c = 0, d = 0] = parseV4(dotted[1]);
    text = `${text.slice(0, dotted.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head = '', tail] = text.split('::');
  const left = head === '' ? [] : head.split(':');
  const right = tail === undefined || tail === '' ? [] : tail.split(':');
  const groups = tail === undefined ? left : [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right];
  const bytes = new Uint8Array(16);
  groups.forEach((g, i) => {
    const v = Number.parseInt(g, 16);
    bytes[i * 2] = v >> 8;
    bytes[i * 2 + 1] = v & 0xff;
  });
  return bytes;
}

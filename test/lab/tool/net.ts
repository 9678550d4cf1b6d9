import { existsSync } from 'node:fs';
import { run } from './exec.js';

/**
 * Network namespaces and the switch. The bridge lives in its own namespace, so nothing is ever
 * created or changed in the root namespace; every address is in 198.18.0.0/15 (benchmarking range).
 */
export function netnsExists(name: string): boolean {
  return existsSync(`/run/netns/${name}`);
}

export async function ensureNetns(name: string): Promise<void> {
  if (!netnsExists(name)) await run(['ip', 'netns', 'add', name]);
  await run(['ip', '-n', name, 'link', 'set', 'lo', 'up']);
}

export async function ensureSwitch(netns: string): Promise<void> {
  await ensureNetns(netns);
  const has = await run(['ip', '-n', netns, 'link', 'show', 'br0'], { allowFail: true });
  if (has.code !== 0) await run(['ip', '-n', netns, 'link', 'add', 'br0', 'type', 'bridge']);
  await run(['ip', '-n', netns, 'link', 'set', 'br0', 'up']);
}

/** Plugs `netns` into the switch: a veth pair, `port` on the bridge, eth0 with `address`/24 inside. */
export async function ensurePlugged(options: { switchNetns: string; netns: string; port: string; address: string }): Promise<void> {
  const { switchNetns, netns, port, address } = options;
  assertLabAddress(address);
  await ensureNetns(netns);
  const has = await run(['ip', '-n', switchNetns, 'link', 'show', port], { allowFail: true });
  if (has.code !== 0) {
    await run(['ip', '-n', switchNetns, 'link', 'add', port, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', netns]);
  }
  await run(['ip', '-n', switchNetns, 'link', 'set', port, 'master', 'br0', 'up']);
  const addrs = await run(['ip', '-n', netns, '-o', 'addr', 'show', 'dev', 'eth0']);
  if (!addrs.stdout.includes(` ${address}/24 `)) await run(['ip', '-n', netns, 'addr', 'add', `${address}/24`, 'dev', 'eth0']);
  await run(['ip', '-n', netns, 'link', 'set', 'eth0', 'up']);
  // systemd-nspawn mounts /proc/sys read-only, so os-prep cannot switch forwarding on inside a lab
  // host; set it from outside, as a host that already forwards would have it (os-prep then only persists it).
  await run(['ip', 'netns', 'exec', netns, 'sysctl', '-qw', 'net.ipv4.ip_forward=1']);
}

/**
 * The switch's own address, the hosts' default gateway. Nothing routes beyond it (the switch
 * namespace has no uplink): it exists because kubelet and kube-apiserver pick a host's node address
 * from the interface of its default route.
 */
export const GATEWAY = '198.18.0.1';

export async function ensureGateway(switchNetns: string): Promise<void> {
  const addrs = await run(['ip', '-n', switchNetns, '-o', 'addr', 'show', 'dev', 'br0']);
  if (!addrs.stdout.includes(` ${GATEWAY}/24 `)) await run(['ip', '-n', switchNetns, 'addr', 'add', `${GATEWAY}/24`, 'dev', 'br0']);
}

/** A default route via {@link GATEWAY} in `netns` (idempotent). */
export async function ensureDefaultRoute(netns: string): Promise<void> {
  await run(['ip', '-n', netns, 'route', 'replace', 'default', 'via', GATEWAY, 'dev', 'eth0']);
}

/** A route in `netns` to `cidr` via `address` (another host: its pod subnet). */
export async function ensureRoute(netns: string, cidr: string, address: string): Promise<void> {
  assertLabAddress(address);
  await run(['ip', '-n', netns, 'route', 'replace', cidr, 'via', address, 'dev', 'eth0']);
}

/** Link down on the host's switch port: carrier stays up inside the host, packets stop. */
export async function setPortUp(switchNetns: string, port: string, up: boolean): Promise<void> {
  await run(['ip', '-n', switchNetns, 'link', 'set', port, up ? 'up' : 'down']);
}

export async function deleteNetns(name: string): Promise<void> {
  if (netnsExists(name)) await run(['ip', 'netns', 'del', name]);
}

/** Refuses any address outside 198.18.0.0/15: the lab must never target anything else. */
export function assertLabAddress(address: string): void {
  const parts = address.split('.').map(Number);
  const ok = parts.length === 4 && parts[0] === 198 && (parts[1] === 18 || parts[1] === 19) && parts.every((p) => p >= 0 && p <= 255);
  if (!ok) throw new Error(`failed to use address ${address}: the lab only uses 198.18.0.0/15`);
}

import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { HostState } from './state.js';

/**
 * The lab's pod network, without any image to run a CNI add-on from: each host gets a fixed pod
 * subnet inside the cluster's default pod CIDR (10.244.0.0/16), a bridge + host-local conflist for
 * the CNI plugins the bootstrap installs, and a static route to every other host's pod subnet in
 * its network namespace (net.ts). This is the lab's stand-in for an add-on such as flannel's
 * host-gw mode, named as such; a real cluster applies its add-on through `network.cniManifest`.
 */

/** host1 → 10.244.1.0/24: from the host's address 198.18.0.(10 + i). */
export function podSubnet(host: Pick<HostState, 'address' | 'name'>): string {
  const last = Number(host.address.split('.')[3]);
  const index = last - 10;
  if (!Number.isInteger(index) || index < 1 || index > 200) throw new Error(`failed to give ${host.name} a pod subnet: unexpected address ${host.address}`);
  return `10.244.${index}.0/24`;
}

/** The CNI config the lab writes into a host (/etc/cni/net.d/10-ballast-lab.conflist). */
export function labConflist(subnet: string): string {
  return `${JSON.stringify(
    {
      cniVersion: '0.4.0',
      name: 'ballast-lab',
      plugins: [
        {
          type: 'bridge',
          bridge: 'cni0',
          isGateway: true,
          ipMasq: true,
          hairpinMode: true,
          ipam: { type: 'host-local', ranges: [[{ subnet }]], routes: [{ dst: '0.0.0.0/0' }] },
        },
        { type: 'portmap', capabilities: { portMappings: true } },
      ],
    },
    null,
    2,
  )}\n`;
}

export const LAB_CONFLIST = '/etc/cni/net.d/10-ballast-lab.conflist';

/** Writes the conflist into the host's root (works powered on or off: it is the overlay). */
export function writeLabConflist(host: HostState): void {
  const file = join(host.root, LAB_CONFLIST.slice(1));
  mkdirSync(join(file, '..'), { recursive: true });
  writeFileSync(file, labConflist(podSubnet(host)));
}

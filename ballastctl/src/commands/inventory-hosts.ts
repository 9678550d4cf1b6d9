/**
 * `cluster create --inventory`: the inventory's hosts renamed to the enrolled hosts they are
 * (inventory-match.ts), before the spec goes to the controller. Only create asks the controller:
 * `cluster validate` stays offline.
 */
import { HostListResponseSchema } from '../../../shared/src/api.js';
import { type InventoryHostAddresses, matchEnrolledHosts } from '../../../controller/src/cluster/inventory-match.js';
import type { ClusterSpec } from '../../../controller/src/cluster/spec.js';
import type { ApiClient } from '../client.js';
import type { CliContext } from '../context.js';
import { CtlError, EXIT_USAGE } from '../errors.js';

/** An IPv4 address seen through an IPv6 socket (`::ffff:198.18.0.11`) as the plain address. */
function plainAddress(address: string): string {
  return address.replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/i, '');
}

/**
 * `spec` with each inventory host named as the enrolled host it matched, each rename noted on
 * stderr with how it matched. Ambiguous matches are a usage error (exit 2), nothing started.
 */
export async function matchInventoryToEnrolled(ctx: CliContext, client: ApiClient, spec: ClusterSpec, inventory: InventoryHostAddresses[]): Promise<ClusterSpec> {
  const enrolled = (await client.get('/v1/hosts', HostListResponseSchema)).items.map((h) => ({
    name: h.name,
    addresses: h.address === null ? [] : [plainAddress(h.address)],
  }));
  const { matches, problems } = matchEnrolledHosts(inventory, enrolled);
  if (problems.length > 0) {
    ctx.out(`${problems.map((p) => `${p.path}: ${p.message}`).join('\n')}\n`);
    throw new CtlError(`cluster ${spec.name}: inventory hosts do not match enrolled hosts one to one; nothing was started`, EXIT_USAGE, { code: 'BALLAST_ERR_VALIDATION' });
  }
  const rename = new Map(matches.filter((m) => m.inventory !== m.enrolled).map((m) => [m.inventory, m]));
  for (const m of rename.values()) ctx.note(`inventory host "${m.inventory}" is enrolled host "${m.enrolled}" (matched ${m.how})`);
  return { ...spec, hosts: spec.hosts.map((h) => ({ ...h, name: rename.get(h.name)?.enrolled ?? h.name })) };
}

/**
 * Matches a kubespray inventory's hosts to the hosts enrolled with the controller. Inventory names
 * (`node1`) are Ansible's, and need not be the names the agents enrolled under (`host1`): a host
 * is matched by name, else by the addresses the inventory gives it (`ip`, `access_ip`,
 * `ansible_host`). Every match says which enrolled host it is and how it was found; a host whose
 * addresses belong to more than one enrolled host, or an enrolled host two inventory hosts
 * claim, is refused rather than guessed.
 */
import type { ClusterProblem } from './spec.js';

/** An inventory host with the addresses it gives, in kubespray's precedence (ip first). */
export interface InventoryHostAddresses {
  name: string;
  /** Where it was first seen (`line 3`, `/all/hosts/node1`), for messages. */
  origin: string;
  addresses: { key: 'ip' | 'access_ip' | 'ansible_host'; value: string }[];
}

/** An enrolled host and the addresses the controller knows for it. */
export interface EnrolledHostAddresses {
  name: string;
  addresses: string[];
}

/** One inventory host found among the enrolled ones. */
export interface HostMatch {
  inventory: string;
  enrolled: string;
  /** `by name`, or e.g. `by ansible_host 198.18.0.11`. */
  how: string;
}

/** The matches (one per inventory host found) and the refusals. */
export interface HostMatching {
  matches: HostMatch[];
  problems: ClusterProblem[];
}

/** See the file comment. Inventory hosts that match nothing are left out (not enrolled). */
export function matchEnrolledHosts(hosts: readonly InventoryHostAddresses[], enrolled: readonly EnrolledHostAddresses[]): HostMatching {
  const byName = new Map(enrolled.map((e) => [e.name, e]));
  const matches: HostMatch[] = [];
  const problems: ClusterProblem[] = [];
  for (const host of hosts) {
    if (byName.has(host.name)) {
      matches.push({ inventory: host.name, enrolled: host.name, how: 'by name' });
      continue;
    }
    const found = new Map<string, string>();
    for (const { key, value } of host.addresses) {
      for (const e of enrolled) if (e.addresses.includes(value) && !found.has(e.name)) found.set(e.name, `by ${key} ${value}`);
    }
    if (found.size > 1) {
      const names = [...found].map(([name, how]) => `"${name}" (${how})`).join(', ');
      problems.push({ path: host.origin, message: `host "${host.name}" matches several enrolled hosts: ${names}; rename it in the inventory to the one meant` });
      continue;
    }
    const [only] = found;
    if (only !== undefined) matches.push({ inventory: host.name, enrolled: only[0], how: only[1] });
  }
  // One enrolled host is one cluster host: two inventory hosts must not both become it.
  const claimed = new Map<string, HostMatch>();
  for (const m of matches) {
    const first = claimed.get(m.enrolled);
    if (first === undefined) claimed.set(m.enrolled, m);
    else {
      const origin = hosts.find((h) => h.name === m.inventory)?.origin ?? '/hosts';
      problems.push({
        path: origin,
        message: `hosts "${first.inventory}" (${first.how}) and "${m.inventory}" (${m.how}) are both enrolled host "${m.enrolled}"`,
      });
    }
  }
  return { matches: problems.length === 0 ? matches : [], problems };
}

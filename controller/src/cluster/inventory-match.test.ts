import { describe, expect, it } from 'vitest';
import { type InventoryHostAddresses, matchEnrolledHosts } from './inventory-match.js';

const node = (name: string, addresses: InventoryHostAddresses['addresses']): InventoryHostAddresses => ({ name, origin: `/all/hosts/${name}`, addresses });

describe('matchEnrolledHosts', () => {
  it('matches by name, else by ip/access_ip/ansible_host, and says how', () => {
    const r = matchEnrolledHosts(
      [node('host2', []), node('node1', [{ key: 'ansible_host', value: '198.18.0.11' }]), node('node9', [{ key: 'ip', value: '198.18.0.99' }])],
      [
        { name: 'host1', addresses: ['198.18.0.11'] },
        { name: 'host2', addresses: ['198.18.0.12'] },
      ],
    );
    expect(r).toEqual({
      matches: [
        { inventory: 'host2', enrolled: 'host2', how: 'by name' },
        { inventory: 'node1', enrolled: 'host1', how: 'by ansible_host 198.18.0.11' },
      ],
      problems: [],
    });
  });

  it('refuses an ambiguous match, and two inventory hosts claiming one enrolled host', () => {
    const ambiguous = matchEnrolledHosts(
      [node('node1', [{ key: 'ip', value: '10.0.0.1' }, { key: 'ansible_host', value: '198.18.0.11' }])],
      [
        { name: 'a', addresses: ['10.0.0.1'] },
        { name: 'b', addresses: ['198.18.0.11'] },
      ],
    );
    expect(ambiguous.matches).toEqual([]);
    expect(ambiguous.problems).toEqual([
      { path: '/all/hosts/node1', message: 'host "node1" matches several enrolled hosts: "a" (by ip 10.0.0.1), "b" (by ansible_host 198.18.0.11); rename it in the inventory to the one meant' },
    ]);
    const twice = matchEnrolledHosts([node('a', []), node('node1', [{ key: 'ip', value: '10.0.0.1' }])], [{ name: 'a', addresses: ['10.0.0.1'] }]);
    expect(twice.problems).toEqual([{ path: '/all/hosts/node1', message: 'hosts "a" (by name) and "node1" (by ip 10.0.0.1) are both enrolled host "a"' }]);
  });
});

import { describe, expect, it } from 'vitest';
import { detectInventoryFormat, type InventoryOptions, inventoryToCluster } from './inventory.js';

// Our own inventories in the shape of kubespray's inventory/sample: three stacked control-plane +
// etcd nodes, workers, and the extras real inventories carry (calico_rr, bastion, SSH vars).

const HOSTS_YAML = `all:
  hosts:
    node1:
      ansible_host: 203.0.113.11
      ip: 10.10.0.11
      access_ip: 10.10.0.11
    node2:
      ansible_host: 203.0.113.12
      ip: 10.10.0.12
    node3:
      ansible_host: 10.10.0.13
    node4:
      ansible_host: 203.0.113.14
      access_ip: 10.10.0.14
    node5:
      ansible_host: 10.10.0.15
      ip: 10.10.0.15
      etcd_member_name: ""
    bastion:
      ansible_host: 203.0.113.2
  vars:
    ansible_user: ubuntu
    kube_version: v1.30.4
    kube_pods_subnet: 10.233.64.0/18
    kube_service_addresses: 10.233.0.0/18
  children:
    kube_control_plane:
      hosts:
        node1:
        node2:
        node3:
    kube_node:
      hosts:
        node4:
        node5:
    etcd:
      hosts:
        node1:
        node2:
        node3:
    k8s_cluster:
      children:
        kube_control_plane:
        kube_node:
        calico_rr:
    calico_rr:
      hosts: {}
    bastion:
      hosts:
        bastion:
`;

const INVENTORY_INI = `# ## Configure 'ip' variable to bind kubernetes services on a
# ## different ip than the default iface
[all]
node1 ansible_host=203.0.113.11 ip=10.10.0.11 etcd_member_name=etcd1
node2 ansible_host=203.0.113.12  ip=10.10.0.12 etcd_member_name=etcd2   # second master
node3 ansible_host=10.10.0.13 etcd_member_name=etcd3
node4 ansible_host=203.0.113.14 access_ip=10.10.0.14
node5 ansible_host="10.10.0.15" ip='10.10.0.15'

[kube_control_plane]
node1
node2
node3

[etcd]
node1
node2
node3

[kube_node]
node4
node5

[calico_rr]

[k8s_cluster:children]
kube_control_plane
kube_node
calico_rr

[all:vars]
ansible_ssh_common_args = -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null
kube_version=v1.30.4
`;

const OPTIONS: InventoryOptions = { name: 'lab', vip: { address: '10.10.0.10', interface: 'ens18' } };

const EXPECTED_HOSTS = [
  { name: 'node1', address: '10.10.0.11', roles: ['etcd', 'control-plane'] },
  { name: 'node2', address: '10.10.0.12', roles: ['etcd', 'control-plane'] },
  { name: 'node3', address: '10.10.0.13', roles: ['etcd', 'control-plane'] },
  { name: 'node4', address: '10.10.0.14', roles: ['worker'] },
  { name: 'node5', address: '10.10.0.15', roles: ['worker'] },
];

describe('inventoryToCluster', () => {
  it('reads kubespray hosts.yaml: roles from groups, ip over access_ip over ansible_host, all.vars', () => {
    const r = inventoryToCluster(HOSTS_YAML, 'yaml', OPTIONS);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.spec.hosts).toEqual(EXPECTED_HOSTS);
    expect(r.spec.name).toBe('lab');
    expect(r.spec.vip).toEqual({ address: '10.10.0.10', interface: 'ens18', port: 6443 });
    expect(r.spec.versions.kubernetes).toBe('v1.30.4');
    expect(r.spec.network).toMatchObject({ podCidr: '10.233.64.0/18', serviceCidr: '10.233.0.0/18', dnsDomain: 'cluster.local' });
    expect(r.notes).toEqual([
      { path: '/all/hosts/bastion', message: 'host "bastion" is in none of etcd, kube_control_plane, kube_node: left out' },
      { path: '/bastion', message: 'group "bastion" has no meaning to Ballast: ignored' },
    ]);
  });

  it('reads kubespray inventory.ini to the same hosts', () => {
    const r = inventoryToCluster(INVENTORY_INI, 'ini', OPTIONS);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.spec.hosts).toEqual(EXPECTED_HOSTS);
    expect(r.spec.versions.kubernetes).toBe('v1.30.4');
    expect(r.notes).toEqual([]);
  });

  it('lets options override the inventory vars', () => {
    const r = inventoryToCluster(HOSTS_YAML, 'yaml', { ...OPTIONS, versions: { kubernetes: '1.31.0' }, network: { podCidr: '10.42.0.0/16' }, rollout: { workerBatch: '50%' } });
    expect(r.ok && [r.spec.versions.kubernetes, r.spec.network.podCidr, r.spec.rollout.workerBatch]).toEqual(['1.31.0', '10.42.0.0/16', '50%']);
  });

  it('takes the VIP from kube_vip_address / kube_vip_interface when the inventory has them', () => {
    const text = INVENTORY_INI.replace('kube_version=v1.30.4', 'kube_vip_address=10.10.0.100\nkube_vip_interface=bond0');
    const r = inventoryToCluster(text, 'ini', { name: 'lab' });
    expect(r.ok && r.spec.vip).toEqual({ address: '10.10.0.100', interface: 'bond0', port: 6443 });
  });

  it('accepts the legacy group names and notes them', () => {
    const text = `[kube-master]\ncp1 ansible_host=10.0.0.1\n[etcd]\ncp1\n[kube-node]\nw1 ansible_host=10.0.0.2\n[k8s-cluster:children]\nkube-master\nkube-node\n`;
    const r = inventoryToCluster(text, 'ini', OPTIONS);
    expect(r.ok && r.spec.hosts).toEqual([
      { name: 'cp1', address: '10.0.0.1', roles: ['etcd', 'control-plane'] },
      { name: 'w1', address: '10.0.0.2', roles: ['worker'] },
    ]);
    expect(r.notes.map((n) => n.message)).toEqual(['legacy kubespray group name: read as kube_control_plane', 'legacy kubespray group name: read as kube_node']);
  });

  it('resolves nested children: roles through k8s_cluster-style groups', () => {
    const text = `all:\n  children:\n    etcd:\n      children:\n        etcd_a:\n          hosts:\n            e1: { ip: 10.0.0.5 }\n    kube_control_plane:\n      hosts:\n        e1:\n`;
    const r = inventoryToCluster(text, 'yaml', OPTIONS);
    expect(r.ok && r.spec.hosts).toEqual([{ name: 'e1', address: '10.0.0.5', roles: ['etcd', 'control-plane'] }]);
  });

  it('requires what an inventory cannot say: name and VIP', () => {
    const r = inventoryToCluster(INVENTORY_INI, 'ini', {});
    expect(r.ok).toBe(false);
    expect(!r.ok && r.problems).toEqual([
      { path: '/name', message: 'is required: a DNS label (a-z, 0-9 and "-", at most 63 characters)' },
      { path: '/vip/address', message: 'is required: an IPv4 or IPv6 address' },
      { path: '/vip/interface', message: 'is required: an interface name such as eth0 (at most 15 characters)' },
    ]);
  });

  it('says in words that an inventory with every host line commented out has no hosts', () => {
    const sample = `# ## Configure 'ip' variable to bind kubernetes services on a different ip than the default iface
[kube_control_plane]
# node1 ip=10.3.0.1 etcd_member_name=etcd1
# node2 ip=10.3.0.2 etcd_member_name=etcd2

[etcd:children]
kube_control_plane

[kube_node]
# node4 ip=10.3.0.4
`;
    const r = inventoryToCluster(sample, 'ini', OPTIONS);
    expect(!r.ok && r.problems).toEqual([{ path: '/hosts', message: 'the inventory has no hosts (are all host lines commented out? kubespray\'s sample inventory.ini has them so)' }]);
  });

  it('names the flag, not the document path, when a bad value came from a flag', () => {
    const r = inventoryToCluster(INVENTORY_INI, 'ini', { ...OPTIONS, name: 'Bad_Name', vip: { address: '10.10.0.10', interface: 'this-is-far-too-long' } });
    expect(!r.ok && r.problems.map((p) => p.path)).toEqual(['--name', '--vip-interface']);
  });

  it('reports every inventory problem at once, with where it is', () => {
    const text = `[all]
node1 ansible_host=node1.example.com
node2
Node3 ip=10.0.0.3
web[01:20] ansible_host=10.0.1.1
node4 ansible_host=10.0.0.4 broken
[kube_control_plane]
node1
node2
Node3
`;
    const r = inventoryToCluster(text, 'ini', OPTIONS);
    expect(!r.ok && r.problems).toEqual([
      { path: 'line 5', message: 'host ranges (web[01:20]) are not supported: list each host' },
      { path: 'line 6', message: 'expected key=value, got "broken"' },
    ]);
    // Once the file parses, host problems are listed together with schema problems.
    const fixed = text.replace('web[01:20] ansible_host=10.0.1.1\n', '').replace(' broken', '');
    const r2 = inventoryToCluster(fixed, 'ini', OPTIONS);
    expect(!r2.ok && r2.problems).toEqual([
      { path: 'line 2 [all]', message: 'host "node1": ansible_host "node1.example.com" is not an IP address; set ip to the host\'s cluster address' },
      { path: 'line 3 [all]', message: 'host "node2" has no IP address: set ip (or access_ip, ansible_host)' },
      { path: '/hosts/0/name', message: 'must be a host name (a-z, 0-9, "." and "-", at most 63 characters) (inventory: line 4 [all])' },
    ]);
  });

  it.each([
    ['YAML that is not a mapping', 'yaml', '- node1\n', [{ path: '/', message: 'must be a mapping of groups (all: {hosts, children})' }]],
    ['a group that is a list', 'yaml', 'all:\n  children:\n    etcd: [node1]\n', [{ path: '/all/children/etcd', message: 'must be a mapping with hosts, children or vars' }]],
    ['an unknown group key', 'yaml', 'all:\n  host:\n    node1: {}\n', [{ path: '/all/host', message: 'unknown key (Did you mean hosts?): a group has hosts, children and vars' }]],
    ['a YAML host range', 'yaml', 'all:\n  hosts:\n    node[1:3]: {}\n', [{ path: '/all/hosts/node[1:3]', message: 'host ranges are not supported: list each host' }]],
    ['a bad INI header', 'ini', '[etcd\nnode1\n', [{ path: 'line 1', message: 'bad section header "[etcd"' }]],
    ['an open quote', 'ini', '[etcd]\nnode1 ip="10.0.0.1\n', [{ path: 'line 2', message: 'unterminated quote' }]],
    ['two groups on a children line', 'ini', '[k8s_cluster:children]\nkube_node etcd\n', [{ path: 'line 2', message: 'a [k8s_cluster:children] line names one group' }]],
  ] as const)('refuses %s', (_label, format, text, problems) => {
    const r = inventoryToCluster(text, format, OPTIONS);
    expect(!r.ok && r.problems).toEqual(problems);
  });

  it('merges host vars given in several places (Ansible semantics)', () => {
    const text = `all:\n  hosts:\n    n1: { ansible_host: 192.0.2.1 }\n  children:\n    etcd:\n      hosts:\n        n1: { ip: 10.0.0.1 }\n    kube_control_plane:\n      hosts:\n        n1:\n`;
    const r = inventoryToCluster(text, 'yaml', OPTIONS);
    expect(r.ok && r.spec.hosts[0]?.address).toBe('10.0.0.1');
  });

  it('uses the inventory name as the address when it is an IP', () => {
    const r = inventoryToCluster('[etcd]\n10.0.0.7\n[kube_control_plane]\n10.0.0.7\n', 'ini', OPTIONS);
    // As in kubespray: an IP is a valid host name, and then it is also the address.
    expect(r.ok).toBe(true);
    expect(r.ok && r.spec.hosts[0]).toEqual({ name: '10.0.0.7', address: '10.0.0.7', roles: ['etcd', 'control-plane'] });
  });
});

describe('detectInventoryFormat', () => {
  it.each([
    ['hosts.yaml', 'all: {}', 'yaml'],
    ['hosts.yml', '[x]', 'yaml'],
    ['inventory.ini', 'all:', 'ini'],
    ['hosts', '# comment\n\n[all]\nnode1 ansible_host=1.2.3.4\n', 'ini'],
    ['hosts', 'node1 ansible_host=1.2.3.4\n', 'ini'],
    ['hosts', '---\nall:\n  hosts: {}\n', 'yaml'],
  ] as const)('%s %j → %s', (name, text, format) => {
    expect(detectInventoryFormat(name, text)).toBe(format);
  });
});

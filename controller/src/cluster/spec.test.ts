import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { DEFAULT_VERSIONS, inlineCniManifest, type ManifestReader, MAX_CNI_MANIFEST_BYTES, parseClusterYaml } from './spec.js';
import { CLUSTER_YAML } from './testing.js';


function problemsOf(text: string) {
  const r = parseClusterYaml(text);
  if (r.ok) throw new Error('expected problems');
  return r.problems;
}

describe('parseClusterYaml', () => {
  it('applies every default', () => {
    const r = parseClusterYaml(CLUSTER_YAML);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.spec.vip).toEqual({ address: '10.0.0.10', interface: 'eth0', port: 6443 });
    expect(r.spec.network).toEqual({ podCidr: '10.244.0.0/16', serviceCidr: '10.96.0.0/12', dnsDomain: 'cluster.local', cniManifest: 'manifests/calico.yaml' });
    expect(r.spec.rollout).toEqual({ workerBatch: 1, maxFailures: 0 });
    expect(r.spec.hosts[0]).toEqual({ name: 'cp-1', address: '10.0.0.11', roles: ['etcd', 'control-plane'] });
  });

  it('defaults omitted sections: versions from the built-in catalogue, rollout 20%', () => {
    const text = CLUSTER_YAML.replace(/versions:\n( {2}.*\n)+/, '').replace(/network:\n( {2}.*\n)+/, '').replace(/rollout:\n( {2}.*\n)+/, '');
    const r = parseClusterYaml(text);
    expect(r.ok && r.spec.versions).toEqual({ kubernetes: '1.36.3', etcd: '3.5.33', containerd: '1.7.22' });
    expect(DEFAULT_VERSIONS.kubernetes).toBe('1.36.3');
    expect(r.ok && r.spec.rollout).toEqual({ workerBatch: '20%', maxFailures: 0 });
    expect(r.ok && r.spec.network.cniManifest).toBeUndefined();
  });

  it('keeps a version with a pre-release and build metadata whole (the mirror lookup needs it)', () => {
    for (const v of ['1.36.3+ballast.standin', 'v1.36.0-rc.1+ballast.2', '1.36.3-alpha.0']) {
      const r = parseClusterYaml(CLUSTER_YAML.replace('kubernetes: v1.36.3', `kubernetes: ${v}`));
      expect(r.ok && r.spec.versions.kubernetes).toBe(v);
    }
    for (const v of ['1.36.3+', '1.36.3+a+b', '1.36.3-']) {
      expect(problemsOf(CLUSTER_YAML.replace('kubernetes: v1.36.3', `kubernetes: "${v}"`))).toEqual([
        { path: '/versions/kubernetes', message: 'must be a version such as 1.36.3 or 1.36.3+build.1' },
      ]);
    }
  });

  it('fills VIP health defaults only when health is given', () => {
    const r = parseClusterYaml(CLUSTER_YAML.replace('  interface: eth0\n', '  interface: eth0\n  health: { kind: tcp }\n'));
    expect(r.ok && r.spec.vip.health).toEqual({ kind: 'tcp', path: '/readyz', intervalMs: 1000, rise: 2, fall: 3 });
  });

  it('reports every schema problem at once, each with its path', () => {
    const doc = {
      apiVersion: 'ballast.dev/v1',
      kind: 'Cluster',
      name: 'Prod_1',
      versions: { kubernetes: 'latest' },
      vip: { address: 'ten', port: 70000, extra: 1 },
      network: { podCidr: '10.244.0.0', cniManifest: { url: 'x' } },
      hosts: [
        { name: 'cp-1', address: '10.0.0.11', roles: ['etcd', 'master'] },
        { name: 'cp-2', address: '10.0.0.12', roles: [] },
        { name: 'cp-3', address: '10.0.0.13', roles: ['etcd', 'etcd'] },
      ],
      rollout: { workerBatch: '150%', maxFailures: -1 },
      extra: true,
    };
    expect(problemsOf(stringify(doc))).toEqual([
      { path: '/extra', message: 'unknown key' },
      { path: '/apiVersion', message: 'must be ballast.dev/v1alpha1' },
      { path: '/name', message: 'must be a DNS label (a-z, 0-9 and "-", at most 63 characters)' },
      { path: '/versions/kubernetes', message: 'must be a version such as 1.36.3 or 1.36.3+build.1' },
      { path: '/vip/interface', message: 'is required: an interface name such as eth0 (at most 15 characters)' },
      { path: '/vip/extra', message: 'unknown key' },
      { path: '/vip/address', message: 'must be an IPv4 or IPv6 address' },
      { path: '/vip/port', message: 'expected integer to be less or equal to 65535' },
      { path: '/network/podCidr', message: 'must be a CIDR such as 10.244.0.0/16' },
      { path: '/network/cniManifest', message: 'must be a path to the manifest file relative to cluster.yaml' },
      { path: '/hosts/0/roles/1', message: 'must be one of etcd, control-plane, worker' },
      { path: '/hosts/1/roles', message: 'expected array length to be greater or equal to 1' },
      { path: '/hosts/2/roles', message: 'lists a value twice' },
      { path: '/rollout/workerBatch', message: 'must be a number of hosts (1 or more) or a percentage such as 20%' },
      { path: '/rollout/maxFailures', message: 'expected integer to be greater or equal to 0' },
    ]);
  });

  it.each([
    ['not a mapping', '- a\n- b\n', [{ path: '/', message: 'must be a mapping (apiVersion, kind, name, …)' }]],
    ['empty', '', [{ path: '/', message: 'must be a mapping (apiVersion, kind, name, …)' }]],
    ['no hosts', 'apiVersion: ballast.dev/v1alpha1\nkind: Cluster\nname: a\nvip: {address: 10.0.0.1, interface: eth0}\nhosts: []\n', [{ path: '/hosts', message: 'expected array length to be greater or equal to 1' }]],
  ])('%s', (_label, text, problems) => {
    expect(problemsOf(text)).toEqual(problems);
  });

  it('suggests the key meant for a mistyped one', () => {
    const doc = { apiVersion: 'ballast.dev/v1alpha1', kind: 'Cluster', name: 'lab', vip: { adress: '10.0.0.100', interface: 'eth0' }, host: [] };
    const problems = problemsOf(stringify(doc));
    expect(problems).toContainEqual({ path: '/vip/adress', message: 'unknown key (Did you mean address?)' });
    expect(problems).toContainEqual({ path: '/host', message: 'unknown key (Did you mean hosts?)' });
  });

  it('refuses invalid YAML, duplicate keys and oversized documents with a path', () => {
    expect(problemsOf('name: [unclosed\n')[0]).toMatchObject({ path: '/', message: expect.stringMatching(/^is not valid YAML: /) });
    expect(problemsOf('name: a\nname: b\n')[0]).toMatchObject({ path: '/', message: expect.stringContaining('is not valid YAML') });
    expect(problemsOf(`# ${'x'.repeat(1024 * 1024)}\n`)).toEqual([{ path: '/', message: 'is 1048579 bytes, over the 1048576-byte limit' }]);
  });

  it('refuses alias bombs', () => {
    const bomb = `a: &a [x, x, x, x, x, x, x, x, x, x]\nb: &b [${Array(10).fill('*a').join(', ')}]\nc: &c [${Array(10).fill('*b').join(', ')}]\nd: [${Array(10).fill('*c').join(', ')}]\n`;
    expect(problemsOf(bomb)[0]?.message).toMatch(/^is not valid YAML: .*alias/i);
  });
});

describe('inlineCniManifest', () => {
  const files = new Map<string, string>([['/etc/ballast/manifests/calico.yaml', 'kind: DaemonSet\n']]);
  const reader = (sizes: Record<string, number> = {}): ManifestReader => ({
    size: (p) => sizes[p] ?? (files.has(p) ? Buffer.byteLength(files.get(p) ?? '') : null),
    read: (p) => files.get(p) ?? '',
  });
  const spec = () => {
    const r = parseClusterYaml(CLUSTER_YAML);
    if (!r.ok) throw new Error('bad fixture');
    return r.spec;
  };

  it('reads the path relative to the cluster file and sends the content inline', () => {
    const out = inlineCniManifest(spec(), { clusterFile: '/etc/ballast/cluster.yaml', reader: reader() });
    expect(out.problems).toEqual([]);
    expect(out.spec.network.cniManifest).toEqual({ inline: 'kind: DaemonSet\n' });
  });

  it.each([
    ['/elsewhere/cluster.yaml', {}, 'cannot read /elsewhere/manifests/calico.yaml: no such file'],
    ['/etc/ballast/cluster.yaml', { '/etc/ballast/manifests/calico.yaml': MAX_CNI_MANIFEST_BYTES + 1 }, `/etc/ballast/manifests/calico.yaml is ${MAX_CNI_MANIFEST_BYTES + 1} bytes, over the ${MAX_CNI_MANIFEST_BYTES}-byte limit`],
    ['/etc/ballast/cluster.yaml', { '/etc/ballast/manifests/calico.yaml': 0 }, '/etc/ballast/manifests/calico.yaml is empty'],
  ])('%s %j → problem', (clusterFile, sizes, message) => {
    const out = inlineCniManifest(spec(), { clusterFile, reader: reader(sizes) });
    expect(out.problems).toEqual([{ path: '/network/cniManifest', message }]);
    expect(out.spec.network.cniManifest).toBe('manifests/calico.yaml');
  });
});

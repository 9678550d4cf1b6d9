import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLUSTER_YAML } from '../../../controller/src/cluster/testing.js';
import { runCli } from '../cli.js';

// An empty home (no ballastctl config): validate must work offline, without a controller.
const dir = mkdtempSync(join(tmpdir(), 'ballastctl-cluster-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

beforeAll(() => {
  mkdirSync(join(dir, 'manifests'));
  writeFileSync(join(dir, 'manifests/calico.yaml'), 'apiVersion: v1\nkind: List\nitems: []\n');
  writeFileSync(join(dir, 'cluster.yaml'), CLUSTER_YAML);
  writeFileSync(
    join(dir, 'bad.yaml'),
    CLUSTER_YAML.replace('address: 10.0.0.10', 'address: 10.0.0.11')
      .replace('roles: [worker] }\n  - { name: w-2', 'roles: [etcd, worker] }\n  - { name: w-2')
      .replace('  interface: eth0\n', '  interface: eth0\n  color: blue\n'),
  );
  writeFileSync(join(dir, 'inventory.ini'), '[all]\nnode1 ansible_host=10.1.0.11\nnode2 ansible_host=10.1.0.12\n[etcd]\nnode1\n[kube_control_plane]\nnode1\n[kube_node]\nnode2\n');
});

async function run(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await runCli(argv, { stdout: { write: (s: string) => (out += s) }, stderr: { write: (s: string) => (err += s) }, env: {}, homedir: dir, cwd: dir });
  return { code, out, err };
}

describe('ballastctl cluster validate', () => {
  it('accepts a valid cluster.yaml offline, with notes on what it could not check', async () => {
    const r = await run('cluster', 'validate', '-f', 'cluster.yaml');
    expect(r).toMatchObject({ code: 0, err: '' });
    expect(r.out).toContain('note: /hosts: not checked offline: enrolment, health, facts and clocks (cluster create checks them)\n');
    expect(r.out).toMatch(/cluster\.yaml: valid: cluster "prod", 3 etcd, 3 control-plane, 2 worker host\(s\); Kubernetes v1\.36\.3\n$/);
  });

  it('prints every problem with its path and exits 2', async () => {
    const r = await run('cluster', 'validate', '-f', 'bad.yaml');
    expect(r.code).toBe(2);
    expect(r.out).toBe('/vip/color: unknown key\n');
    expect(r.err).toBe('error: bad.yaml: 1 problem; nothing was started\n');
    writeFileSync(join(dir, 'bad2.yaml'), CLUSTER_YAML.replace('address: 10.0.0.10', 'address: 10.0.0.11').replace('roles: [worker] }', 'roles: [etcd, worker] }').replace('manifests/calico.yaml', 'missing.yaml'));
    const r2 = await run('cluster', 'validate', '-f', 'bad2.yaml');
    expect(r2.code).toBe(2);
    expect(r2.out.split('\n').filter((l) => l.startsWith('/'))).toEqual([
      `/network/cniManifest: cannot read ${join(dir, 'missing.yaml')}: no such file`,
      '/hosts: 4 hosts have the etcd role: 4 members tolerate 1 failure, no more than 3 do, and every write waits for one more voter; use 3 or 5',
      '/vip/address: is the address of "cp-1" (/hosts/0/address): the VIP must be an unused address',
    ]);
    expect(r2.err).toBe('error: bad2.yaml: 3 problems; nothing was started\n');
  });

  it('prints the report as JSON with -o json', async () => {
    const r = await run('cluster', 'validate', '-f', 'bad.yaml', '-o', 'json');
    expect(r.code).toBe(2);
    expect(JSON.parse(r.out)).toEqual({ source: 'bad.yaml', valid: false, problems: [{ path: '/vip/color', message: 'unknown key' }], notes: [] });
    const ok = JSON.parse((await run('cluster', 'validate', '-f', 'cluster.yaml', '-o', 'json')).out);
    expect(ok).toMatchObject({ valid: true, problems: [], cluster: { name: 'prod', vip: { port: 6443 } } });
  });

  it('names a flag, not a document path, for a bad value that came from it', async () => {
    const r = await run('cluster', 'validate', '--inventory', 'inventory.ini', '--name', 'lab', '--vip', '10.1.0.11', '--vip-interface', 'eth0');
    expect(r.out).toContain('--vip: is the address of "node1"');
    expect(r.out).not.toContain('/vip/address');
  });

  it('reads a kubespray inventory with the flags for what it lacks', async () => {
    const r = await run('cluster', 'validate', '--inventory', 'inventory.ini', '--name', 'lab', '--vip', '10.1.0.10', '--vip-interface', 'eth0', '--kubernetes-version', '1.36.3');
    expect(r).toMatchObject({ code: 0, err: '' });
    expect(r.out).toContain('inventory.ini: valid: cluster "lab", 1 etcd, 1 control-plane, 1 worker host(s); Kubernetes 1.36.3');
    const missing = await run('cluster', 'validate', '--inventory', 'inventory.ini');
    expect(missing.code).toBe(2);
    expect(missing.out).toContain('/vip/address: is required: an IPv4 or IPv6 address\n');
  });

  it.each([
    [['cluster', 'validate'], 'error: one of -f <cluster.yaml> or --inventory <file> is required'],
    [['cluster', 'validate', '-f', 'cluster.yaml', '--inventory', 'inventory.ini'], "error: option '-f, --file <path>' cannot be used with option '--inventory <path>'"],
    [['cluster', 'validate', '-f', 'cluster.yaml', '--vip', '10.0.0.1'], 'error: --vip applies to --inventory only; with -f the cluster file says it'],
    [['cluster', 'validate', '-f', 'nope.yaml'], `error: cannot read ${join(dir, 'nope.yaml')}: ENOENT`],
    [['cluster', 'validate', '--inventory', 'inventory.ini', '--vip-port', '0'], "error: option '--vip-port <port>' argument '0' is invalid"],
  ])('%j is a usage error', async (argv, message) => {
    const r = await run(...argv);
    expect(r.code).toBe(2);
    expect(r.out).toBe('');
    expect(r.err.startsWith(message)).toBe(true);
    expect(r.err.trim().split('\n')).toHaveLength(1);
  });
});

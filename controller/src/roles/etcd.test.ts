import { describe, expect, it } from 'vitest';
import { renderRole, redactRoleVars } from './index.js';
import { art, FULL_MIRROR, fakeMirror, HOST, mustRender, pem, TEST_TLS } from './testing.js';
import type { RoleTask } from './types.js';

const TLS = TEST_TLS;

const find = (tasks: RoleTask[], name: string): RoleTask => {
  const t = tasks.find((x) => x.name === name);
  if (t === undefined) throw new Error(`no task "${name}"`);
  return t;
};
const content = (t: RoleTask) => (t.args as { content: string }).content;

describe('etcd', () => {
  it('renders binaries from the upstream tarball layout, a 0700 data dir and the TLS files', () => {
    const role = mustRender('etcd', { tls: TLS });
    expect(role.tasks.map((t) => t.name)).toEqual([
      'Install etcd and etcdctl',
      'Create data directory /var/lib/etcd',
      'Prepare member directory /var/lib/etcd/member',
      'Create directory /etc/etcd',
      'Create directory /etc/etcd/pki',
      'Write /etc/etcd/pki/ca.crt',
      'Write /etc/etcd/pki/server.crt',
      'Write /etc/etcd/pki/server.key',
      'Write /etc/etcd/pki/peer.crt',
      'Write /etc/etcd/pki/peer.key',
      'Write /etc/etcd/etcd.env',
      'Install etcd.service',
      'Start etcd.service',
      'Register component etcd',
    ]);
    expect(find(role.tasks, 'Install etcd and etcdctl').args).toMatchObject({
      version: '3.5.33',
      install: [
        { from: 'etcd-v3.5.33-linux-amd64/etcd', to: '/usr/local/bin/etcd', mode: '0755' },
        { from: 'etcd-v3.5.33-linux-amd64/etcdctl', to: '/usr/local/bin/etcdctl', mode: '0755' },
      ],
    });
    expect(find(role.tasks, 'Create data directory /var/lib/etcd').args).toMatchObject({ path: '/var/lib/etcd', mode: '0700' });
    // A build of a release (build metadata) unpacks from the release's directory, as etcd packs it.
    const lab = mustRender('etcd', { tls: TLS, version: '3.5.33+ballast.lab' }, fakeMirror([art('etcd', '3.5.33+ballast.lab')]));
    expect(find(lab.tasks, 'Install etcd and etcdctl').args).toMatchObject({
      version: '3.5.33+ballast.lab',
      install: [expect.objectContaining({ from: 'etcd-v3.5.33-linux-amd64/etcd' }), expect.objectContaining({ from: 'etcd-v3.5.33-linux-amd64/etcdctl' })],
    });
    const key = find(role.tasks, 'Write /etc/etcd/pki/server.key');
    expect(key.args).toMatchObject({ mode: '0600', content: TLS.serverKey });
    expect(key.sensitive).toBe(true);
    expect(find(role.tasks, 'Write /etc/etcd/pki/ca.crt').sensitive).toBeUndefined();
    for (const t of role.tasks.filter((x) => x.name.startsWith('Write '))) expect(t.notify).toEqual(['restart etcd']);
    expect(role.handlers.map((h) => h.name)).toEqual(['restart etcd']);
  });

  it('etcd starts only in a member directory the role prepared: a destroyed data dir keeps it down instead of bootstrapping an empty cluster', () => {
    const role = mustRender('etcd', { tls: TLS, dataDir: '/var/lib/etcd/data' });
    const names = role.tasks.map((t) => t.name);
    // Through the agent's etcd_data guard: created on a new host, refused where a member's data was lost.
    expect(find(role.tasks, 'Prepare member directory /var/lib/etcd/data/member')).toMatchObject({ module: 'etcd_data', args: { action: 'prepare', member: 'node-1', dataDir: '/var/lib/etcd/data' } });
    expect(names.indexOf('Prepare member directory /var/lib/etcd/data/member')).toBeLessThan(names.indexOf('Start etcd.service'));
    // The member a --from-member recovery keeps: its data must be there, nothing is created.
    const kept = mustRender('etcd', { tls: TLS, requireData: true }).tasks;
    expect(find(kept, 'Require etcd data in /var/lib/etcd/member')).toMatchObject({ module: 'etcd_data', args: { action: 'require' } });
    expect(kept.map((t) => t.name)).not.toContain('Prepare member directory /var/lib/etcd/member');
    // Installed before a restore writes the data: no member-directory task at all.
    expect(mustRender('etcd', { tls: TLS, start: false, prepareMember: false }).tasks.filter((t) => t.module === 'etcd_data')).toEqual([]);
    const unit = content(find(role.tasks, 'Install etcd.service'));
    expect(unit.split('\n').filter((l) => l.startsWith('AssertPathExists='))).toEqual(['AssertPathExists=/var/lib/etcd/data/member']);
    expect(unit.indexOf('AssertPathExists=')).toBeLessThan(unit.indexOf('[Service]'));
    // Without start the directory is prepared too: the later start (the bootstrap's etcd phase) needs it.
    expect(mustRender('etcd', { tls: TLS, start: false }).tasks.map((t) => t.name)).toContain('Prepare member directory /var/lib/etcd/member');
  });

  it('start: false installs the same files and enables etcd without starting or supervising it; a running member try-restarts', () => {
    const started = mustRender('etcd', { tls: TLS });
    const installed = mustRender('etcd', { tls: TLS, start: false });
    const files = (r: typeof started) => r.tasks.filter((t) => t.name.startsWith('Write ')).map((t) => [t.name, content(t)]);
    expect(files(installed)).toEqual(files(started));
    expect(installed.tasks.map((t) => t.name).slice(-2)).toEqual(['Write /etc/etcd/etcd.env', 'Install etcd.service']);
    expect(find(installed.tasks, 'Install etcd.service')).toEqual(find(started.tasks, 'Install etcd.service'));
    expect(find(installed.tasks, 'Install etcd.service').args).toMatchObject({ unit: 'etcd.service', enabled: true });
    // Starting does not notify the restart handler: a first start is one start.
    expect(find(started.tasks, 'Start etcd.service')).toMatchObject({ args: { unit: 'etcd.service', state: 'started' } });
    expect(find(started.tasks, 'Start etcd.service').notify ?? []).toEqual([]);
    expect(installed.tasks.some((t) => t.name.startsWith('Register component'))).toBe(false);
    expect(installed.handlers.map((h) => h.args)).toEqual([{ unit: 'etcd.service', state: 'try-restarted' }]);
    expect(started.handlers.map((h) => h.args)).toEqual([{ unit: 'etcd.service', state: 'restarted' }]);
  });

  it('writes a single-member environment on the host address, with mTLS for clients and peers', () => {
    const env = content(find(mustRender('etcd', { tls: TLS, extraEnv: { ETCD_HEARTBEAT_INTERVAL: '250' } }).tasks, 'Write /etc/etcd/etcd.env'));
    const lines = env.trim().split('\n');
    expect(lines).toEqual(
      expect.arrayContaining([
        'ETCD_NAME=node-1',
        'ETCD_DATA_DIR=/var/lib/etcd',
        'ETCD_LISTEN_CLIENT_URLS=https://198.18.0.2:2379,https://127.0.0.1:2379',
        'ETCD_ADVERTISE_CLIENT_URLS=https://198.18.0.2:2379',
        'ETCD_INITIAL_CLUSTER=node-1=https://198.18.0.2:2380',
        'ETCD_INITIAL_CLUSTER_STATE=new',
        'ETCD_CLIENT_CERT_AUTH=true',
        'ETCD_PEER_CLIENT_CERT_AUTH=true',
        'ETCD_TRUSTED_CA_FILE=/etc/etcd/pki/ca.crt',
        'ETCD_PEER_KEY_FILE=/etc/etcd/pki/peer.key',
        'ETCD_HEARTBEAT_INTERVAL=250',
      ]),
    );
  });

  it('probes /health over the client URL with the server pair, or a dedicated client pair when given', () => {
    const probe = (vars: Record<string, unknown>) => JSON.parse(content(find(mustRender('etcd', vars).tasks, 'Register component etcd'))) as { probe: Record<string, string> };
    expect(probe({ tls: TLS }).probe).toEqual({
      kind: 'etcd',
      url: 'https://127.0.0.1:2379/health',
      caFile: '/etc/etcd/pki/ca.crt',
      certFile: '/etc/etcd/pki/server.crt',
      keyFile: '/etc/etcd/pki/server.key',
    });
    const client = { ...TLS, clientCert: pem('CERTIFICATE', 'CLIENT'), clientKey: pem('EC PRIVATE KEY', 'CLIENTKEY') };
    expect(probe({ tls: client, clientPort: 12379 }).probe).toMatchObject({ url: 'https://127.0.0.1:12379/health', certFile: '/etc/etcd/pki/healthcheck-client.crt' });
  });

  it('brackets IPv6 and unmaps ::ffff: IPv4 addresses in URLs', () => {
    const env6 = content(find(mustRender('etcd', { tls: TLS }, undefined, { ...HOST, address: 'fd00::2' }).tasks, 'Write /etc/etcd/etcd.env'));
    expect(env6).toContain('ETCD_ADVERTISE_CLIENT_URLS=https://[fd00::2]:2379');
    const mapped = content(find(mustRender('etcd', { tls: TLS }, undefined, { ...HOST, address: '::ffff:198.18.0.9' }).tasks, 'Write /etc/etcd/etcd.env'));
    expect(mapped).toContain('ETCD_INITIAL_CLUSTER=node-1=https://198.18.0.9:2380');
  });

  it('reports every problem: missing TLS fields, a role-owned extraEnv key, a cluster without this member, no address', () => {
    const r = renderRole('etcd', {
      host: { ...HOST, address: null },
      artifacts: FULL_MIRROR,
      vars: { tls: { caCert: 'not a pem' } },
    });
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.problems.map((p) => p.path)).toEqual(
      expect.arrayContaining(['/vars/tls/caCert', '/vars/tls/serverCert', '/vars/tls/serverKey', '/vars/tls/peerCert', '/vars/tls/peerKey']),
    );
    const semantic = renderRole('etcd', {
      host: { ...HOST, address: null },
      artifacts: FULL_MIRROR,
      vars: { tls: TLS, extraEnv: { ETCD_DATA_DIR: '/tmp' }, initialCluster: 'other=https://10.0.0.1:2380' },
    });
    expect(semantic.ok).toBe(false);
    if (semantic.ok) return;
    expect(semantic.problems.map((p) => p.path)).toEqual(['/vars/advertiseAddress', '/vars/extraEnv/ETCD_DATA_DIR', '/vars/initialCluster']);
  });

  it('redacts private keys from vars kept for display, and nothing else', () => {
    const shown = redactRoleVars('etcd', { tls: { ...TLS, clientKey: 'k' }, name: 'm1' }) as { tls: Record<string, string>; name: string };
    expect(shown.tls.serverKey).toBe('<redacted>');
    expect(shown.tls.peerKey).toBe('<redacted>');
    expect(shown.tls.clientKey).toBe('<redacted>');
    expect(shown.tls.caCert).toBe(TLS.caCert);
    expect(shown.name).toBe('m1');
    expect(redactRoleVars('os-prep', { swapOff: false })).toEqual({ swapOff: false });
  });
});

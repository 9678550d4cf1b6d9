import { describe, expect, it } from 'vitest';
import { renderRole } from './index.js';
import { FULL_MIRROR, HOST, mustRender } from './testing.js';

const RESTORE = {
  action: 'restore',
  version: '3.5.33',
  restoreId: 'op-1',
  name: 'node-1',
  initialCluster: 'node-1=https://198.18.0.11:2380,node-2=https://198.18.0.12:2380',
  peerUrls: ['https://198.18.0.11:2380'],
  initialClusterToken: 'ballast-lab-r1',
  snapshot: { cluster: 'lab', id: 'snap-1', sha256: 'a'.repeat(64), size: 10 },
  bumpRevision: 1_000_000_000,
  endpoints: ['https://198.18.0.11:2379', 'https://198.18.0.12:2379'],
};

describe('recovery roles', () => {
  it('etcd-restore: etcdutl from the etcd artifact, then one etcd_restore task with the fields as data', () => {
    const role = mustRender('etcd-restore', RESTORE);
    expect(role.tasks.map((t) => t.module)).toEqual(['artifact', 'etcd_restore']);
    expect(role.tasks[0]?.args).toMatchObject({ name: 'etcd', install: [{ from: expect.stringMatching(/^etcd-v[0-9.]+-linux-amd64\/etcdutl$/), to: '/usr/local/bin/etcdutl', mode: '0755' }] });
    const { version: _v, ...rest } = RESTORE;
    expect(role.tasks[1]).toMatchObject({ name: 'Restore etcd member node-1 from snapshot snap-1', args: { ...rest, dataDir: '/var/lib/etcd' } });
  });

  it('kubelet-restart: one systemd task that restarts kubelet.service (registers its Node again)', () => {
    const role = mustRender('kubelet-restart', {});
    expect(role.tasks.map((t) => [t.module, t.args])).toEqual([['systemd', { unit: 'kubelet.service', state: 'restarted' }]]);
    expect(role.handlers).toEqual([]);
  });

  it('set-aside and the quorum check need no snapshot and install nothing', () => {
    const role = mustRender('etcd-restore', { action: 'set-aside', restoreId: 'op-1', endpoints: ['https://198.18.0.11:2379'] });
    // Set aside on purpose: the marker is forgotten, so the member may rejoin with a fresh directory.
    expect(role.tasks.map((t) => `${t.module}:${t.name}`)).toEqual(['etcd_restore:Set /var/lib/etcd aside (kept)', 'etcd_data:Forget the etcd member marker (data set aside on purpose)']);
    expect(role.tasks[1]?.args).toEqual({ action: 'forget', member: 'node-1', dataDir: '/var/lib/etcd' });
    expect(mustRender('etcd-restore', { action: 'assert-no-quorum', restoreId: 'op-1', endpoints: ['https://198.18.0.11:2379'] }).tasks.map((t) => t.module)).toEqual(['etcd_restore']);
  });

  it('etcd-data requires the member\'s data (read-only); etcd-wipe and reset forget the marker after removing the data', () => {
    expect(mustRender('etcd-data', {}).tasks.map((t) => [t.module, t.args])).toEqual([['etcd_data', { action: 'require', member: 'node-1', dataDir: '/var/lib/etcd' }]]);
    const wipe = mustRender('etcd-wipe', {}).tasks.map((t) => t.module);
    expect(wipe.slice(-2)).toEqual(['directory', 'etcd_data']);
    expect(mustRender('etcd-wipe', {}).tasks.at(-1)?.args).toEqual({ action: 'forget', member: 'node-1', dataDir: '/var/lib/etcd' });
    const reset = mustRender('reset', {}).tasks;
    expect(reset.findIndex((t) => t.module === 'etcd_data' && (t.args as { action: string }).action === 'forget')).toBeGreaterThan(reset.findIndex((t) => t.name === 'Remove /var/lib/etcd'));
  });

  it('refuses a restore without its fields and a data dir outside /var/lib/etcd', () => {
    const missing = renderRole('etcd-restore', { host: HOST, artifacts: FULL_MIRROR, vars: { action: 'restore', restoreId: 'op-1', endpoints: ['https://198.18.0.11:2379'] } });
    expect(missing.ok ? [] : missing.problems.map((p) => p.path)).toEqual(['/vars/name', '/vars/initialCluster', '/vars/peerUrls', '/vars/snapshot']);
    const unsafe = renderRole('etcd-restore', { host: HOST, artifacts: FULL_MIRROR, vars: { ...RESTORE, dataDir: '/etc' } });
    expect(unsafe.ok ? [] : unsafe.problems).toEqual([expect.objectContaining({ path: '/vars/dataDir', code: 'BALLAST_ERR_UNSAFE_PATH' })]);
  });

  it('static-pods parks the API server, waits for 6443 to close and kills it after 5 s; etcd-stop keeps the data', () => {
    expect(mustRender('static-pods', { state: 'parked' }).tasks[0]?.args).toEqual({ name: 'kube-apiserver', state: 'parked', waitPortClosed: 6443, timeoutMs: 120_000, killAfterMs: 5000 });
    expect(mustRender('static-pods', { state: 'active' }).tasks[0]?.args).toEqual({ name: 'kube-apiserver', state: 'active' });
    expect(mustRender('etcd-stop').tasks.map((t) => t.module)).toEqual(['file', 'systemd']);
  });
});

/**
 * `etcd_restore`'s crash windows and argv, with a stand-in etcdutl (an exec port that creates the
 * data dir it is told to) and an etcd connector whose members never answer. The real etcdutl and
 * etcd run in test/integration/etcd-restore.test.ts.
 */
import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { beforeEach, describe, expect, it } from 'vitest';
import { BallastError } from '../../../../shared/src/errors.js';
import type { EtcdClient } from '../../etcd/client.js';
import { createModuleRegistry } from '../registry.js';
import { FakeSystemd, fakeExec, makeTempRoot, rejection, testContext } from '../testing.js';
import { createEtcdRestoreModule } from './etcd-restore.js';

const SNAP = Buffer.from('snapshot bytes');
const SHA = createHash('sha256').update(SNAP).digest('hex');
const silentEtcd = () =>
  ({
    status: async () => {
      throw new BallastError('BALLAST_ERR_ETCD_UNAVAILABLE', 'no answer');
    },
  }) as unknown as EtcdClient;
const registry = createModuleRegistry([createEtcdRestoreModule({ connect: silentEtcd, now: () => new Date('2026-12-07T00:00:00Z') })]);
const ARGS = {
  action: 'restore',
  restoreId: 'op-1',
  name: 'h1',
  initialCluster: 'h1=https://10.0.0.1:2380,h2=https://10.0.0.2:2380',
  peerUrls: ['https://10.0.0.1:2380'],
  initialClusterToken: 'ballast-lab-r1',
  snapshot: { cluster: 'lab', id: 'snap-1', sha256: SHA, size: SNAP.length },
  bumpRevision: 1000,
  endpoints: ['https://127.0.0.1:1', 'https://127.0.0.1:2'],
};

let root = '';
/** etcdutl's stand-in: makes the --data-dir it is given, with a member dir and a file naming the run. */
const etcdutl = fakeExec(async (argv) => {
  const dir = (argv.find((a) => a.startsWith('--data-dir=')) ?? '').slice('--data-dir='.length);
  await mkdir(join(dir, 'member'), { recursive: true });
  await writeFile(join(dir, 'member', 'run'), String(etcdutl.calls.length));
  return { code: 0, stdout: '', stderr: '' };
});
const ctx = (overrides = {}) => testContext(root, { exec: etcdutl, systemd: new FakeSystemd(), snapshots: { openSnapshot: async () => ({ stream: Readable.from([SNAP]), size: SNAP.length }) }, ...overrides });
const lib = async () => (await readdir(join(root, 'var/lib'))).sort();

beforeEach(async () => {
  root = await makeTempRoot();
  etcdutl.calls.length = 0;
  await mkdir(join(root, 'etc/etcd/pki'), { recursive: true });
  for (const f of ['ca.crt', 'server.crt', 'server.key']) await writeFile(join(root, 'etc/etcd/pki', f), 'x');
  await mkdir(join(root, 'usr/local/bin'), { recursive: true });
  await writeFile(join(root, 'usr/local/bin/etcdutl'), '');
  await mkdir(join(root, 'var/lib/etcd/member'), { recursive: true });
  await writeFile(join(root, 'var/lib/etcd/member/old'), 'old data');
});

describe('etcd_restore', () => {
  it('builds etcdutl argv itself from the fields, keeps the old dir, writes the marker', async () => {
    const out = await registry.run('etcd_restore', ARGS, ctx());
    expect(out.changed).toBe(true);
    expect(etcdutl.calls[0]).toEqual([
      join(root, 'usr/local/bin/etcdutl'),
      'snapshot',
      'restore',
      join(root, 'var/lib/etcd.restore-op-1.db'),
      `--data-dir=${join(root, 'var/lib/etcd.restore-op-1')}`,
      '--name=h1',
      '--initial-cluster=h1=https://10.0.0.1:2380,h2=https://10.0.0.2:2380',
      '--initial-advertise-peer-urls=https://10.0.0.1:2380',
      '--initial-cluster-token=ballast-lab-r1',
      '--bump-revision=1000',
      '--mark-compacted',
    ]);
    expect(await lib()).toEqual(['etcd', 'etcd.ballast-restore.json', 'etcd.pre-restore-op-1']);
    expect(await readFile(join(root, 'var/lib/etcd.pre-restore-op-1/member/old'), 'utf8')).toBe('old data');
    expect(JSON.parse(await readFile(join(root, 'var/lib/etcd.ballast-restore.json'), 'utf8'))).toEqual({ restoreId: 'op-1', name: 'h1', snapshotSha256: SHA, bumpRevision: 1000, at: '2026-12-07T00:00:00.000Z' });
  });

  it('killed between the two renames (old moved away, new not in place): finishes, the old data still kept', async () => {
    await rename(join(root, 'var/lib/etcd'), join(root, 'var/lib/etcd.pre-restore-op-1'));
    await mkdir(join(root, 'var/lib/etcd.restore-op-1/member'), { recursive: true }); // a half-written staging dir
    expect((await registry.run('etcd_restore', ARGS, ctx())).changed).toBe(true);
    expect(await lib()).toEqual(['etcd', 'etcd.ballast-restore.json', 'etcd.pre-restore-op-1']);
    expect(await readFile(join(root, 'var/lib/etcd.pre-restore-op-1/member/old'), 'utf8')).toBe('old data');
    expect(await readFile(join(root, 'var/lib/etcd/member/run'), 'utf8')).toBe('1');
  });

  it('killed after the swap, before the marker: restores again, keeping both the old data and its own first restore', async () => {
    await registry.run('etcd_restore', ARGS, ctx());
    await rm(join(root, 'var/lib/etcd.ballast-restore.json'));
    expect((await registry.run('etcd_restore', ARGS, ctx())).changed).toBe(true);
    expect(await lib()).toEqual(['etcd', 'etcd.ballast-restore.json', 'etcd.pre-restore-op-1', 'etcd.pre-restore-op-1.1']);
    expect(await readFile(join(root, 'var/lib/etcd.pre-restore-op-1/member/old'), 'utf8')).toBe('old data');
    expect(await registry.run('etcd_restore', ARGS, ctx())).toEqual({ changed: false, message: '/var/lib/etcd already holds restore op-1 (member h1)' });
  });

  it('refuses while etcd.service is active, without a download source, and with etcdutl failing (staging removed, old data in place)', async () => {
    const systemd = new FakeSystemd();
    await systemd.start('etcd.service');
    expect(await rejection(registry.run('etcd_restore', ARGS, ctx({ systemd })))).toMatchObject({ code: 'BALLAST_ERR_ETCD_STILL_SERVING' });
    // Still stopping is not stopped: the process runs, and a queued start may bring it back.
    systemd.states.set('etcd.service', 'deactivating');
    expect(await rejection(registry.run('etcd_restore', ARGS, ctx({ systemd })))).toMatchObject({ code: 'BALLAST_ERR_ETCD_STILL_SERVING', message: expect.stringContaining('etcd.service is deactivating') });
    expect(await rejection(registry.run('etcd_restore', ARGS, ctx({ snapshots: undefined })))).toMatchObject({ code: 'BALLAST_ERR_UNSUPPORTED' });
    const failing = fakeExec(() => ({ code: 1, stdout: '', stderr: 'Error: snapshot file integrity check failed' }));
    const err = await rejection(registry.run('etcd_restore', ARGS, ctx({ exec: failing })));
    expect(err).toMatchObject({ code: 'BALLAST_ERR_RESTORE_FAILED', message: expect.stringContaining('etcdutl exited 1: Error: snapshot file integrity check failed') });
    expect(await lib()).toEqual(['etcd', 'etcd.restore-op-1.db']);
    expect(await readFile(join(root, 'var/lib/etcd/member/old'), 'utf8')).toBe('old data');
  });

  it('refuses a restore without its fields, an initial cluster without this member, and a data dir outside /var/lib/etcd', async () => {
    const { name: _n, ...noName } = ARGS;
    expect(await rejection(registry.run('etcd_restore', noName, ctx()))).toMatchObject({ code: 'BALLAST_ERR_VALIDATION', path: '/args/name' });
    expect(await rejection(registry.run('etcd_restore', { ...ARGS, initialCluster: 'h2=https://10.0.0.2:2380' }, ctx()))).toMatchObject({ path: '/args/initialCluster' });
    expect(await rejection(registry.run('etcd_restore', { ...ARGS, dataDir: '/var/lib/kubelet' }, ctx()))).toMatchObject({ code: 'BALLAST_ERR_UNSAFE_PATH' });
    expect(etcdutl.calls).toEqual([]);
  });
});

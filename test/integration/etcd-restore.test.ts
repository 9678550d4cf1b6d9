/**
 * The agent's `etcd_restore` module against a real 3-member etcd 3.5.33 on loopback, with real
 * etcdutl and a real exec port: keys written, a snapshot taken with etcdctl, more keys written,
 * the cluster killed and the data of two members destroyed; then each member restored by the
 * module from the same snapshot (the third keeps its old data renamed), started, and checked —
 * old keys present, later ones absent, the revision above where it was, 3 healthy voters. On the
 * way: the guard refuses while the old cluster has quorum and while the local member runs, a
 * corrupted snapshot is refused with nothing touched, a repeated restore changes nothing. Then the
 * `--from-member` path: force-new-cluster on a survivor, a stale member set aside and re-added as
 * a learner with the `etcd_member` module.
 */
import { createReadStream } from 'node:fs';
import { readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createExec } from '../../agent/src/host/exec.js';
import type { ModuleOutcome, SnapshotSource } from '../../agent/src/tasks/module.js';
import { createModuleRegistry } from '../../agent/src/tasks/registry.js';
import { rejection, testContext } from '../../agent/src/tasks/testing.js';
import { messageOf } from '../../shared/src/errors.js';
import { hashFile } from '../../shared/src/hashing.js';
import { clientUrl, etcd35Available, LoopbackEtcd, peerUrl } from './etcd-loopback.js';
import { tempDir } from './harness.js';

const NAMES = ['h1', 'h2', 'h3'];
const BUMP = 1_000_000_000;

describe.skipIf(!etcd35Available())('etcd_restore against real etcd 3.5', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let etcd: LoopbackEtcd;
  const registry = createModuleRegistry();
  const exec = createExec();
  let snapshotPath = '';
  let snapshot = { cluster: 'lab', id: 'snap-1', sha256: '', size: 0 };
  let revisionBefore = 0;
  const source = (path: () => string): SnapshotSource => ({ openSnapshot: async () => ({ stream: createReadStream(path()), size: null }) });

  beforeAll(async () => {
    dir = await tempDir('etcd-restore');
    etcd = await LoopbackEtcd.create(dir.path, NAMES);
    for (const n of NAMES) etcd.start(n, NAMES, 'new');
    for (const n of NAMES) await etcd.waitLeader(n);
  }, 60_000);

  afterAll(async () => {
    await etcd?.killAll();
    await dir?.cleanup();
  });

  const endpointsFor = (name: string) => [clientUrl(etcd.member(name)), ...NAMES.filter((n) => n !== name).map((n) => clientUrl(etcd.member(n)))];
  const task = (name: string, args: Record<string, unknown>, opts: { check?: boolean; snapshots?: SnapshotSource } = {}): Promise<ModuleOutcome> =>
    registry.run(
      'etcd_restore',
      { restoreId: 'op-recover-1', endpoints: endpointsFor(name), timeoutMs: 120_000, ...args },
      testContext(etcd.member(name).root, { exec, check: opts.check ?? false, snapshots: opts.snapshots ?? source(() => snapshotPath) }),
    );
  const restoreArgs = (name: string, extra: Record<string, unknown> = {}) => ({
    action: 'restore',
    name,
    initialCluster: etcd.initialCluster(NAMES),
    peerUrls: [peerUrl(etcd.member(name))],
    initialClusterToken: 'ballast-etcd-restored',
    snapshot,
    bumpRevision: BUMP,
    ...extra,
  });

  it('refuses while the old cluster still serves with quorum', async () => {
    await etcd.put('/registry/namespaces/before', 'v1');
    await etcd.put('/registry/configmaps/default/before', 'v1');
    snapshotPath = join(dir.path, 'snapshot.db');
    await etcd.snapshot('h1', snapshotPath);
    snapshot = { ...snapshot, sha256: await hashFile(snapshotPath), size: (await stat(snapshotPath)).size };
    await etcd.put('/registry/namespaces/after', 'v2');
    revisionBefore = (await etcd.get('/registry/namespaces/after')).revision;
    // h2's own member runs: refused as local; asked for h2 with h2's endpoint dead, the peers' leader refuses it.
    // A check run cannot know the stop step before it: it reports the refusal without failing.
    expect(await task('h2', restoreArgs('h2'), { check: true })).toMatchObject({ skipped: true, message: expect.stringContaining('would restore once etcd is stopped; refused as things stand now') });
    const local = await rejection(task('h2', restoreArgs('h2')));
    expect(local).toMatchObject({ code: 'BALLAST_ERR_ETCD_STILL_SERVING' });
    expect(messageOf(local)).toContain(`something listens on the local member's client URL ${clientUrl(etcd.member('h2'))}`);
    const quorum = await rejection(task('h2', { action: 'assert-no-quorum', endpoints: ['https://127.0.0.1:1', clientUrl(etcd.member('h1')), clientUrl(etcd.member('h3'))] }));
    expect(quorum).toMatchObject({ code: 'BALLAST_ERR_ETCD_STILL_SERVING' });
    expect(messageOf(quorum)).toMatch(/the old cluster still has quorum \(https:\/\/127\.0\.0\.1:\d+ follows leader \d+/);
  }, 60_000);

  it('after quorum is lost (2 of 3 data dirs destroyed), passes the guard while the survivor answers without a leader', async () => {
    await etcd.killAll();
    await rm(etcd.dataDir('h2'), { recursive: true });
    await rm(etcd.dataDir('h3'), { recursive: true });
    etcd.start('h1', NAMES, 'new');
    await new Promise((r) => setTimeout(r, 1500));
    const out = await task('h2', { action: 'assert-no-quorum' });
    expect(out).toMatchObject({ changed: false, message: expect.stringContaining(`answering without a leader: ${clientUrl(etcd.member('h1'))}`) });
    // …but never on the survivor itself while its member runs.
    expect(await rejection(task('h1', restoreArgs('h1')))).toMatchObject({ code: 'BALLAST_ERR_ETCD_STILL_SERVING' });
    await etcd.kill('h1');
  }, 60_000);

  it('refuses a corrupted snapshot before touching anything', async () => {
    const bad = join(dir.path, 'corrupt.db');
    const bytes = await readFile(snapshotPath);
    bytes[Math.floor(bytes.length / 2)] = (bytes[Math.floor(bytes.length / 2)] ?? 0) ^ 0xff;
    await writeFile(bad, bytes);
    const before = await readdir(join(etcd.member('h1').root, 'var/lib'));
    const err = await rejection(task('h1', restoreArgs('h1'), { snapshots: source(() => bad) }));
    expect(err).toMatchObject({ code: 'BALLAST_ERR_CHECKSUM_MISMATCH' });
    expect(messageOf(err)).toContain('nothing was restored');
    expect(await readdir(join(etcd.member('h1').root, 'var/lib'))).toEqual(before);
  });

  it('check mode reports the plan and changes nothing', async () => {
    const before = await readdir(join(etcd.member('h1').root, 'var/lib'));
    const out = await task('h1', restoreArgs('h1'), { check: true });
    expect(out).toMatchObject({ changed: true, message: expect.stringMatching(/^would restore snapshot snap-1 into \/var\/lib\/etcd as member h1 of 3/) });
    expect(out.diff).toContain('~ /var/lib/etcd → /var/lib/etcd.pre-restore-op-recover-1 (kept)');
    expect(await readdir(join(etcd.member('h1').root, 'var/lib'))).toEqual(before);
  });

  it('restores every member from the same snapshot into a new cluster: old keys back, later ones gone, revision bumped, 3 voters', async () => {
    for (const n of NAMES) {
      const out = await task(n, restoreArgs(n));
      expect(out).toMatchObject({ changed: true, message: expect.stringContaining(`restored snapshot snap-1 into /var/lib/etcd as member ${n} (revision +${BUMP})`) });
    }
    // The survivor's old data is kept, renamed; the destroyed members had none.
    expect((await readdir(join(etcd.member('h1').root, 'var/lib'))).sort()).toEqual(['etcd', 'etcd.ballast-restore.json', 'etcd.pre-restore-op-recover-1']);
    expect(await readdir(join(etcd.member('h2').root, 'var/lib'))).not.toContain('etcd.pre-restore-op-recover-1');
    for (const n of NAMES) etcd.start(n, NAMES, 'new');
    for (const n of NAMES) await etcd.waitLeader(n);
    const members = await etcd.client().memberList();
    expect(members.map((m) => `${m.name}:${m.isLearner ? 'learner' : 'voter'}`).sort()).toEqual(['h1:voter', 'h2:voter', 'h3:voter']);
    for (const m of members) expect((await etcd.client().status(m.clientUrls[0] ?? '')).leader).not.toBe('0');
    expect((await etcd.get('/registry/namespaces/before')).value).toBe('v1');
    expect((await etcd.get('/registry/configmaps/default/before')).value).toBe('v1');
    const after = await etcd.get('/registry/namespaces/after');
    expect(after.value).toBeNull();
    expect(after.revision).toBeGreaterThan(revisionBefore);
    expect(after.revision).toBeGreaterThanOrEqual(BUMP);
    await etcd.put('/registry/namespaces/new', 'v3');
    expect((await etcd.get('/registry/namespaces/new')).revision).toBeGreaterThan(after.revision);
  }, 120_000);

  it('a repeated restore (a resumed operation) changes nothing, even with the new cluster running', async () => {
    expect(await task('h2', restoreArgs('h2'))).toEqual({ changed: false, message: '/var/lib/etcd already holds restore op-recover-1 (member h2)' });
  });

  it('--from-member: force-new-cluster on a survivor keeps every write; a stale member is set aside and re-added as a learner', async () => {
    await etcd.put('/registry/namespaces/late', 'v4');
    // A linearizable read through h1 returns once h1 applied the write: force-new-cluster keeps
    // only what the surviving member has (the warning the CLI repeats).
    expect((await etcd.get('/registry/namespaces/late', ['h1'])).value).toBe('v4');
    // A follower may apply an entry before its WAL records the commit index (etcd applies and saves
    // in parallel); the next heartbeats (50 ms here) persist it. Killed sooner, force-new-cluster
    // would drop the entry as uncommitted: the data loss etcd's documentation warns of.
    await new Promise((r) => setTimeout(r, 1000));
    await etcd.killAll();
    await rm(etcd.dataDir('h3'), { recursive: true });
    // The survivor's data is the newest there is: etcd rewrites its membership to itself alone.
    etcd.start('h1', ['h1'], 'new', ['--force-new-cluster']);
    await etcd.waitLeader('h1');
    expect((await etcd.get('/registry/namespaces/late', ['h1'])).value).toBe('v4');
    expect((await etcd.client(['h1']).memberList()).map((m) => m.name)).toEqual(['h1']);
    // h2's data dir belongs to the old cluster: kept aside, never deleted; the guard sees h1 leading alone —
    // which is the point of from-member, so the operation runs set-aside before the survivor starts.
    await etcd.kill('h1');
    const aside = await task('h2', { action: 'set-aside', restoreId: 'op-recover-2' });
    expect(aside).toMatchObject({ changed: true, message: expect.stringContaining('moved /var/lib/etcd aside to /var/lib/etcd.pre-restore-op-recover-2') });
    expect(await task('h2', { action: 'set-aside', restoreId: 'op-recover-2' })).toMatchObject({ changed: false });
    etcd.start('h1', ['h1'], 'existing');
    await etcd.waitLeader('h1');
    const member = (action: string, name: string) =>
      registry.run(
        'etcd_member',
        { action, name, peerUrls: [peerUrl(etcd.member(name))], endpoints: [clientUrl(etcd.member('h1'))], timeoutMs: 60_000 },
        testContext(etcd.member('h1').root),
      );
    for (const n of ['h2', 'h3']) {
      expect((await member('add', n)).changed).toBe(true);
      etcd.start(n, ['h1', ...(n === 'h3' ? ['h2'] : []), n], 'existing');
      expect((await member('promote', n)).changed).toBe(true);
      await etcd.waitLeader(n);
    }
    const members = await etcd.client().memberList();
    expect(members.map((m) => `${m.name}:${m.isLearner ? 'learner' : 'voter'}`).sort()).toEqual(['h1:voter', 'h2:voter', 'h3:voter']);
    expect((await etcd.get('/registry/namespaces/late', ['h3'])).value).toBe('v4');
  }, 180_000);
});

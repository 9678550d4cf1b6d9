import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { FakeEtcd, fakeMember } from '../../etcd/fake-client.js';
import type { ModuleContext } from '../module.js';
import { createModuleRegistry } from '../registry.js';
import { makeTempRoot, rejection, snapshotTree, testContext } from '../testing.js';
import { createEtcdMemberModule } from './etcd-member.js';

let root: string;
let fake: FakeEtcd;
beforeEach(async () => {
  root = await makeTempRoot();
  await writePki(['ca.crt', 'server.crt', 'server.key']);
  fake = new FakeEtcd({ members: [fakeMember(1)] });
});

async function writePki(files: string[]): Promise<void> {
  await mkdir(join(root, 'etc/etcd/pki'), { recursive: true });
  for (const file of files) await writeFile(join(root, 'etc/etcd/pki', file), `PEM of ${file}\n`);
}

const h = (n: number) => ({ name: `h${n}`, peerUrls: [`https://10.0.0.${n}:2380`] });
function run(args: Record<string, unknown>, overrides: Partial<ModuleContext> = {}) {
  const registry = createModuleRegistry([createEtcdMemberModule({ connect: fake.connect, retryBaseMs: 100, retryCapMs: 100 })]);
  return registry.run('etcd_member', args, testContext(root, overrides));
}

describe('etcd_member add', () => {
  it('adds a learner with the new member id, then reports it unchanged', async () => {
    const out = await run({ action: 'add', ...h(2) });
    expect(out).toMatchObject({ changed: true, message: 'added h2 as a learner (member id 3e8)', diff: '+ learner h2 https://10.0.0.2:2380\n' });
    expect(fake.calls).toEqual(['add https://10.0.0.2:2380 learner']);
    expect(await run({ action: 'add', ...h(2) })).toEqual({ changed: false, message: 'h2 is already a member (learner, not started, id 3e8)' });
    expect(fake.calls).toHaveLength(1);
  });

  it('talks to the local member by default, with the server pair when there is no health-check client pair', async () => {
    await run({ action: 'add', ...h(2) });
    expect(fake.connections[0]).toMatchObject({
      endpoints: ['https://127.0.0.1:2379'],
      tls: { ca: 'PEM of ca.crt\n', cert: 'PEM of server.crt\n', key: 'PEM of server.key\n' },
    });
  });

  it('prefers the health-check client pair, and takes explicit files and endpoints', async () => {
    await writePki(['healthcheck-client.crt', 'healthcheck-client.key', 'other.crt', 'other.key']);
    await run({ action: 'add', ...h(2) });
    expect(fake.connections[0]?.tls).toMatchObject({ cert: 'PEM of healthcheck-client.crt\n', key: 'PEM of healthcheck-client.key\n' });
    await run({ action: 'add', ...h(2), endpoints: ['https://10.0.0.1:2379'], certFile: '/etc/etcd/pki/other.crt', keyFile: '/etc/etcd/pki/other.key' });
    expect(fake.connections[1]).toMatchObject({ endpoints: ['https://10.0.0.1:2379'], tls: { cert: 'PEM of other.crt\n', key: 'PEM of other.key\n' } });
  });

  it("retries etcd's 'unhealthy cluster' right after a membership change", async () => {
    fake.changeRefusals = ['etcdserver: unhealthy cluster', 'etcdserver: unhealthy cluster'];
    expect(await run({ action: 'add', ...h(2) })).toMatchObject({ changed: true, message: 'added h2 as a learner (member id 3e8)' });
    expect(fake.calls).toEqual(Array(3).fill('add https://10.0.0.2:2380 learner'));
  });

  it('fails at once on an add refusal that waiting does not fix', async () => {
    fake.changeRefusals = ['etcdserver: too many learner members in cluster'];
    expect(await rejection(run({ action: 'add', ...h(2) }))).toMatchObject({ code: 'BALLAST_ERR_ETCD_UNAVAILABLE', message: expect.stringContaining('too many learner') });
    expect(fake.calls).toHaveLength(1);
  });

  it('is unchanged for a member that is already a voter', async () => {
    fake = new FakeEtcd({ members: [fakeMember(1), fakeMember(2)] });
    expect(await run({ action: 'add', ...h(2) })).toEqual({ changed: false, message: 'h2 is already a member (voter, id 2)' });
    expect(fake.calls).toEqual([]);
  });

  it('refuses while a stale unstarted member exists, naming it', async () => {
    fake = new FakeEtcd({ members: [fakeMember(1), fakeMember(7, { learner: true, started: false })] });
    const err = await rejection(run({ action: 'add', ...h(2) }));
    expect(err).toMatchObject({ code: 'BALLAST_ERR_QUORUM_GUARD' });
    expect((err as Error).message).toBe(
      'failed to add etcd member h2: quorum guard: unstarted member 7 (https://10.0.0.7:2380) was added but never started (a stale add from a failed run?); remove it before adding another member',
    );
    expect(fake.calls).toEqual([]);
  });

  it('refuses to change an unhealthy cluster', async () => {
    fake = new FakeEtcd({ members: [fakeMember(1), fakeMember(2), fakeMember(3)], healthy: ['1'] });
    const err = await rejection(run({ action: 'add', ...h(4) }));
    expect((err as Error).message).toBe('failed to add etcd member h4: quorum guard: 3 voters, 1 healthy; the cluster needs 2 healthy voters to take a membership change');
    expect(fake.calls).toEqual([]);
  });

  it('refuses peer URLs of another host and a name that has other peer URLs', async () => {
    fake = new FakeEtcd({ members: [fakeMember(1), fakeMember(2)] });
    expect(await rejection(run({ action: 'add', name: 'h9', peerUrls: ['https://10.0.0.2:2380'] }))).toMatchObject({
      code: 'BALLAST_ERR_ETCD_MEMBER_CONFLICT',
      path: '/args/peerUrls',
    });
    expect(await rejection(run({ action: 'add', name: 'h2', peerUrls: ['https://10.0.0.22:2380'] }))).toMatchObject({
      code: 'BALLAST_ERR_ETCD_MEMBER_CONFLICT',
      path: '/args/name',
    });
    expect(fake.calls).toEqual([]);
  });

  it('in check mode reads only and says what would change; touches nothing', async () => {
    const before = await snapshotTree(root);
    expect(await run({ action: 'add', ...h(2) }, { check: true })).toMatchObject({
      changed: true,
      message: 'would add h2 as a learner (1 voter, 1 healthy; a learner does not vote)',
    });
    expect(fake.calls).toEqual([]);
    expect(fake.members).toHaveLength(1);
    expect(await snapshotTree(root)).toEqual(before);
  });

  it('in check mode is skipped when etcd or its TLS files are not there yet', async () => {
    fake.unreachable = true;
    expect(await run({ action: 'add', ...h(2) }, { check: true })).toMatchObject({ changed: false, skipped: true, message: expect.stringContaining('ECONNREFUSED') });
    fake.unreachable = false;
    expect(await run({ action: 'add', ...h(2), caFile: '/etc/etcd/pki/missing.crt' }, { check: true })).toMatchObject({
      skipped: true,
      message: 'cannot tell what would change: failed to read etcd TLS file /etc/etcd/pki/missing.crt: ENOENT',
    });
  });

  it('fails with coded errors when etcd is unreachable or a TLS file is missing', async () => {
    fake.unreachable = true;
    expect(await rejection(run({ action: 'add', ...h(2) }))).toMatchObject({ code: 'BALLAST_ERR_ETCD_UNAVAILABLE' });
    fake.unreachable = false;
    expect(await rejection(run({ action: 'add', ...h(2), keyFile: '/etc/etcd/pki/nope.key', certFile: '/etc/etcd/pki/server.crt' }))).toMatchObject({
      code: 'BALLAST_ERR_CONFIG',
      path: '/args/keyFile',
    });
  });
});

describe('etcd_member promote', () => {
  beforeEach(() => {
    fake = new FakeEtcd({ members: [fakeMember(1), fakeMember(2, { learner: true })] });
  });

  it('promotes a healthy learner, then reports it unchanged', async () => {
    expect(await run({ action: 'promote', ...h(2) })).toMatchObject({
      changed: true,
      message: 'promoted h2 to voter (1 voter, 1 healthy, learner h2 healthy; promoting it makes 2 voters needing 2 healthy)',
    });
    expect(await run({ action: 'promote', ...h(2) })).toEqual({ changed: false, message: 'h2 is already a voter' });
    expect(fake.calls).toEqual(['promote 2']);
  });

  it('retries while etcd says the learner is not in sync yet', async () => {
    fake.promoteRefusals = [
      'etcdserver: can only promote a learner member which is in sync with leader',
      'etcdserver: re-configuration failed due to not enough started members',
    ];
    expect((await run({ action: 'promote', ...h(2) })).changed).toBe(true);
    expect(fake.calls).toEqual(['promote 2', 'promote 2', 'promote 2']);
  });

  it('waits for a learner that does not answer yet', async () => {
    fake.healthy.delete('2');
    setTimeout(() => fake.healthy.add('2'), 300);
    const started = Date.now();
    expect((await run({ action: 'promote', ...h(2) })).changed).toBe(true);
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
    expect(fake.calls).toEqual(['promote 2']);
  });

  it('gives up at the task deadline with the last refusal', async () => {
    fake.promoteRefusals = Array(100).fill('etcdserver: can only promote a learner member which is in sync with leader');
    const started = Date.now();
    const err = await rejection(run({ action: 'promote', ...h(2), timeoutMs: 1000 }));
    expect(err).toMatchObject({ code: 'BALLAST_ERR_ETCD_REFUSED' });
    expect((err as Error).message).toMatch(/^failed to promote etcd member h2: still refused when the task ended; last: .*in sync with leader$/);
    expect(Date.now() - started).toBeLessThan(3000);
  });

  it('fails at once when voters are down (waiting would not help)', async () => {
    fake = new FakeEtcd({ members: [fakeMember(1), fakeMember(3), fakeMember(2, { learner: true })], healthy: ['2'] });
    const started = Date.now();
    const err = await rejection(run({ action: 'promote', ...h(2) }));
    expect(err).toMatchObject({ code: 'BALLAST_ERR_QUORUM_GUARD' });
    expect((err as Error).message).toBe(
      'failed to promote etcd member h2: quorum guard: 2 voters, 0 healthy, learner h2 healthy; promoting it makes 3 voters needing 2 healthy',
    );
    expect(Date.now() - started).toBeLessThan(1000);
    expect(fake.calls).toEqual([]);
  });

  it('fails at once on a refusal that waiting does not fix', async () => {
    fake.promoteRefusals = ['etcdserver: permission denied'];
    expect(await rejection(run({ action: 'promote', ...h(2) }))).toMatchObject({ code: 'BALLAST_ERR_ETCD_REFUSED', message: expect.stringContaining('permission denied') });
    expect(fake.calls).toEqual(['promote 2']);
  });

  it('needs the member to exist, except in check mode', async () => {
    expect(await rejection(run({ action: 'promote', ...h(5) }))).toMatchObject({ code: 'BALLAST_ERR_NOT_FOUND', path: '/args/peerUrls' });
    expect(await run({ action: 'promote', ...h(5) }, { check: true })).toMatchObject({ skipped: true, message: 'h5 is not a member yet; would promote it once added' });
  });

  it('in check mode says it would promote, and does not', async () => {
    expect(await run({ action: 'promote', ...h(2) }, { check: true })).toMatchObject({ changed: true, message: expect.stringMatching(/^would promote h2 to voter/) });
    fake.healthy.delete('2');
    expect(await run({ action: 'promote', ...h(2) }, { check: true })).toMatchObject({ skipped: true, message: expect.stringContaining('learner h2 not answering') });
    expect(fake.calls).toEqual([]);
  });

  it('stops when the run is cancelled', async () => {
    fake.promoteRefusals = Array(100).fill('etcdserver: can only promote a learner member which is in sync with leader');
    const abort = new AbortController();
    setTimeout(() => abort.abort(), 300);
    const started = Date.now();
    expect(await rejection(run({ action: 'promote', ...h(2) }, { signal: abort.signal }))).toBeInstanceOf(Error);
    expect(Date.now() - started).toBeLessThan(2000);
  });
});

describe('etcd_member remove', () => {
  it('removes a voter when the rest keep quorum, then reports it absent', async () => {
    fake = new FakeEtcd({ members: [fakeMember(1), fakeMember(2), fakeMember(3)] });
    expect(await run({ action: 'remove', ...h(3) })).toMatchObject({
      changed: true,
      message: 'removed h3 (voter, id 3; 3 voters, 2 healthy besides h3; removing h3 leaves 2 voters needing 2 healthy)',
      diff: '- voter h3 https://10.0.0.3:2380\n',
    });
    expect(await run({ action: 'remove', ...h(3) })).toEqual({ changed: false, message: 'h3 is not a member' });
    expect(fake.calls).toEqual(['remove 3']);
  });

  it("retries etcd's 'unhealthy cluster' refusal of a removal", async () => {
    fake = new FakeEtcd({ members: [fakeMember(1), fakeMember(2), fakeMember(3)] });
    fake.changeRefusals = ['etcdserver: unhealthy cluster'];
    expect((await run({ action: 'remove', ...h(3) })).changed).toBe(true);
    expect(fake.calls).toEqual(['remove 3', 'remove 3']);
  });

  it('refuses to remove a voter when that would lose quorum, with the numbers', async () => {
    fake = new FakeEtcd({ members: [fakeMember(1), fakeMember(2), fakeMember(3)], healthy: ['1', '2'] });
    const err = await rejection(run({ action: 'remove', ...h(2) }));
    expect(err).toMatchObject({ code: 'BALLAST_ERR_QUORUM_GUARD' });
    expect((err as Error).message).toBe('failed to remove etcd member h2: quorum guard: 3 voters, 1 healthy besides h2; removing h2 leaves 2 voters needing 2 healthy');
    expect(fake.calls).toEqual([]);
  });

  it('always removes learners and unstarted members', async () => {
    fake = new FakeEtcd({ members: [fakeMember(1), fakeMember(2), fakeMember(3, { learner: true }), fakeMember(4, { started: false })], healthy: [] });
    expect((await run({ action: 'remove', ...h(3) })).changed).toBe(true);
    // An unstarted member has no name yet: it is matched by its peer URL.
    expect((await run({ action: 'remove', ...h(4) })).changed).toBe(true);
    expect(fake.calls).toEqual(['remove 3', 'remove 4']);
  });

  it('in check mode says what it would remove, and does not', async () => {
    fake = new FakeEtcd({ members: [fakeMember(1), fakeMember(2)] });
    expect(await run({ action: 'remove', ...h(2) }, { check: true })).toMatchObject({ changed: true, message: 'would remove h2 (voter, id 2)' });
    expect(fake.calls).toEqual([]);
  });
});

describe('etcd_member arguments', () => {
  it('fails bad arguments with their paths before connecting', async () => {
    expect(await rejection(run({ action: 'join', ...h(2) }))).toMatchObject({ code: 'BALLAST_ERR_VALIDATION', path: '/args/action' });
    expect(await rejection(run({ action: 'add', name: 'h2', peerUrls: ['http://10.0.0.2:2380'] }))).toMatchObject({ code: 'BALLAST_ERR_VALIDATION', path: '/args/peerUrls/0' });
    expect(await rejection(run({ action: 'add', ...h(2), peerUrls: [] }))).toMatchObject({ code: 'BALLAST_ERR_VALIDATION', path: '/args/peerUrls' });
    expect(await rejection(run({ action: 'add', ...h(2), timeoutMs: 10 }))).toMatchObject({ code: 'BALLAST_ERR_VALIDATION', path: '/args/timeoutMs' });
    expect(await rejection(run({ action: 'add', ...h(2), caFile: '/etc/../ca.crt' }))).toMatchObject({ code: 'BALLAST_ERR_PATH_OUTSIDE_ROOT' });
    expect(await rejection(run({ action: 'add', ...h(2), certFile: '/etc/etcd/pki/server.crt' }))).toMatchObject({ code: 'BALLAST_ERR_VALIDATION', path: '/args/keyFile' });
    expect(fake.connections).toEqual([]);
  });
});

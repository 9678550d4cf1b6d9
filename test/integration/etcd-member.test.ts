/**
 * The `etcd_member` module against real etcd 3.4 (Debian's binaries from the cached test bundle):
 * a TLS cluster on loopback grown from one member to three through learners, the quorum guard
 * refusing a removal after a member is SIGKILLed, idempotent re-runs, and removing a learner.
 * Everything goes through the module registry with the real HTTPS client, as on a host.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it, type TestContext } from 'vitest';
import { createEtcdClient, type EtcdClient, type EtcdMember } from '../../agent/src/etcd/client.js';
import type { ModuleOutcome } from '../../agent/src/tasks/module.js';
import { createModuleRegistry } from '../../agent/src/tasks/registry.js';
import { rejection, testContext } from '../../agent/src/tasks/testing.js';
import { messageOf } from '../../shared/src/errors.js';
import { etcdTls } from '../lab/support-roles.js';
import { debianTestBundle } from '../support/bundle.js';
import { freePort, tempDir, waitFor } from './harness.js';
import { etcdTestFlags } from './etcd-loopback.js';

const run = promisify(execFile);

interface Member {
  name: string;
  clientPort: number;
  peerPort: number;
  proc: ChildProcess | null;
  exited: Promise<void> | null;
}
const peerUrl = (m: Member) => `https://127.0.0.1:${m.peerPort}`;
const clientUrl = (m: Member) => `https://127.0.0.1:${m.clientPort}`;

describe('etcd_member against real etcd', () => {
  let dir: Awaited<ReturnType<typeof tempDir>> | undefined;
  let skipReason: string | null = null;
  let etcdBin = '';
  const members = new Map<string, Member>();
  let client: EtcdClient;
  const registry = createModuleRegistry();

  beforeAll(async () => {
    dir = await tempDir('etcd-member');
    try {
      const bundle = await debianTestBundle();
      const spec = bundle.manifest.find((a) => a.name === 'etcd');
      if (spec === undefined) throw new Error('the test bundle has no etcd');
      await run('tar', ['-xf', bundle.path, '-C', dir.path, spec.file]);
      await run('tar', ['-xzf', join(dir.path, spec.file), '-C', dir.path]);
      etcdBin = join(dir.path, spec.file.replace(/\.tar\.gz$/, ''), 'etcd');
    } catch (err) {
      skipReason = `cannot build the Debian test bundle (apt unreachable?): ${messageOf(err)}`;
      console.warn(`etcd-member integration test skipped: ${skipReason}`);
      return;
    }
    // One dual-usage server/peer pair for every member (all on 127.0.0.1), and a client-only pair
    // the module picks up as /etc/etcd/pki/healthcheck-client.* (its default when present).
    const tls = await etcdTls({ name: 'h1', address: '127.0.0.1' });
    const pki = join(dir.path, 'pki');
    await mkdir(pki, { recursive: true });
    for (const [file, content] of Object.entries({ 'ca.crt': tls.vars.caCert, 'server.crt': tls.vars.serverCert, 'server.key': tls.vars.serverKey, 'peer.crt': tls.vars.peerCert, 'peer.key': tls.vars.peerKey })) {
      await writeFile(join(pki, file), content, { mode: 0o600 });
    }
    const hostPki = join(dir.path, 'root/etc/etcd/pki');
    await mkdir(hostPki, { recursive: true });
    await writeFile(join(hostPki, 'ca.crt'), tls.vars.caCert);
    await writeFile(join(hostPki, 'healthcheck-client.crt'), tls.vars.clientCert);
    await writeFile(join(hostPki, 'healthcheck-client.key'), tls.vars.clientKey, { mode: 0o600 });
    for (const name of ['h1', 'h2', 'h3', 'h4', 'h5']) members.set(name, { name, clientPort: await freePort(), peerPort: await freePort(), proc: null, exited: null });

    await startMember('h1', ['h1'], 'new');
    client = createEtcdClient({ endpoints: [clientUrl(member('h1'))], tls: { ca: tls.vars.caCert, cert: tls.vars.clientCert, key: tls.vars.clientKey } });
    await waitHealthy('h1');
  });

  afterAll(async () => {
    for (const m of members.values()) {
      if (m.proc?.pid !== undefined && m.proc.exitCode === null && m.proc.signalCode === null) process.kill(m.proc.pid, 'SIGKILL');
    }
    await Promise.all([...members.values()].map((m) => m.exited));
    await dir?.cleanup();
  });

  function member(name: string): Member {
    const m = members.get(name);
    if (m === undefined) throw new Error(`no member ${name}`);
    return m;
  }

  /** Starts etcd for `name` with `--initial-cluster` of `cluster` (names), stderr to a log file. */
  async function startMember(name: string, cluster: string[], state: 'new' | 'existing'): Promise<void> {
    const m = member(name);
    const pki = join(dir!.path, 'pki');
    const logFd = openSync(join(dir!.path, `${name}.log`), 'a');
    const proc = spawn(
      etcdBin,
      [
        `--name=${name}`,
        `--data-dir=${join(dir!.path, `${name}.etcd`)}`,
        `--listen-client-urls=${clientUrl(m)}`,
        `--advertise-client-urls=${clientUrl(m)}`,
        `--listen-peer-urls=${peerUrl(m)}`,
        `--initial-advertise-peer-urls=${peerUrl(m)}`,
        `--initial-cluster=${cluster.map((n) => `${n}=${peerUrl(member(n))}`).join(',')}`,
        `--initial-cluster-state=${state}`,
        ...etcdTestFlags(pki),
      ],
      { stdio: ['ignore', logFd, logFd] },
    );
    closeSync(logFd);
    m.proc = proc;
    m.exited = new Promise((resolve) => proc.once('exit', () => resolve()));
  }

  async function waitHealthy(name: string): Promise<void> {
    const m = member(name);
    await waitFor(`etcd ${name} to follow a leader`, async () => ((await client.status(clientUrl(m))).leader !== '0' ? true : undefined), 20_000, 200).catch(async (err) => {
      throw new Error(`${messageOf(err)}\n${(await readFile(join(dir!.path, `${name}.log`), 'utf8')).slice(-3000)}`);
    });
  }

  /** Runs the module as a task would; `check` is the run's check mode, the rest are task arguments. */
  const task = (action: 'add' | 'promote' | 'remove', name: string, extra: Record<string, unknown> & { check?: boolean } = {}): Promise<ModuleOutcome> => {
    const { check = false, ...args } = extra;
    return registry.run(
      'etcd_member',
      { action, name, peerUrls: [peerUrl(member(name))], endpoints: [clientUrl(member('h1'))], timeoutMs: 60_000, ...args },
      testContext(join(dir!.path, 'root'), { check }),
    );
  };
  const list = async () => (await client.memberList()).map((m: EtcdMember) => `${m.name || '?'}:${m.isLearner ? 'learner' : 'voter'}`).sort();
  const maybeSkip = (ctx: TestContext) => {
    if (skipReason !== null) ctx.skip();
  };

  it('adds h2 as a learner (check mode first), starts it, and promotes it once caught up', async (ctx) => {
    maybeSkip(ctx);
    expect(await task('add', 'h2', { check: true })).toMatchObject({ changed: true, message: expect.stringMatching(/^would add h2 as a learner/) });
    expect(await list()).toEqual(['h1:voter']);
    const added = await task('add', 'h2');
    expect(added).toMatchObject({ changed: true, message: expect.stringMatching(/^added h2 as a learner \(member id [0-9a-f]+\)$/) });
    expect(await list()).toEqual(['?:learner', 'h1:voter']);
    // Promote right after start: the module waits for the learner to answer and catch up.
    await startMember('h2', ['h1', 'h2'], 'existing');
    expect(await task('promote', 'h2')).toMatchObject({ changed: true, message: expect.stringMatching(/^promoted h2 to voter/) });
    expect(await list()).toEqual(['h1:voter', 'h2:voter']);
    expect(await task('promote', 'h2')).toEqual({ changed: false, message: 'h2 is already a voter' });
  });

  it('grows to three voters the same way; a repeated add is unchanged', async (ctx) => {
    maybeSkip(ctx);
    expect((await task('add', 'h3')).changed).toBe(true);
    expect(await task('add', 'h3')).toMatchObject({ changed: false, message: expect.stringMatching(/^h3 is already a member \(learner, not started/) });
    await startMember('h3', ['h1', 'h2', 'h3'], 'existing');
    expect((await task('promote', 'h3')).changed).toBe(true);
    await waitHealthy('h3');
    expect(await list()).toEqual(['h1:voter', 'h2:voter', 'h3:voter']);
    expect(await task('add', 'h3')).toMatchObject({ changed: false, message: expect.stringMatching(/^h3 is already a member \(voter, id/) });
  });

  it('refuses a second add while an unstarted learner exists, and removes that learner', async (ctx) => {
    maybeSkip(ctx);
    expect((await task('add', 'h4')).changed).toBe(true);
    expect((await task('add', 'h4')).changed).toBe(false);
    const err = await rejection(task('add', 'h5'));
    expect(err).toMatchObject({ code: 'BALLAST_ERR_QUORUM_GUARD' });
    expect(messageOf(err)).toContain(`(${peerUrl(member('h4'))}) was added but never started`);
    expect(await task('remove', 'h4')).toMatchObject({ changed: true, message: expect.stringMatching(/^removed h4 \(learner, not started/) });
    expect(await task('remove', 'h4')).toEqual({ changed: false, message: 'h4 is not a member' });
    expect(await list()).toEqual(['h1:voter', 'h2:voter', 'h3:voter']);
  });

  it('refuses removing a voter that would cost quorum once a member is killed; removes the dead one', async (ctx) => {
    maybeSkip(ctx);
    const h3 = member('h3');
    process.kill(h3.proc!.pid!, 'SIGKILL');
    await h3.exited;
    const err = await rejection(task('remove', 'h2'));
    expect(err).toMatchObject({ code: 'BALLAST_ERR_QUORUM_GUARD' });
    expect(messageOf(err)).toBe('failed to remove etcd member h2: quorum guard: 3 voters, 1 healthy besides h2; removing h2 leaves 2 voters needing 2 healthy');
    expect(await list()).toEqual(['h1:voter', 'h2:voter', 'h3:voter']);
    expect(await task('remove', 'h3')).toMatchObject({ changed: true, message: expect.stringContaining('3 voters, 2 healthy besides h3') });
    expect(await list()).toEqual(['h1:voter', 'h2:voter']);
  });

  it("speaks the real gateway's lease and kv shapes (for the VIP lease code)", async (ctx) => {
    maybeSkip(ctx);
    const lease = await client.leaseGrant(10);
    expect(lease).toMatchObject({ id: expect.stringMatching(/^[0-9]+$/), ttlSeconds: 10 });
    expect((await client.leaseKeepAlive(lease.id)).ttlSeconds).toBeGreaterThan(0);
    await client.leaseRevoke(lease.id);
    expect((await client.leaseKeepAlive(lease.id)).ttlSeconds).toBe(0);
    expect(await client.get('/ballast/none')).toBeNull();
  });

  it('fails fast with BALLAST_ERR_ETCD_UNAVAILABLE when no endpoint answers, and is skipped in check mode', async (ctx) => {
    maybeSkip(ctx);
    const dead = `https://127.0.0.1:${member('h5').clientPort}`;
    const started = Date.now();
    expect(await rejection(task('add', 'h5', { endpoints: [dead] }))).toMatchObject({ code: 'BALLAST_ERR_ETCD_UNAVAILABLE' });
    expect(await task('add', 'h5', { endpoints: [dead], check: true })).toMatchObject({ skipped: true });
    // The dead endpoint first, then a live one: the first that answers wins.
    expect(await task('remove', 'h5', { endpoints: [dead, clientUrl(member('h2'))] })).toEqual({ changed: false, message: 'h5 is not a member' });
    expect(Date.now() - started).toBeLessThan(10_000);
  });
});

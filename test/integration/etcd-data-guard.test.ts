/**
 * The agent's `etcd_data` guard against a real 3-member etcd 3.5.33 on loopback (issue 13): each
 * member's directory prepared by the module as the etcd role does, the cluster started and written
 * to, then two members lose their data directories (quorum lost). First what the guard prevents,
 * shown on a copy: etcd started the old way — on a fresh member directory with
 * `initial-cluster-state=new` — makes a new cluster that answers, with a leader, without the key.
 * Then the guard: `prepare` on the two hosts is refused with BALLAST_ERR_ETCD_DATA_LOST naming the
 * host and `cluster recover`, and creates nothing; `require` passes on the survivor's real WAL
 * and is refused on the others; `forget` (a deliberate removal) lets a new member be prepared.
 */
import { cp, mkdir, readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ModuleOutcome } from '../../agent/src/tasks/module.js';
import { createModuleRegistry } from '../../agent/src/tasks/registry.js';
import { rejection, testContext } from '../../agent/src/tasks/testing.js';
import { BallastError } from '../../shared/src/errors.js';
import { etcd35Available, LoopbackEtcd } from './etcd-loopback.js';
import { tempDir } from './harness.js';

const NAMES = ['h1', 'h2', 'h3'];

describe.skipIf(!etcd35Available())('etcd_data guard against real etcd 3.5', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let etcd: LoopbackEtcd;
  const registry = createModuleRegistry();
  const guard = (name: string, action: string): Promise<ModuleOutcome> => registry.run('etcd_data', { action, member: name }, testContext(etcd.member(name).root));
  const exists = (p: string) => stat(p).then(() => true, () => false);

  beforeAll(async () => {
    dir = await tempDir('etcd-data-guard');
    etcd = await LoopbackEtcd.create(dir.path, NAMES);
    for (const n of NAMES) expect((await guard(n, 'prepare')).changed).toBe(true);
    for (const n of NAMES) etcd.start(n, NAMES, 'new');
    for (const n of NAMES) await etcd.waitLeader(n);
    await etcd.put('/registry/namespaces/before', 'v1');
    // A linearizable read through h1: it has applied the write (else force-new-cluster may drop it, as etcd warns).
    expect((await etcd.get('/registry/namespaces/before', ['h1'])).value).toBe('v1');
  }, 60_000);

  afterAll(async () => {
    await etcd?.killAll();
    await dir?.cleanup();
  });

  it('a running member with real data: prepare changes nothing, require passes', async () => {
    for (const n of NAMES) {
      expect((await guard(n, 'prepare')).changed).toBe(false);
      expect(await guard(n, 'require')).toMatchObject({ changed: false, message: '/var/lib/etcd/member holds etcd data' });
    }
    expect((await readdir(join(etcd.dataDir('h1'), 'member/wal'))).some((f) => f.endsWith('.wal'))).toBe(true);
  });

  it('two members lose their data: what an unguarded start does (a new, empty cluster with a leader), and the guard refusing it', async () => {
    // h2 and h3 crash and lose their disks; h1 is then stopped as the recovery's etcd-stop step
    // does (SIGTERM: a SIGKILLed member may lose the commit index of its last writes, and
    // --force-new-cluster then drops them — the loss etcd's warning speaks of).
    for (const n of ['h2', 'h3']) await etcd.kill(n);
    await etcd.stop('h1');
    for (const n of ['h2', 'h3']) await rm(etcd.dataDir(n), { recursive: true });

    // The hazard, on a copy of h2's root: a fresh member directory and etcd started with state new.
    const copy = join(dir.path, 'h2-unguarded');
    await cp(etcd.member('h2').root, copy, { recursive: true });
    await mkdir(join(copy, 'var/lib/etcd/member'), { recursive: true, mode: 0o700 });
    const h2 = etcd.member('h2');
    const original = h2.root;
    h2.root = copy;
    try {
      etcd.start('h2', ['h2'], 'new');
      await etcd.waitLeader('h2');
      // It serves, with a leader, as if it were the cluster — and the data is gone.
      expect((await etcd.get('/registry/namespaces/before', ['h2'])).value).toBeNull();
      await etcd.kill('h2');
    } finally {
      h2.root = original;
    }

    for (const n of ['h2', 'h3']) {
      for (const check of [true, false]) {
        const err = await rejection(registry.run('etcd_data', { action: 'prepare', member: n }, testContext(etcd.member(n).root, { check })));
        expect(err).toBeInstanceOf(BallastError);
        expect((err as BallastError).code).toBe('BALLAST_ERR_ETCD_DATA_LOST');
        expect((err as BallastError).message).toContain(`failed to prepare etcd on ${n}: /var/lib/etcd/member is gone, but this host ran etcd member ${n}`);
        expect((err as BallastError).message).toContain('ballastctl cluster recover');
      }
      expect(await exists(etcd.dataDir(n))).toBe(false);
      expect(((await rejection(guard(n, 'require'))) as BallastError).code).toBe('BALLAST_ERR_ETCD_DATA_LOST');
    }
    // The survivor's data is what a --from-member recovery keeps.
    expect((await guard('h1', 'require')).changed).toBe(false);
  });

  it('the survivor forced into a new cluster keeps the data; a member removed on purpose (forget) may be prepared fresh', async () => {
    etcd.start('h1', ['h1'], 'new', ['--force-new-cluster']);
    await etcd.waitLeader('h1');
    expect((await etcd.get('/registry/namespaces/before', ['h1'])).value).toBe('v1');
    expect((await guard('h2', 'forget')).changed).toBe(true);
    expect(await guard('h2', 'prepare')).toMatchObject({ changed: true, message: expect.stringContaining('created /var/lib/etcd/member') });
  });
});

/**
 * Self-fencing against a real 3-member etcd 3.5 under mutual TLS: the quorum probe (a linearizable
 * read through the host's own member, read from the member's etcd.env as on a host) succeeds with
 * quorum and fails without it, and the self-fence component with that real probe and a short
 * deadline stays up without the controller while quorum holds, then fences once the two other
 * members are killed — after the deadline, not before (real clocks, real marker files).
 */
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEtcdQuorumProbe } from '../../agent/src/etcd/quorum-probe.js';
import { createSelfFence, SELF_FENCED_MARKER } from '../../agent/src/self-fence.js';
import { silentLogger } from '../../shared/src/log.js';
import { clientUrl, etcd35Available, LoopbackEtcd } from './etcd-loopback.js';
import { tempDir } from './harness.js';

const NAMES = ['h1', 'h2', 'h3'];

describe.skipIf(!etcd35Available())('self-fence with a real etcd quorum probe', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let etcd: LoopbackEtcd;

  beforeAll(async () => {
    dir = await tempDir('self-fence-etcd');
    etcd = await LoopbackEtcd.create(dir.path, NAMES);
    for (const n of NAMES) etcd.start(n, NAMES, 'new');
    for (const n of NAMES) await etcd.waitLeader(n);
    // h1's etcd.env as the etcd role writes it (the probe reads the member's endpoint and PKI from it).
    const m = etcd.member('h1');
    await mkdir(join(m.root, 'etc/etcd'), { recursive: true });
    await writeFile(
      join(m.root, 'etc/etcd/etcd.env'),
      ['ETCD_NAME=h1', `ETCD_LISTEN_CLIENT_URLS=${clientUrl(m)}`, 'ETCD_TRUSTED_CA_FILE=/etc/etcd/pki/ca.crt', 'ETCD_CERT_FILE=/etc/etcd/pki/server.crt', 'ETCD_KEY_FILE=/etc/etcd/pki/server.key', ''].join('\n'),
    );
  }, 60_000);

  afterAll(async () => {
    await etcd?.killAll();
    await dir?.cleanup();
  });

  it('probe: true with quorum, null on a host with no etcd member; the component does not fence while quorum holds; fences after the deadline once quorum is lost', async () => {
    const root = etcd.member('h1').root;
    const probe = createEtcdQuorumProbe({ root, timeoutMs: 1000 });
    expect(await probe()).toBe(true);
    expect(await createEtcdQuorumProbe({ root: join(dir.path, 'worker') })()).toBeNull();

    const dataDir = join(dir.path, 'agent-data');
    await mkdir(dataDir, { recursive: true });
    const fenced: { at: number; reason: string }[] = [];
    const deadlineMs = 2500;
    const component = createSelfFence({
      dataDir,
      deadlineMs,
      intervalMs: 200,
      now: () => performance.now(),
      lastContactAt: () => null,
      connected: () => false, // the controller is gone for the whole test
      quorum: probe,
      fence: async (reason) => {
        fenced.push({ at: performance.now(), reason });
        return [];
      },
      unfence: async () => [],
      log: silentLogger(),
    });
    await component.start();
    try {
      await new Promise((r) => setTimeout(r, deadlineMs + 1000));
      expect(fenced).toEqual([]); // no controller, but quorum: stays up

      await etcd.kill('h2');
      await etcd.kill('h3');
      const lostAt = performance.now();
      await expect(probe()).rejects.toThrow();
      const until = lostAt + deadlineMs + 10_000;
      while (fenced.length === 0 && performance.now() < until) await new Promise((r) => setTimeout(r, 100));
      expect(fenced).toHaveLength(1);
      const after = (fenced[0]?.at ?? 0) - lostAt;
      // Not before the deadline from the last proven quorum (which preceded the kill by ≤ one check), and promptly after.
      expect(after).toBeGreaterThanOrEqual(deadlineMs - 400);
      expect(after).toBeLessThan(deadlineMs + 4000);
      expect(fenced[0]?.reason).toMatch(/no controller and no etcd quorum/);
      expect(existsSync(join(dataDir, SELF_FENCED_MARKER))).toBe(true);
    } finally {
      await component.stop();
    }
  }, 60_000);
});

/**
 * Issue 12, point 6, with real processes: a host taken out of its cluster (its certificate revoked
 * by a membership change, as the `old/revoke` step does) that comes back — its agent killed (power
 * off) and started again (power restored) — is refused by the controller with
 * BALLAST_ERR_HOST_TAKEN_OUT and stands down: the marker in its data dir, and an attempt to stop
 * and disable kubelet and etcd and to leave the VIP (this unprivileged test host has neither, so
 * those attempts are logged as failed; the lab proves their effect on real units).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore } from '../../controller/src/store/store.js';
import { TestController, createToken, joinAgent, requireBuild, runAgent, stopAll, tempDir, waitFor } from './harness.js';

describe('a replaced host that comes back stays out', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let ctl: TestController;

  beforeAll(async () => {
    requireBuild();
    dir = await tempDir('taken-out');
    ctl = new TestController(join(dir.path, 'controller'));
    await ctl.start();
  }, 60_000);
  afterAll(async () => {
    await stopAll();
    await dir?.cleanup();
  });

  it('is refused with HOST_TAKEN_OUT and stands down; a host removed by an operator is only refused', async () => {
    const token = await createToken(ctl, ['--uses', '2']);
    for (const name of ['old', 'other']) {
      const r = await joinAgent({ server: ctl.url, token: token.token, caHash: token.caHash, name, dataDir: join(dir.path, name) });
      expect(r.code, r.stderr).toBe(0);
    }
    const first = runAgent(join(dir.path, 'old'));
    await waitFor('old connected', async () => ((await ctl.ctlJson<{ items: { name: string; connected: boolean }[] }>(['hosts'])).items.find((h) => h.name === 'old')?.connected ? true : undefined));
    first.child.kill('SIGKILL'); // power off
    await first.exited;
    // The membership change's revoke step (membership/executors-flow.ts), on the controller's own store file.
    const store = openStore({ path: join(ctl.dataDir, 'ballast.db') });
    try {
      for (const [name, reason] of [['old', 'taken out of its cluster by op-0123456789ab (node.replace)'], ['other', 'removed by alice']] as const) {
        const host = store.hosts.getByName(name);
        if (host === null) throw new Error(`no host ${name}`);
        store.hosts.remove(host.id, Date.now(), reason);
      }
    } finally {
      store.close();
    }
    const back = runAgent(join(dir.path, 'old')); // power restored
    const other = runAgent(join(dir.path, 'other'));
    await waitFor('the marker', () => (existsSync(join(dir.path, 'old', 'taken-out')) ? true : undefined), 20_000);
    expect(JSON.parse(readFileSync(join(dir.path, 'old', 'taken-out'), 'utf8')).reason).toBe(
      'host "old" was taken out of its cluster by op-0123456789ab (node.replace): keep kubelet, etcd and the VIP down',
    );
    await waitFor('the stand-down logged', () => (/taken out of the cluster: standing down/.test(back.output()) ? true : undefined));
    expect(back.output()).toMatch(/BALLAST_ERR_HOST_TAKEN_OUT/);
    await waitFor('other refused', () => (/BALLAST_ERR_CERT_REVOKED/.test(other.output()) ? true : undefined));
    expect(existsSync(join(dir.path, 'other', 'taken-out'))).toBe(false);
    // Started again, it stands down at once from its marker, before any controller answer.
    back.child.kill('SIGKILL');
    await back.exited;
    const again = runAgent(join(dir.path, 'old'));
    await waitFor('stand-down from the marker', () => (/taken out of the cluster earlier \(marker in the data dir\)/.test(again.output()) ? true : undefined));
  }, 60_000);
});

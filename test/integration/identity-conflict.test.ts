/**
 * Issue 16 point 5 with real processes: one agent's data dir copied and run twice (two machines
 * with one identity). The two agents replace each other's connection; the controller must flag the
 * host `conflict` in `ballastctl hosts`, and the documented remedy (`host remove`) must end it.
 */
import { cp } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestController, createToken, joinAgent, requireBuild, runAgent, stopAll, tempDir, waitFor } from './harness.js';

describe('a copied agent identity', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let ctl: TestController;

  beforeAll(async () => {
    requireBuild();
    dir = await tempDir('identity');
    ctl = new TestController(join(dir.path, 'controller'));
    await ctl.start();
  });

  afterAll(async () => {
    await stopAll();
    await dir?.cleanup();
  });

  it('is flagged conflict in ballastctl hosts within seconds; host remove ends it', async () => {
    const token = await createToken(ctl);
    const original = join(dir.path, 'twin');
    const r = await joinAgent({ server: ctl.url, token: token.token, caHash: token.caHash, name: 'twin', dataDir: original });
    expect(r.code, r.stderr).toBe(0);
    const copy = join(dir.path, 'twin-copy');
    await cp(original, copy, { recursive: true });
    const started = Date.now();
    runAgent(original);
    runAgent(copy);
    const flagged = await waitFor(
      'twin flagged conflict',
      async () => {
        const hosts = await ctl.ctlJson<{ items: Array<{ name: string; state: string; conflict?: boolean }> }>(['hosts']);
        return hosts.items.find((h) => h.name === 'twin' && h.conflict === true);
      },
      60_000,
      500,
    );
    console.log(`[identity] flagged conflict after ${Date.now() - started} ms (state ${flagged.state})`);
    const table = await ctl.ctl(['hosts']);
    expect(table.stdout).toMatch(/twin\s+\S+,conflict/);
    expect(await ctl.metric('ballast_identity_conflicts_total')).toBe(1);
    const events = await ctl.ctlJson<{ items: Array<{ kind: string; message: string }> }>(['events', '--host', 'twin']);
    expect(events.items.filter((e) => e.kind === 'identity.conflict')).toHaveLength(1);

    const removed = await ctl.ctl(['host', 'remove', 'twin']);
    expect(removed.code, removed.stderr).toBe(0);
    expect(await ctl.metric('ballast_hosts_in_conflict')).toBe(0);
  });
});

/**
 * `ballastctl cluster recover` in-process against the real API (the recovery fixture's app
 * listening on 127.0.0.1): usage errors before any request, the help text with etcd's warning,
 * the controller's refusals with their exit codes, --check, and a recovery followed to its end.
 */
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RecoverFixture, recoverFixture } from '../../../controller/src/recovery/testing.js';
import { DEFAULT_TIMEOUT_MS } from '../client.js';
import { runCtl } from '../testing.js';

let fx: RecoverFixture;
let server = '';

beforeAll(async () => {
  fx = await recoverFixture();
  await fx.addSnapshot('snap-1', Buffer.from('snapshot '.repeat(50)));
  await fx.app.listen({ host: '127.0.0.1', port: 0 });
  server = `http://127.0.0.1:${(fx.app.server.address() as AddressInfo).port}`;
}, 60_000);
afterAll(async () => fx.cleanup());

const ctl = (...argv: string[]) => runCtl(argv, { server, token: fx.token, dir: fx.dir });

describe('ballastctl cluster recover', () => {
  it('usage errors exit 2 before any request; --help carries the warnings and examples', async () => {
    expect(await ctl('cluster', 'recover', 'lab')).toMatchObject({ code: 2, err: 'error: cluster recover: give exactly one of --from-snapshot ID and --from-member HOST\n' });
    expect((await ctl('cluster', 'recover', 'lab', '--from-snapshot', 'snap-1')).err).toMatch(/rerun with --yes, or with --check/);
    const member = await ctl('cluster', 'recover', 'lab', '--from-member', 'h1', '--yes');
    expect([member.code, member.err]).toEqual([2, expect.stringMatching(/--force-new-cluster discards the membership.*Rerun with --confirm-force-new-cluster/)]);
    expect((await ctl('cluster', 'recover', 'lab', '--from-snapshot', 'x', '--bump-revision', '-3', '--yes')).err).toMatch(/--bump-revision: "-3" is not a positive integer/);
    const replace = await ctl('cluster', 'recover', 'lab', '--from-snapshot', 'snap-1', '--replace-current-data');
    expect([replace.code, replace.err]).toEqual([2, expect.stringMatching(/--replace-current-data discards the current etcd data of lab: run it with --check .* then rerun with --yes/)]);
    expect((await ctl('cluster', 'recover', 'lab', '--from-member', 'h1', '--replace-current-data', '--yes')).err).toMatch(/--replace-current-data goes with --from-snapshot only/);
    const help = await ctl('cluster', 'recover', '--help');
    expect(help.out).toContain('Refused while any member of the old etcd cluster still answers with a leader');
    expect(help.out).toContain('--from-member warning');
    expect(help.out).toMatch(/--replace-current-data\s+with\s+--from-snapshot:\s+proceed\s+although/);
    expect(help.out).toMatch(/\$ ballastctl cluster recover prod --from-snapshot snap-20261207-0500 --check/);
    expect(fx.fleet.calls).toEqual([]);
  });

  it('the controller refuses a cluster that still has quorum (exit 1, coded), then --check and the recovery itself', async () => {
    const refused = await ctl('cluster', 'recover', 'lab', '--from-snapshot', 'snap-1', '--yes', '-o', 'json');
    expect(refused.code).toBe(1);
    expect(refused.err).toMatch(/its etcd still has quorum.*rerun with --replace-current-data \(it would discard revision 5678, 1234 keys/);
    fx.fleet.loseQuorum(['h2', 'h3']);
    const check = await ctl('cluster', 'recover', 'lab', '--from-snapshot', 'snap-1', '--check');
    expect(check.code).toBe(0);
    expect(check.out).toMatch(/Restore every member \(h1, h2, h3\) from snapshot snap-1/);
    expect(fx.fleet.calls.every((c) => c.check)).toBe(true);
    const done = await ctl('cluster', 'recover', 'lab', '--from-snapshot', 'snap-1', '--yes');
    expect([done.code, done.err]).toEqual([0, 'verifying snapshot snap-1 on the controller (decrypted and hashed before anything starts)…\n']);
    expect(done.out).toMatch(/succeeded/);
    expect(fx.fleet.members.map((m) => `${m.name}:${m.started}`).sort()).toEqual(['h1:true', 'h2:true', 'h3:true']);
  });

  it('waits for a controller that takes longer than the default request timeout to verify the snapshot (a 1 GB snapshot took over 15 s in the lab)', async () => {
    fx.openDelayMs = DEFAULT_TIMEOUT_MS + 1000;
    try {
      // The cluster serves again after the recovery above: the answer, once the slow verification is done, is the quorum refusal.
      const late = await ctl('cluster', 'recover', 'lab', '--from-snapshot', 'snap-1', '--yes', '-o', 'json');
      expect(late.err).not.toMatch(/did not answer/);
      expect([late.code, late.err]).toEqual([1, expect.stringMatching(/its etcd still has quorum/)]);
    } finally {
      fx.openDelayMs = 0;
    }
  }, DEFAULT_TIMEOUT_MS + 30_000);
});

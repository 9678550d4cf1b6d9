/**
 * `ballastctl node …` in-process against the real API (the membership fixture's app listening on
 * 127.0.0.1, plain HTTP): a replace followed to its end, --check, refusals and usage errors.
 */
import { writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type MembershipFixture, membershipFixture } from '../../../controller/src/membership/testing.js';
import { runCli } from '../cli.js';

let fx: MembershipFixture;
let config = '';

beforeAll(async () => {
  fx = await membershipFixture();
  await fx.create();
  await fx.app.listen({ host: '127.0.0.1', port: 0 });
  const url = `http://127.0.0.1:${(fx.app.server.address() as AddressInfo).port}`;
  config = join(fx.dir, 'ctl.conf');
  const ca = '"-----BEGIN CERTIFICATE-----\\nunused for http\\n-----END CERTIFICATE-----\\n"';
  writeFileSync(config, `apiVersion: ballast.dev/v1alpha1\nkind: Config\nserver: ${url}\ncaCert: ${ca}\ntoken: ${fx.token}\n`, { mode: 0o600 });
}, 60_000);
afterAll(async () => fx.cleanup());

async function ctl(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await runCli(['--config', config, ...argv], { stdout: { write: (s: string) => (out += s) }, stderr: { write: (s: string) => (err += s) }, env: {}, homedir: fx.dir, cwd: fx.dir });
  return { code, out, err };
}

describe('ballastctl node', () => {
  it('usage errors exit 2 before any request: --yes required, bad roles, missing --with', async () => {
    const noYes = await ctl('node', 'replace', 'h2', '--with', 'h4');
    expect([noYes.code, noYes.err.trim()]).toEqual([2, 'error: node replace takes h2 out of its cluster and joins h4: rerun with --yes, or with --check to see the plan first']);
    expect((await ctl('node', 'add', 'h4', '--cluster', 'lab', '--roles', 'chef')).err).toMatch(/expected control-plane,etcd or worker/);
    expect((await ctl('node', 'replace', 'h2')).err).toMatch(/required option '--with <new>' not specified/);
    const help = await ctl('node', 'replace', '--help');
    expect(help.out).toMatch(/Examples:\n {2}\$ ballastctl node replace cp-1 --with spare-1 --check/);
  });

  it('--check prints the per-host plan and changes nothing; a refusal is one line, exit 1', async () => {
    const check = await ctl('node', 'replace', 'h2', '--with', 'h4', '--check');
    expect(check.code).toBe(0);
    expect(check.out).toMatch(/^OPERATION op-[0-9a-f]{12}: node\.replace on cluster lab \(20 steps, check mode: nothing will be changed\)/);
    for (const line of [/old-host +h2 +Cordon and drain h2/, /etcd +h2 +Remove h2's etcd member by ID through h1/, /etcd +h4 +Join h4 to etcd/, /control-plane +h4 +kubeadm join --control-plane on h4/]) {
      expect(check.out).toMatch(line);
    }
    expect(fx.fleet.members.map((m) => m.name)).toEqual(['h1', 'h2', 'h3']);
    const refused = await ctl('node', 'replace', 'h2', '--with', 'h1', '--yes');
    expect([refused.code, refused.err.trim()]).toEqual([1, 'error: BALLAST_ERR_VALIDATION: h1 is already a host of cluster lab; nothing was started']);
  }, 30_000);

  it('replace --yes follows the operation to success; node lock shows it free afterwards', async () => {
    const r = await ctl('node', 'replace', 'h2', '--with', 'h4', '--yes');
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/node\.replace/);
    expect(fx.fleet.members.map((m) => m.name)).toEqual(['h1', 'h3', 'h4']);
    expect((await ctl('node', 'lock', 'lab')).out).toBe('cluster lab: no membership change in progress\n');
    expect((await ctl('node', 'unlock', 'lab')).out).toBe('cluster lab: no membership lock was held\n');
  }, 30_000);
});

/**
 * The recording kubeadm stand-in (test/support/standin/kubeadm) run with `sh` in a temp root, on
 * its own and driven by the `kubeadm` module through the real exec port: the lab tests install it
 * as /usr/local/bin/kubeadm, so it must behave like kubeadm as far as the module's guards go.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { KUBE_STANDIN_VERSION } from '../../../../test/support/bundle.js';
import { createExec } from '../../host/exec.js';
import type { ExecPort } from '../../host/ports.js';
import { createModuleRegistry } from '../registry.js';
import { makeTempRoot, rejection, testContext } from '../testing.js';

const STANDIN = resolve(import.meta.dirname, '../../../../test/support/standin/kubeadm');
const INIT = 'apiVersion: kubeadm.k8s.io/v1beta3\nkind: InitConfiguration\n---\napiVersion: kubeadm.k8s.io/v1beta3\nkind: ClusterConfiguration\n';
const JOIN_CP = 'apiVersion: kubeadm.k8s.io/v1beta3\nkind: JoinConfiguration\ncontrolPlane:\n  certificateKey: abc\n';
const JOIN_WORKER = 'apiVersion: kubeadm.k8s.io/v1beta3\nkind: JoinConfiguration\n';

let root: string;
let log: string;
/** The real exec port with `/usr/…/kubeadm` replaced by `sh <stand-in>`, its files under `base` and its log in `log`. */
function standinExec(base: string, extraEnv: Record<string, string> = {}): ExecPort {
  const real = createExec();
  return (argv, opts) => real(['sh', STANDIN, ...argv.slice(1)], { ...opts, env: { ...opts?.env, BALLAST_STANDIN_ROOT: base, BALLAST_STANDIN_LOG: log, ...extraEnv } });
}
let exec: ExecPort;
beforeEach(async () => {
  root = await makeTempRoot('ballast-standin-');
  log = join(root, 'var/log/ballast-standin/kubeadm.log');
  exec = standinExec(root);
});
const kubeadm = (...args: string[]) => exec(['/usr/bin/kubeadm', ...args], { timeoutMs: 10_000 });
const k8s = (rel: string) => join(root, 'etc/kubernetes', rel);
const logLines = async () => (await readFile(log, 'utf8')).trimEnd().split('\n');
const sha = (text: string) => createHash('sha256').update(text).digest('hex');

describe('kubeadm stand-in', () => {
  it('prints its version', async () => {
    expect(await kubeadm('version', '-o', 'short')).toEqual({ code: 0, stdout: `v${KUBE_STANDIN_VERSION}\n`, stderr: '' });
  });

  it('records every call with time, argv and the config sha256', async () => {
    await kubeadm('version', '-o', 'short');
    const registry = createModuleRegistry();
    await registry.run('kubeadm', { action: 'init', config: INIT }, testContext(root, { exec }));
    const written = await readFile(join(root, 'etc/kubernetes/ballast/kubeadm-init.yaml'), 'utf8');
    const lines = await logLines();
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\tversion -o short\tconfig-sha256=-$/);
    expect(lines[1]).toMatch(new RegExp(`^\\S+\\tinit --config ${root}/etc/kubernetes/ballast/kubeadm-init.yaml\\tconfig-sha256=${sha(written)}$`));
  });

  it('init writes admin.conf, kubelet.conf and the apiserver manifest, and refuses a second init', async () => {
    const registry = createModuleRegistry();
    const ctx = testContext(root, { exec });
    expect((await registry.run('kubeadm', { action: 'init', config: INIT }, ctx)).changed).toBe(true);
    for (const file of ['admin.conf', 'kubelet.conf', 'manifests/kube-apiserver.yaml']) {
      expect(await readFile(k8s(file), 'utf8')).toContain('Written by the Ballast kubeadm stand-in');
    }
    // The module's guard stops a second run; the stand-in refuses on its own too, as kubeadm does.
    expect(await registry.run('kubeadm', { action: 'init', config: INIT }, ctx)).toEqual({ changed: false, message: 'already initialised (kubeadm-init.done exists)' });
    const again = await kubeadm('init', '--config', join(root, 'etc/kubernetes/ballast/kubeadm-init.yaml'));
    expect(again).toMatchObject({ code: 1, stderr: 'error: [preflight] /etc/kubernetes/admin.conf already exists\n' });
  });

  it('a resumed init that failed half-way (admin.conf written, exit 1) resets and runs init again', async () => {
    const registry = createModuleRegistry();
    const failing = testContext(root, { exec: standinExec(root, { BALLAST_STANDIN_FAIL_INIT: '1' }) });
    expect(await rejection(registry.run('kubeadm', { action: 'init', config: INIT }, failing))).toMatchObject({ code: 'BALLAST_ERR_COMMAND_FAILED' });
    expect(existsSync(k8s('admin.conf'))).toBe(true);
    expect(existsSync(k8s('ballast/kubeadm-init.done'))).toBe(false);

    const ctx = testContext(root, { exec });
    expect(await registry.run('kubeadm', { action: 'init', config: INIT }, ctx)).toMatchObject({
      changed: true,
      message: 'ran /usr/bin/kubeadm reset --force --kubeconfig=/dev/null --skip-phases=remove-etcd-member (a previous init did not succeed: admin.conf, kubelet.conf, kube-apiserver.yaml exist without kubeadm-init.done), then /usr/bin/kubeadm init --config /etc/kubernetes/ballast/kubeadm-init.yaml',
    });
    expect((await logLines()).map((l) => l.split('\t')[1]?.split(' ')[0])).toEqual(['init', 'reset', 'init']);
    expect(await readFile(k8s('ballast/kubeadm-init.done'), 'utf8')).toMatch(/^succeeded \d{4}-\d\d-\d\dT\S+Z config-sha256=[0-9a-f]{64}\n$/);
    expect(await registry.run('kubeadm', { action: 'init', config: INIT }, ctx)).toEqual({ changed: false, message: 'already initialised (kubeadm-init.done exists)' });
  });

  it('join writes kubelet.conf, and the apiserver manifest only for a control-plane join', async () => {
    const registry = createModuleRegistry();
    await registry.run('kubeadm', { action: 'join', config: JOIN_WORKER }, testContext(root, { exec }));
    expect(existsSync(k8s('kubelet.conf'))).toBe(true);
    expect(existsSync(k8s('manifests/kube-apiserver.yaml'))).toBe(false);
    expect(existsSync(k8s('admin.conf'))).toBe(false);

    const other = await makeTempRoot('ballast-standin-');
    await registry.run('kubeadm', { action: 'join', config: JOIN_CP }, testContext(other, { exec: standinExec(other) }));
    expect(existsSync(join(other, 'etc/kubernetes/manifests/kube-apiserver.yaml'))).toBe(true);
  });

  it('reset --force removes what init wrote; the module then reports it reset', async () => {
    const registry = createModuleRegistry();
    const ctx = testContext(root, { exec });
    await registry.run('kubeadm', { action: 'init', config: INIT }, ctx);
    expect((await registry.run('kubeadm', { action: 'reset' }, ctx)).changed).toBe(true);
    for (const file of ['admin.conf', 'kubelet.conf', 'manifests/kube-apiserver.yaml']) expect(existsSync(k8s(file))).toBe(false);
    expect((await registry.run('kubeadm', { action: 'reset' }, ctx)).changed).toBe(false);
    expect((await logLines()).map((l) => l.split('\t')[1]?.split(' ')[0])).toEqual(['init', 'reset']);
  });

  it('fails like kubeadm on a missing or wrong config, and on reset without --force', async () => {
    expect(await kubeadm('init')).toMatchObject({ code: 1, stderr: 'error: init needs --config\n' });
    expect(await kubeadm('init', '--config', join(root, 'none.yaml'))).toMatchObject({ code: 1, stderr: expect.stringContaining('does not exist') });
    await writeFile(join(root, 'cluster-only.yaml'), 'kind: ClusterConfiguration\n');
    expect(await kubeadm('init', '--config', join(root, 'cluster-only.yaml'))).toMatchObject({
      code: 1,
      stderr: `error: ${root}/cluster-only.yaml has no "kind: InitConfiguration" document\n`,
    });
    expect(await kubeadm('join', '--config', join(root, 'cluster-only.yaml'))).toMatchObject({ code: 1, stderr: expect.stringContaining('"kind: JoinConfiguration"') });
    expect(await kubeadm('reset')).toMatchObject({ code: 1, stderr: 'error: reset needs --force (the stand-in cannot prompt)\n' });
    expect(await kubeadm('upgrade', 'apply')).toMatchObject({ code: 1, stderr: 'error: the kubeadm stand-in does not implement "upgrade"\n' });
    expect(existsSync(k8s('admin.conf'))).toBe(false);
  });
});

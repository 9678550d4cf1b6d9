import { mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import type { ModuleContext } from '../module.js';
import { createModuleRegistry } from '../registry.js';
import { type FakeExec, fakeExec, makeTempRoot, rejection, snapshotTree, testContext } from '../testing.js';
import { redactKubeadmConfig } from './kubeadm.js';

const INIT_CONFIG = `apiVersion: kubeadm.k8s.io/v1beta3
kind: InitConfiguration
bootstrapTokens:
  - token: abcdef.0123456789abcdef
certificateKey: 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
---
apiVersion: kubeadm.k8s.io/v1beta3
kind: ClusterConfiguration
kubernetesVersion: v1.30.4
controlPlaneEndpoint: 10.0.0.100:6443
`;
const JOIN_CONFIG = `apiVersion: kubeadm.k8s.io/v1beta3
kind: JoinConfiguration
discovery:
  bootstrapToken:
    apiServerEndpoint: 10.0.0.100:6443
    token: abcdef.0123456789abcdef
    caCertHashes: [sha256:00]
controlPlane:
  certificateKey: 0123456789abcdef
`;

const registry = createModuleRegistry();
let root: string;
let exec: FakeExec;
beforeEach(async () => {
  root = await makeTempRoot();
  exec = fakeExec();
});
const run = (args: Record<string, unknown>, overrides: Partial<ModuleContext> = {}) => registry.run('kubeadm', args, testContext(root, { exec, ...overrides }));
async function touch(path: string): Promise<void> {
  await mkdir(join(root, path, '..'), { recursive: true });
  await writeFile(join(root, path), 'x');
}

describe('kubeadm init and join', () => {
  it('writes the config 0600 with the managed header and runs kubeadm init with it', async () => {
    const out = await run({ action: 'init', config: INIT_CONFIG, skipPhases: ['addon/kube-proxy'], ignorePreflightErrors: ['NumCPU', 'Mem'] });
    expect(out).toMatchObject({
      changed: true,
      message: 'ran /usr/bin/kubeadm init --config /etc/kubernetes/ballast/kubeadm-init.yaml --skip-phases=addon/kube-proxy --ignore-preflight-errors=NumCPU,Mem',
    });
    const configFile = join(root, 'etc/kubernetes/ballast/kubeadm-init.yaml');
    expect(exec.calls).toEqual([
      ['/usr/bin/kubeadm', 'init', '--config', configFile, '--skip-phases=addon/kube-proxy', '--ignore-preflight-errors=NumCPU,Mem'],
    ]);
    expect((await stat(configFile)).mode & 0o777).toBe(0o600);
    expect(await readFile(configFile, 'utf8')).toBe(`# Managed by Ballast — changes here are overwritten\n${INIT_CONFIG}`);
  });

  it('passes its timeout and the run signal to exec', async () => {
    const seen: unknown[] = [];
    exec = fakeExec((_argv, opts) => {
      seen.push(opts);
      return { code: 0, stdout: '', stderr: '' };
    });
    const signal = new AbortController().signal;
    await run({ action: 'join', config: JOIN_CONFIG, timeoutMs: 5000 }, { signal });
    await run({ action: 'reset' }, { signal }); // only the join marker to remove: no exec
    expect(seen).toEqual([{ signal, timeoutMs: 5000 }]);
    await touch('etc/kubernetes/admin.conf');
    await run({ action: 'reset' }, { signal });
    expect(seen[1]).toEqual({ signal, timeoutMs: 20 * 60_000 });
  });

  it('reports ok and touches nothing once the success marker exists', async () => {
    await touch('etc/kubernetes/ballast/kubeadm-init.done');
    const before = await snapshotTree(root);
    expect(await run({ action: 'init', config: INIT_CONFIG })).toEqual({ changed: false, message: 'already initialised (kubeadm-init.done exists)' });
    await touch('etc/kubernetes/ballast/kubeadm-join.done');
    expect(await run({ action: 'join', config: JOIN_CONFIG, configPath: '/etc/kubernetes/j.yaml', binary: '/usr/local/bin/kubeadm' })).toEqual({
      changed: false,
      message: 'already joined (kubeadm-join.done exists)',
    });
    expect(exec.calls).toEqual([]);
    expect(Object.keys(await snapshotTree(root))).toEqual([...Object.keys(before), '/etc/kubernetes/ballast/kubeadm-join.done'].sort());
  });

  it('resets the half-done state when kubeadm files exist without the marker, then runs the action and writes the marker', async () => {
    await touch('etc/kubernetes/admin.conf');
    await touch('etc/kubernetes/kubelet.conf');
    await mkdir(join(root, 'etc/kubernetes/pki/etcd'), { recursive: true });
    await writeFile(join(root, 'etc/kubernetes/pki/ca.key'), 'controller CA key', { mode: 0o600 });
    await writeFile(join(root, 'etc/kubernetes/pki/etcd/ca.crt'), 'etcd CA');
    // Like kubeadm reset: the PKI directory is emptied.
    exec = fakeExec(async (argv) => {
      if (argv[1] === 'reset') await rm(join(root, 'etc/kubernetes/pki'), { recursive: true });
      return { code: 0, stdout: '', stderr: '' };
    });
    const check = await run({ action: 'init', config: INIT_CONFIG }, { check: true });
    expect(check.message).toBe(
      'would write /etc/kubernetes/ballast/kubeadm-init.yaml and run /usr/bin/kubeadm reset --force --kubeconfig=/dev/null --skip-phases=remove-etcd-member (a previous init did not succeed: admin.conf, kubelet.conf exist without kubeadm-init.done), then /usr/bin/kubeadm init --config /etc/kubernetes/ballast/kubeadm-init.yaml',
    );
    expect(exec.calls).toEqual([]);
    await run({ action: 'init', config: INIT_CONFIG });
    expect(exec.calls.map((argv) => argv[1])).toEqual(['reset', 'init']);
    expect(await readFile(join(root, 'etc/kubernetes/pki/ca.key'), 'utf8')).toBe('controller CA key');
    expect((await stat(join(root, 'etc/kubernetes/pki/ca.key'))).mode & 0o777).toBe(0o600);
    expect(await readFile(join(root, 'etc/kubernetes/pki/etcd/ca.crt'), 'utf8')).toBe('etcd CA');
    expect(await readFile(join(root, 'etc/kubernetes/ballast/kubeadm-init.done'), 'utf8')).toMatch(/^succeeded \S+ config-sha256=[0-9a-f]{64}\n$/);
  });

  it('writes no marker when kubeadm fails, and reset removes the markers', async () => {
    exec = fakeExec((argv) => ({ code: argv[1] === 'join' ? 1 : 0, stdout: '', stderr: 'boom' }));
    expect(await rejection(run({ action: 'join', config: JOIN_CONFIG }))).toMatchObject({ code: 'BALLAST_ERR_COMMAND_FAILED' });
    await expect(stat(join(root, 'etc/kubernetes/ballast/kubeadm-join.done'))).rejects.toMatchObject({ code: 'ENOENT' });
    await touch('etc/kubernetes/ballast/kubeadm-init.done');
    expect(await run({ action: 'reset' })).toMatchObject({ changed: true });
    await expect(stat(join(root, 'etc/kubernetes/ballast/kubeadm-init.done'))).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('in check mode says what would run and shows the config diff with secrets redacted; touches nothing', async () => {
    const before = await snapshotTree(root);
    const out = await run({ action: 'init', config: INIT_CONFIG }, { check: true });
    expect(out.changed).toBe(true);
    expect(out.message).toBe('would write /etc/kubernetes/ballast/kubeadm-init.yaml and run /usr/bin/kubeadm init --config /etc/kubernetes/ballast/kubeadm-init.yaml');
    expect(out.diff).toContain('--- /dev/null\n+++ /etc/kubernetes/ballast/kubeadm-init.yaml\n');
    expect(out.diff).toContain('+  - token: <redacted>\n');
    expect(out.diff).toContain('+certificateKey: <redacted>\n');
    expect(out.diff).toContain('+kubernetesVersion: v1.30.4\n');
    expect(out.diff).not.toContain('abcdef.0123456789abcdef');
    expect(exec.calls).toEqual([]);
    expect(await snapshotTree(root)).toEqual(before);
  });

  it('shows only the changed lines of an existing config', async () => {
    await run({ action: 'join', config: JOIN_CONFIG });
    await rm(join(root, 'etc/kubernetes/ballast/kubeadm-join.done')); // as if the join had failed
    const out = await run({ action: 'join', config: JOIN_CONFIG.replace('10.0.0.100', '10.0.0.200') }, { check: true });
    expect(out.diff).toContain('-    apiServerEndpoint: 10.0.0.100:6443\n+    apiServerEndpoint: 10.0.0.200:6443\n');
    expect(out.diff).not.toContain('+kind');
  });

  it('fails a non-zero exit with the tail of stderr, keeping the config for a retry', async () => {
    exec = fakeExec(() => ({ code: 1, stdout: 'token: secret\n', stderr: '[preflight] Some fatal errors occurred:\n\t[ERROR Port-6443]: Port 6443 is in use\n' }));
    const err = await rejection(run({ action: 'init', config: INIT_CONFIG }));
    expect(err).toMatchObject({ code: 'BALLAST_ERR_COMMAND_FAILED' });
    expect((err as Error).message).toBe(
      'failed to run /usr/bin/kubeadm init --config /etc/kubernetes/ballast/kubeadm-init.yaml: exit 1: [preflight] Some fatal errors occurred:\n\t[ERROR Port-6443]: Port 6443 is in use',
    );
    expect(await readFile(join(root, 'etc/kubernetes/ballast/kubeadm-init.yaml'), 'utf8')).toContain('kind: InitConfiguration');
  });

  it('refuses to overwrite a config file it does not manage', async () => {
    await mkdir(join(root, 'etc/kubernetes/ballast'), { recursive: true });
    await writeFile(join(root, 'etc/kubernetes/ballast/kubeadm-join.yaml'), 'hand written\n');
    expect(await rejection(run({ action: 'join', config: JOIN_CONFIG }))).toMatchObject({ code: 'BALLAST_ERR_FILE_UNMANAGED' });
    expect(exec.calls).toEqual([]);
  });
});

describe('kubeadm reset', () => {
  it.each(['etc/kubernetes/admin.conf', 'etc/kubernetes/kubelet.conf', 'etc/kubernetes/manifests/kube-apiserver.yaml'])('runs reset --force when %s exists', async (file) => {
    await touch(file);
    expect(await run({ action: 'reset' })).toMatchObject({ changed: true, message: 'ran /usr/bin/kubeadm reset --force --kubeconfig=/dev/null --skip-phases=remove-etcd-member', diff: `- /${file}\n` });
    expect(exec.calls).toEqual([['/usr/bin/kubeadm', 'reset', '--force', '--kubeconfig=/dev/null', '--skip-phases=remove-etcd-member']]);
  });

  it('is ok when nothing is left, and only says what it would run in check mode', async () => {
    expect(await run({ action: 'reset' })).toEqual({ changed: false, message: 'already reset (no admin.conf, kubelet.conf or kube-apiserver manifest)' });
    await touch('etc/kubernetes/kubelet.conf');
    expect(await run({ action: 'reset' }, { check: true })).toMatchObject({
      changed: true,
      message: 'would run /usr/bin/kubeadm reset --force --kubeconfig=/dev/null --skip-phases=remove-etcd-member (/etc/kubernetes/kubelet.conf exists)',
    });
    expect(exec.calls).toEqual([]);
  });
});

describe('kubeadm arguments', () => {
  it('fails bad arguments with their paths before touching anything', async () => {
    const before = await snapshotTree(root);
    const cases: [Record<string, unknown>, string][] = [
      [{ action: 'init' }, '/args/config'],
      [{ action: 'join' }, '/args/config'],
      [{ action: 'reset', config: INIT_CONFIG }, '/args/config'],
      [{ action: 'join', config: INIT_CONFIG }, '/args/config'],
      [{ action: 'init', config: JOIN_CONFIG }, '/args/config'],
      [{ action: 'init', config: 'kind: InitConfigurationX\n' }, '/args/config'],
      [{ action: 'upgrade', config: INIT_CONFIG }, '/args/action'],
      [{ action: 'init', config: INIT_CONFIG, binary: '/tmp/kubeadm' }, '/args/binary'],
      [{ action: 'init', config: INIT_CONFIG, configPath: 'kubeadm.yaml' }, '/args/configPath'],
      [{ action: 'init', config: INIT_CONFIG, skipPhases: ['Bad Phase'] }, '/args/skipPhases/0'],
      [{ action: 'init', config: INIT_CONFIG, ignorePreflightErrors: ['a,b'] }, '/args/ignorePreflightErrors/0'],
    ];
    for (const [args, path] of cases) {
      expect(await rejection(run(args)), JSON.stringify(args)).toMatchObject({ code: 'BALLAST_ERR_VALIDATION', path });
    }
    expect(exec.calls).toEqual([]);
    expect(await snapshotTree(root)).toEqual(before);
  });
});

describe('redactKubeadmConfig', () => {
  it('redacts token, certificateKey and tlsBootstrapToken values only', () => {
    expect(redactKubeadmConfig('  - token: a.b\ncertificateKey: "x"\ntlsBootstrapToken: y\ntokenTTL: 1h\nname: token\n')).toBe(
      '  - token: <redacted>\ncertificateKey: <redacted>\ntlsBootstrapToken: <redacted>\ntokenTTL: 1h\nname: token\n',
    );
  });
});

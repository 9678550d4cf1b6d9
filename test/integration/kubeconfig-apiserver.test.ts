/**
 * `ballastctl cluster kubeconfig` end to end against a real kube-apiserver (and a real etcd), both
 * from the lab's binary cache: ballastctl → the controller API (real SQLite, engine and cluster
 * PKI; modelled hosts) → a kubeconfig file → kubectl → kube-apiserver trusting the cluster's
 * Kubernetes CA. It shows what the README claims: the certificate authenticates as
 * `ballast:admin` in `kubeadm:cluster-admins`, is cluster-admin exactly while the
 * `kubeadm:cluster-admins` ClusterRoleBinding (kubeadm's, created here as kubeadm init does)
 * exists, and deleting that binding cuts it off. Skipped, saying why, without the binaries.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { createPublicKey } from 'node:crypto';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../ballastctl/src/cli.js';
import { type ClusterApp, clusterApp } from '../../controller/src/bootstrap/testing.js';
import { renderKubeconfig } from '../../controller/src/kube/kubeconfig.js';
import { issueServerCert } from '../../controller/src/pki/ca.js';
import { PKI_NAMES } from '../../controller/src/pki/cluster-pki-items.js';
import { freePort, tempDir, waitFor } from './harness.js';

const KUBE_BIN = '/var/cache/ballast/kube/v1.36.3/bin';
const ETCD = '/var/cache/ballast/etcd/v3.5.33/bin/etcd';
const APISERVER = join(KUBE_BIN, 'kube-apiserver');
const KUBECTL = join(KUBE_BIN, 'kubectl');
const missing = [ETCD, APISERVER, KUBECTL].filter((p) => !existsSync(p));
if (missing.length > 0) console.warn(`skipping the real kube-apiserver test: missing ${missing.join(', ')}`);

const run = promisify(execFile);
const children: ChildProcess[] = [];
let c: ClusterApp;
let dir: { path: string; cleanup: () => Promise<void> };
let apiUrl: string;
let mastersConf: string;

/** Starts a binary we own (tracked by PID, killed in afterAll) with its output kept for failures. */
function start(bin: string, args: string[]): { output: () => string } {
  const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let out = '';
  const keep = (d: Buffer) => {
    out = (out + d.toString()).slice(-8000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  return { output: () => out };
}

/** kubectl with `kubeconfig`; resolves with its exit code and output, never throws on a non-zero exit. */
async function kubectl(kubeconfig: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(KUBECTL, ['--kubeconfig', kubeconfig, ...args], { env: { PATH: process.env.PATH ?? '', HOME: dir.path }, timeout: 20_000 });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

describe.skipIf(missing.length > 0)('cluster kubeconfig against a real kube-apiserver', () => {
  beforeAll(async () => {
    dir = await tempDir('kubeconfig-apiserver');
    c = await clusterApp('ballast-kubeconfig-apiserver-');
    expect((await c.create()).state).toBe('succeeded');
    await c.app.listen({ port: 0, host: '127.0.0.1' });

    const ca = c.store.clusterPki.get('lab', PKI_NAMES.kubernetesCa);
    const sa = c.store.clusterPki.get('lab', PKI_NAMES.serviceAccount);
    const masters = c.store.clusterPki.get('lab', PKI_NAMES.controllerAdmin);
    const caPem = ca?.certPem;
    const mastersPem = masters?.certPem;
    if (ca === null || caPem == null || sa === null || masters === null || mastersPem == null) throw new Error('cluster create stored no PKI');
    const pki = join(dir.path, 'pki');
    mkdirSync(pki);
    const serving = await issueServerCert({ ca: { certPem: caPem, keyPem: ca.keyPem }, commonName: 'kube-apiserver', dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'] });
    const files: Record<string, string> = {
      'ca.crt': caPem,
      'apiserver.crt': serving.certPem,
      'apiserver.key': serving.keyPem,
      'sa.key': sa.keyPem,
      'sa.pub': createPublicKey(sa.keyPem).export({ type: 'spki', format: 'pem' }).toString(),
    };
    for (const [name, text] of Object.entries(files)) writeFileSync(join(pki, name), text, { mode: 0o600 });

    const [etcdClient, etcdPeer, apiPort] = [await freePort(), await freePort(), await freePort()];
    const etcd = start(ETCD, [
      '--name=t', `--data-dir=${join(dir.path, 'etcd')}`, '--unsafe-no-fsync',
      `--listen-client-urls=http://127.0.0.1:${etcdClient}`, `--advertise-client-urls=http://127.0.0.1:${etcdClient}`,
      `--listen-peer-urls=http://127.0.0.1:${etcdPeer}`, `--initial-advertise-peer-urls=http://127.0.0.1:${etcdPeer}`,
      `--initial-cluster=t=http://127.0.0.1:${etcdPeer}`,
    ]);
    const api = start(APISERVER, [
      `--etcd-servers=http://127.0.0.1:${etcdClient}`,
      '--bind-address=127.0.0.1', '--advertise-address=127.0.0.1', `--secure-port=${apiPort}`,
      `--tls-cert-file=${join(pki, 'apiserver.crt')}`, `--tls-private-key-file=${join(pki, 'apiserver.key')}`,
      `--client-ca-file=${join(pki, 'ca.crt')}`,
      `--service-account-key-file=${join(pki, 'sa.pub')}`, `--service-account-signing-key-file=${join(pki, 'sa.key')}`,
      '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
      '--service-cluster-ip-range=10.96.0.0/12', '--authorization-mode=Node,RBAC',
    ]);
    apiUrl = `https://127.0.0.1:${apiPort}`;
    // The controller's own client (system:masters), as the bootstrap uses it, for /readyz and to act as kubeadm.
    mastersConf = join(dir.path, 'masters.conf');
    writeFileSync(
      mastersConf,
      renderKubeconfig({ cluster: 'lab', server: apiUrl, caCertPem: caPem, user: 'ballast-controller', certPem: mastersPem, keyPem: masters.keyPem, notAfter: new Date(masters.notAfter ?? 0) }),
      { mode: 0o600 },
    );
    await waitFor(
      'kube-apiserver /readyz',
      () =>
        new Promise<true | undefined>((resolve) => {
          const req = request(`${apiUrl}/readyz`, { ca: caPem, cert: mastersPem, key: masters.keyPem, timeout: 2000 }, (res) => {
            res.resume();
            resolve(res.statusCode === 200 ? true : undefined);
          });
          req.on('error', () => resolve(undefined));
          req.on('timeout', () => req.destroy());
          req.end();
        }),
      90_000,
      500,
    ).catch((err: unknown) => {
      throw new Error(`${String(err)}\netcd: ${etcd.output()}\nkube-apiserver: ${api.output()}`);
    });
  }, 120_000);

  afterAll(async () => {
    for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
    await Promise.all(children.map((child) => (child.exitCode === null ? new Promise((r) => child.once('exit', r)) : undefined)));
    await c?.close();
    await dir?.cleanup();
  });

  it('authenticates as ballast:admin in kubeadm:cluster-admins; cluster-admin only while the binding exists', async () => {
    const config = join(dir.path, 'ballastctl.conf');
    const controller = `http://127.0.0.1:${(c.app.server.address() as AddressInfo).port}`;
    writeFileSync(config, `apiVersion: ballast.dev/v1alpha1\nkind: Config\nserver: ${controller}\ncaCert: |\n  -----BEGIN CERTIFICATE-----\n  MIIBfake\n  -----END CERTIFICATE-----\ntoken: ${c.tokens.admin}\nuser: admin\n`, { mode: 0o600 });
    const err: string[] = [];
    const code = await runCli(['cluster', 'kubeconfig', 'lab', '--server', apiUrl, '--ttl', '1h', '--out', 'admin.conf'], {
      stdout: { write: () => undefined },
      stderr: { write: (s: string) => err.push(s) },
      env: { BALLAST_CONFIG: config },
      homedir: dir.path,
      cwd: dir.path,
    });
    expect({ code, err: err.join('') }).toMatchObject({ code: 0 });
    const adminConf = join(dir.path, 'admin.conf');

    const whoami = await kubectl(adminConf, ['auth', 'whoami', '-o', 'json']);
    expect(whoami.code, whoami.stderr).toBe(0);
    const info = (JSON.parse(whoami.stdout) as { status: { userInfo: { username: string; groups: string[] } } }).status.userInfo;
    expect(info.username).toBe('ballast:admin');
    expect(info.groups).toEqual(expect.arrayContaining(['kubeadm:cluster-admins', 'system:authenticated']));
    expect(info.groups).not.toContain('system:masters');

    // No binding yet (kubeadm init makes it; here we play kubeadm): authenticated but forbidden.
    const before = await kubectl(adminConf, ['get', 'namespaces', '-o', 'name']);
    expect(before.code).not.toBe(0);
    expect(before.stderr).toMatch(/forbidden.*"ballast:admin"/i);

    const bind = await kubectl(mastersConf, ['create', 'clusterrolebinding', 'kubeadm:cluster-admins', '--clusterrole=cluster-admin', '--group=kubeadm:cluster-admins']);
    expect(bind.code, bind.stderr).toBe(0);
    const allowed = await waitFor('RBAC to allow the group', async () => {
      const r = await kubectl(adminConf, ['get', 'namespaces', '-o', 'name']);
      return r.code === 0 ? r : undefined;
    }, 20_000, 250);
    expect(allowed.stdout).toContain('namespace/kube-system');

    // Revocation is deleting the binding: the certificate is refused again, though still valid.
    expect((await kubectl(mastersConf, ['delete', 'clusterrolebinding', 'kubeadm:cluster-admins'])).code).toBe(0);
    const cut = await waitFor('RBAC to refuse the group', async () => {
      const r = await kubectl(adminConf, ['get', 'namespaces', '-o', 'name']);
      return r.code !== 0 ? r : undefined;
    }, 20_000, 250);
    expect(cut.stderr).toMatch(/forbidden/i);
    expect((await kubectl(adminConf, ['auth', 'whoami', '-o', 'json'])).code).toBe(0);
  });
});

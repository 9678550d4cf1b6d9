import { execFile } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import type { KubeconfigResponse } from '../../../shared/src/kubeconfig-api.js';
import { type ClusterApp, clusterApp } from '../../../controller/src/bootstrap/testing.js';
import { PKI_NAMES } from '../../../controller/src/pki/cluster-pki-items.js';
import { type CtlResult, runCtl } from '../testing.js';

// The real controller API (real SQLite, engine and cluster PKI; modelled hosts) on a loopback port,
// and ballastctl run in-process against it.
const KUBECTL = '/var/cache/ballast/kube/v1.36.3/bin/kubectl';
const HAVE_KUBECTL = existsSync(KUBECTL);
if (!HAVE_KUBECTL) console.warn(`skipping the kubectl check: no kubectl binary at ${KUBECTL}`);

let c: ClusterApp;
let url: string;
const dir = mkdtempSync(join(tmpdir(), 'ballastctl-kubeconfig-'));

beforeAll(async () => {
  c = await clusterApp('ballastctl-kubeconfig-api-');
  expect((await c.create()).state).toBe('succeeded');
  await c.app.listen({ port: 0, host: '127.0.0.1' });
  url = `http://127.0.0.1:${(c.app.server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await c.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Runs ballastctl with a config naming `server` (default: the controller) and `token` (default: admin). */
const ctl = (argv: string[], opts: { token?: string; server?: string } = {}): Promise<CtlResult> =>
  runCtl(argv, { dir, cwd: dir, server: opts.server ?? url, token: opts.token ?? c.tokens.admin });

interface Kubeconfig {
  clusters: { name: string; cluster: { server: string; 'certificate-authority-data': string } }[];
  users: { name: string; user: { 'client-certificate-data': string; 'client-key-data': string } }[];
  'current-context': string;
}

const certOf = (text: string): X509Certificate => {
  const doc = parse(text) as Kubeconfig;
  return new X509Certificate(Buffer.from(doc.users[0]?.user['client-certificate-data'] ?? '', 'base64'));
};
const kubernetesCa = (): X509Certificate => new X509Certificate(c.store.clusterPki.get('lab', PKI_NAMES.kubernetesCa)?.certPem ?? '');
const kubeconfigAudits = () => c.store.audit.list(100).filter((a) => a.action === 'cluster.kubeconfig');

describe('ballastctl cluster kubeconfig (against the real controller API)', () => {
  it('prints a kubeconfig to stdout whose certificate the cluster CA issued for the --ttl asked', async () => {
    const { code, out, err } = await ctl(['cluster', 'kubeconfig', 'lab', '--ttl', '90m']);
    expect({ code, err }).toEqual({ code: 0, err: '' });
    expect(out.split('\n')[0]).toContain('issued by ballast-controller');
    const doc = parse(out) as Kubeconfig;
    expect(doc['current-context']).toBe('lab');
    expect(doc.clusters[0]?.cluster.server).toBe('https://198.18.0.250:8443');
    const cert = certOf(out);
    expect(cert.checkIssued(kubernetesCa())).toBe(true);
    expect(cert.verify(kubernetesCa().publicKey)).toBe(true);
    expect(cert.subject.split('\n').sort()).toEqual(['CN=ballast:admin', 'O=kubeadm:cluster-admins']);
    const left = Date.parse(cert.validTo) - Date.now();
    expect(left).toBeGreaterThan(90 * 60_000 - 60_000);
    expect(left).toBeLessThanOrEqual(90 * 60_000);
    expect(kubeconfigAudits()[0]?.detail).toContain(cert.serialNumber.toLowerCase());
  });

  it('--out writes the file atomically with mode 0600, replaces its own file, and refuses a foreign one without --force', async () => {
    const path = join(dir, 'admin.conf');
    const first = await ctl(['cluster', 'kubeconfig', 'lab', '--out', 'admin.conf']);
    expect({ code: first.code, out: first.out }).toEqual({ code: 0, out: '' });
    expect(first.err).toMatch(/^wrote .*admin\.conf \(mode 0600\): cluster lab, user ballast:admin in kubeadm:cluster-admins, server https:\/\/198\.18\.0\.250:8443, expires \S+ \(serial [0-9a-f]+\)\n$/);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    const serial1 = certOf(readFileSync(path, 'utf8')).serialNumber;
    expect(first.err).toContain(serial1.toLowerCase());

    // A refresh replaces Ballast's own file; a file Ballast did not write is left alone.
    expect((await ctl(['cluster', 'kubeconfig', 'lab', '--out', path])).code).toBe(0);
    expect(certOf(readFileSync(path, 'utf8')).serialNumber).not.toBe(serial1);
    const mine = join(dir, 'config-of-mine');
    writeFileSync(mine, 'apiVersion: v1\nkind: Config\nclusters: []\n', { mode: 0o644 });
    const audits = kubeconfigAudits().length;
    const refused = await ctl(['cluster', 'kubeconfig', 'lab', '--out', mine]);
    expect(refused.code).toBe(2);
    expect(refused.err).toContain('was not written by Ballast');
    expect(readFileSync(mine, 'utf8')).toBe('apiVersion: v1\nkind: Config\nclusters: []\n');
    expect(kubeconfigAudits().length).toBe(audits); // refused before anything was issued
    const forced = await ctl(['cluster', 'kubeconfig', 'lab', '--out', mine, '--force']);
    expect(forced.code).toBe(0);
    expect(statSync(mine).mode & 0o777).toBe(0o600);
    expect(readFileSync(mine, 'utf8')).toContain('kubeadm:cluster-admins');
  });

  it('--server after the command word is the API server; before it, the controller', async () => {
    const r = await ctl(['cluster', 'kubeconfig', 'lab', '--server', 'https://k8s.example.com:6443/'], {});
    expect(r.code).toBe(0);
    expect((parse(r.out) as Kubeconfig).clusters[0]?.cluster.server).toBe('https://k8s.example.com:6443');
    // The config names a dead controller; the global --server before the command word fixes that.
    const both = await ctl(['--server', url, 'cluster', 'kubeconfig', 'lab', '--server=https://lb.example.com', '-o', 'json'], { server: 'http://127.0.0.1:9' });
    expect(both.code).toBe(0);
    expect(JSON.parse(both.out) as KubeconfigResponse).toMatchObject({ server: 'https://lb.example.com', cluster: 'lab', user: 'ballast:admin' });
    const bad = await ctl(['cluster', 'kubeconfig', 'lab', '--server', 'http://k8s.example.com']);
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/^error: option '--server <url>' argument 'http:\/\/k8s\.example\.com' is invalid\. invalid API server URL .*must use https/);
    expect((await ctl(['cluster', 'kubeconfig', 'lab', '--server'])).code).toBe(2);
  });

  it('refuses a ttl out of 5m..7d as a usage error, before any request', async () => {
    const audits = kubeconfigAudits().length;
    for (const ttl of ['4m', '8d', 'soon']) {
      const r = await ctl(['cluster', 'kubeconfig', 'lab', '--ttl', ttl]);
      expect(r.code, ttl).toBe(2);
      expect(r.err, ttl).toMatch(/^error: option '--ttl <duration>' argument/);
    }
    expect(kubeconfigAudits().length).toBe(audits);
    expect((await ctl(['cluster', 'kubeconfig', 'lab', '--ttl', '7d'])).code).toBe(0);
  });

  it('reports the controller refusing: an operator is forbidden, an unknown cluster is not found', async () => {
    const op = await ctl(['cluster', 'kubeconfig', 'lab'], { token: c.tokens.operator });
    expect({ code: op.code, out: op.out }).toEqual({ code: 1, out: '' });
    expect(op.err).toMatch(/^error: forbidden: operator "olga" has role operator; cluster.kubeconfig needs role admin/);
    const viewer = await ctl(['cluster', 'kubeconfig', 'lab', '--out', 'viewer.conf'], { token: c.tokens.viewer });
    expect(viewer.code).toBe(1);
    expect(existsSync(join(dir, 'viewer.conf'))).toBe(false);
    const missing = await ctl(['cluster', 'kubeconfig', 'nope']);
    expect(missing.code).toBe(1);
    expect(missing.err).toContain('BALLAST_ERR_NOT_FOUND');
  });

  it('documents itself in --help', async () => {
    const { code, out } = await ctl(['cluster', 'kubeconfig', '--help']);
    expect(code).toBe(0);
    for (const text of ['Usage: ballastctl cluster kubeconfig [options] <name>', '--out <file>', '--ttl <duration>', '--server <url>', 'kubeadm:cluster-admins', 'kubectl --kubeconfig admin.conf get nodes']) {
      expect(out).toContain(text);
    }
  });

  it.skipIf(!HAVE_KUBECTL)('kubectl reads the file (kubectl config view --raw -o json)', async () => {
    const path = join(dir, 'kubectl.conf');
    expect((await ctl(['cluster', 'kubeconfig', 'lab', '--out', path])).code).toBe(0);
    const { stdout } = await promisify(execFile)(KUBECTL, ['config', 'view', '--kubeconfig', path, '--raw', '-o', 'json'], { env: { PATH: process.env.PATH ?? '', HOME: dir } });
    const view = JSON.parse(stdout) as {
      'current-context': string;
      clusters: { name: string; cluster: { server: string; 'certificate-authority-data': string } }[];
      users: { name: string; user: { 'client-certificate-data': string; 'client-key-data': string } }[];
      contexts: { name: string; context: { cluster: string; user: string } }[];
    };
    const file = parse(readFileSync(path, 'utf8')) as Kubeconfig;
    expect(view['current-context']).toBe('lab');
    expect(view.clusters).toEqual([{ name: 'lab', cluster: { server: 'https://198.18.0.250:8443', 'certificate-authority-data': file.clusters[0]?.cluster['certificate-authority-data'] } }]);
    expect(view.users).toEqual([{ name: 'ballast:admin@lab', user: file.users[0]?.user }]);
    expect(view.contexts).toEqual([{ name: 'lab', context: { cluster: 'lab', user: 'ballast:admin@lab' } }]);
  });
});

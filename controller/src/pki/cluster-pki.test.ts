import { createPrivateKey, createPublicKey, X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, createServer, type TLSSocket } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../../shared/src/log.js';
import { openStore, type Store } from '../store/store.js';
import type { KeyPair } from './ca.js';
import { BOOTSTRAP_TOKEN_TTL_MS, ClusterPki, type ClusterPkiBundle } from './cluster-pki.js';
import { etcdMemberTls, kubeadmPkiFiles } from './cluster-pki-files.js';
import type { ClusterPkiInputs } from './cluster-pki-items.js';

const SERVER_AUTH = '1.3.6.1.5.5.7.3.1';
const CLIENT_AUTH = '1.3.6.1.5.5.7.3.2';
const DAY = 86_400_000;

const INPUTS: ClusterPkiInputs = {
  etcdMembers: [
    { name: 'etcd-1', addresses: ['10.0.0.11', 'etcd-1.dc1.example'] },
    { name: 'etcd-2', addresses: ['10.0.0.12'] },
  ],
  controlPlane: [
    { name: 'cp-1', addresses: ['10.0.0.21'] },
    { name: 'etcd-1', addresses: ['10.0.0.11'] },
  ],
  vip: '10.0.0.100',
  apiServerServiceIp: '10.96.0.1',
};

const dirs: string[] = [];
const stores: Store[] = [];
afterAll(() => {
  for (const s of stores.splice(0)) s.close();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
function newStore(): Store {
  const dir = mkdtempSync(join(tmpdir(), 'ballast-cluster-pki-'));
  dirs.push(dir);
  const store = openStore({ path: join(dir, 'ballast.db') });
  stores.push(store);
  return store;
}

/** Asserts `pem` chains to `ca` and its key is `keyPem`; returns the parsed certificate. */
function expectLeaf(pair: KeyPair, ca: KeyPair): X509Certificate {
  const cert = new X509Certificate(pair.certPem);
  const caCert = new X509Certificate(ca.certPem);
  expect(cert.ca).toBe(false);
  expect(cert.checkIssued(caCert)).toBe(true);
  expect(cert.verify(caCert.publicKey)).toBe(true);
  expect(cert.checkPrivateKey(createPrivateKey(pair.keyPem))).toBe(true);
  return cert;
}
const ekus = (cert: X509Certificate) => [...(cert.keyUsage ?? [])].sort();
const sanList = (cert: X509Certificate) => (cert.subjectAltName ?? '').split(', ').sort();

describe('ClusterPki.ensure', () => {
  let store: Store;
  let pki: ClusterPki;
  let first: ClusterPkiBundle;
  beforeAll(async () => {
    store = newStore();
    pki = new ClusterPki({ repo: store.clusterPki, log: silentLogger() });
    first = await pki.ensure('prod', INPUTS);
  });

  it('issues three self-signed CAs with the kubeadm common names', () => {
    for (const [ca, cn] of [
      [first.etcdCa, 'etcd-ca'],
      [first.kubernetesCa, 'kubernetes'],
      [first.frontProxyCa, 'front-proxy-ca'],
    ] as const) {
      const cert = new X509Certificate(ca.certPem);
      expect(cert.ca).toBe(true);
      expect(cert.subject).toBe(`CN=${cn}`);
      expect(cert.verify(cert.publicKey)).toBe(true);
      expect(cert.checkPrivateKey(createPrivateKey(ca.keyPem))).toBe(true);
    }
  });

  it('issues etcd server certificates with both usages and name, localhost, addresses and loopback SANs', () => {
    const server = expectLeaf(first.etcdMembers.get('etcd-1')?.server as KeyPair, first.etcdCa);
    expect(server.subject).toBe('CN=etcd-1');
    expect(ekus(server)).toEqual([SERVER_AUTH, CLIENT_AUTH]);
    expect(sanList(server)).toEqual(
      ['DNS:etcd-1', 'DNS:localhost', 'DNS:etcd-1.dc1.example', 'IP Address:10.0.0.11', 'IP Address:127.0.0.1', 'IP Address:0:0:0:0:0:0:0:1'].sort(),
    );
  });

  it('issues etcd peer certificates with both usages and only the name and addresses', () => {
    const peer = expectLeaf(first.etcdMembers.get('etcd-2')?.peer as KeyPair, first.etcdCa);
    expect(peer.subject).toBe('CN=etcd-2');
    expect(ekus(peer)).toEqual([SERVER_AUTH, CLIENT_AUTH]);
    expect(sanList(peer)).toEqual(['DNS:etcd-2', 'IP Address:10.0.0.12']);
  });

  it('issues client-only certificates: apiserver-etcd-client, one etcd client per host, the controller admin', () => {
    const apiserver = expectLeaf(first.apiserverEtcdClient, first.etcdCa);
    expect(apiserver.subject).toBe('CN=kube-apiserver-etcd-client');
    expect(ekus(apiserver)).toEqual([CLIENT_AUTH]);
    expect(apiserver.subjectAltName).toBeUndefined();

    expect([...first.etcdClients.keys()].sort()).toEqual(['cp-1', 'etcd-1', 'etcd-2']);
    const client = expectLeaf(first.etcdClients.get('cp-1') as KeyPair, first.etcdCa);
    expect(client.subject).toBe('CN=cp-1');
    expect(ekus(client)).toEqual([CLIENT_AUTH]);

    const admin = expectLeaf(first.controllerAdmin, first.kubernetesCa);
    expect(admin.subject).toBe('O=system:masters\nCN=ballast-controller');
    expect(ekus(admin)).toEqual([CLIENT_AUTH]);
    expect(admin.checkIssued(new X509Certificate(first.etcdCa.certPem))).toBe(false);
  });

  it('makes an RSA 2048 service-account key pair and a 24 h bootstrap token', () => {
    const key = createPrivateKey(first.serviceAccount.keyPem);
    expect(key.asymmetricKeyType).toBe('rsa');
    expect(key.asymmetricKeyDetails?.modulusLength).toBe(2048);
    expect(first.serviceAccount.keyPem).toMatch(/^-----BEGIN PRIVATE KEY-----\n/);
    expect(first.serviceAccount.publicKeyPem).toMatch(/^-----BEGIN PUBLIC KEY-----\n/);
    expect(createPublicKey(key).export({ type: 'spki', format: 'pem' })).toBe(first.serviceAccount.publicKeyPem);

    expect(first.bootstrapToken.token).toMatch(/^[a-z0-9]{6}\.[a-z0-9]{16}$/);
    expect(Math.abs(first.bootstrapToken.expiresAt - (Date.now() + BOOTSTRAP_TOKEN_TTL_MS))).toBeLessThan(60_000);
  });

  it('stores every item, listing subjects and expiry', () => {
    const items = store.clusterPki.list('prod');
    expect(items.map((i) => i.name)).toEqual(
      [
        'apiserver-etcd-client',
        'bootstrap-token',
        'controller-admin',
        'etcd-ca',
        'etcd-client:cp-1',
        'etcd-client:etcd-1',
        'etcd-client:etcd-2',
        'etcd-peer:etcd-1',
        'etcd-peer:etcd-2',
        'etcd-server:etcd-1',
        'etcd-server:etcd-2',
        'front-proxy-ca',
        'kubernetes-ca',
        'sa',
      ],
    );
    expect(first.issued).toHaveLength(14);
    const admin = items.find((i) => i.name === 'controller-admin');
    expect(admin).toMatchObject({ kind: 'cert', subject: 'O=system:masters, CN=ballast-controller', sans: [] });
    expect(items.find((i) => i.name === 'sa')).toMatchObject({ kind: 'keypair', certPem: null, notAfter: null });
    expect(items.find((i) => i.name === 'bootstrap-token')?.subject).toBe(`bootstrap-token-${first.bootstrapToken.token.slice(0, 6)}`);
  });

  it('is idempotent: a second ensure (from a fresh instance) returns the stored items unchanged', async () => {
    const again = await new ClusterPki({ repo: store.clusterPki, log: silentLogger() }).ensure('prod', INPUTS);
    expect(again.issued).toEqual([]);
    expect(again.etcdCa).toEqual(first.etcdCa);
    expect(again.etcdMembers.get('etcd-1')).toEqual(first.etcdMembers.get('etcd-1'));
    expect(again.serviceAccount).toEqual(first.serviceAccount);
    expect(again.bootstrapToken).toEqual(first.bootstrapToken);
  });

  it('serialises overlapping calls so a new cluster gets exactly one CA', async () => {
    const [a, b] = await Promise.all([pki.ensure('staging', INPUTS), pki.ensure('staging', INPUTS)]);
    expect(a.etcdCa).toEqual(b.etcdCa);
    expect(b.issued).toEqual([]);
  });
});

describe('ClusterPki.ensure re-issues what no longer fits', () => {
  it('re-issues only the member whose addresses changed', async () => {
    const store = newStore();
    const pki = new ClusterPki({ repo: store.clusterPki, log: silentLogger() });
    const before = await pki.ensure('prod', INPUTS);
    const moved = { ...INPUTS, etcdMembers: [INPUTS.etcdMembers[0], { name: 'etcd-2', addresses: ['10.0.1.12'] }] } as ClusterPkiInputs;
    const after = await pki.ensure('prod', moved);
    expect(after.issued).toEqual([
      { name: 'etcd-server:etcd-2', reason: 'SANs changed' },
      { name: 'etcd-peer:etcd-2', reason: 'SANs changed' },
    ]);
    expect(new X509Certificate(after.etcdMembers.get('etcd-2')?.peer.certPem ?? '').checkIP('10.0.1.12')).toBe('10.0.1.12');
    expect(after.etcdMembers.get('etcd-1')).toEqual(before.etcdMembers.get('etcd-1'));
    expect(store.clusterPki.get('prod', 'etcd-peer:etcd-2')?.sans).toEqual(['etcd-2', '10.0.1.12']);
  });

  it('re-issues leaves within 30 days of expiry and an expired token, but keeps CAs and the SA key', async () => {
    const store = newStore();
    const before = await new ClusterPki({ repo: store.clusterPki, log: silentLogger() }).ensure('prod', INPUTS);
    const later = new ClusterPki({ repo: store.clusterPki, log: silentLogger(), now: () => Date.now() + 340 * DAY });
    const after = await later.ensure('prod', INPUTS);
    const reasons = new Map(after.issued.map((i) => [i.name, i.reason]));
    expect(reasons.get('etcd-server:etcd-1')).toBe('expires within 30 days');
    expect(reasons.get('controller-admin')).toBe('expires within 30 days');
    expect(reasons.get('bootstrap-token')).toBe('expired or about to');
    for (const name of ['etcd-ca', 'kubernetes-ca', 'front-proxy-ca', 'sa']) expect(reasons.has(name)).toBe(false);
    expect(after.etcdCa).toEqual(before.etcdCa);
    expect(after.bootstrapToken.token).not.toBe(before.bootstrapToken.token);
    expectLeaf(after.etcdMembers.get('etcd-1')?.server as KeyPair, before.etcdCa);
  });

  it('replaces an expired CA and re-signs every leaf under it', async () => {
    const store = newStore();
    const before = await new ClusterPki({ repo: store.clusterPki, log: silentLogger() }).ensure('prod', INPUTS);
    // Make the stored etcd CA look expired without waiting ten years.
    const ca = store.clusterPki.get('prod', 'etcd-ca');
    if (ca === null) throw new Error('no etcd CA');
    const { cluster: _c, createdAt: _t, ...rest } = ca;
    store.clusterPki.putAll('prod', [{ ...rest, notAfter: Date.now() - 1 }]);
    const after = await new ClusterPki({ repo: store.clusterPki, log: silentLogger() }).ensure('prod', INPUTS);
    const reasons = new Map(after.issued.map((i) => [i.name, i.reason]));
    expect(reasons.get('etcd-ca')).toBe('expired');
    expect(reasons.get('apiserver-etcd-client')).toBe('not signed by the current CA');
    expect(reasons.has('controller-admin')).toBe(false); // signed by the Kubernetes CA
    expect(after.etcdCa.certPem).not.toBe(before.etcdCa.certPem);
    expectLeaf(after.etcdMembers.get('etcd-2')?.peer as KeyPair, after.etcdCa);
  });
});

describe('ClusterPki input validation', () => {
  const pki = new ClusterPki({ repo: newStore().clusterPki, log: silentLogger() });
  const cases: [string, string, unknown, string][] = [
    ['a cluster name that is not a DNS label', 'Prod_1', INPUTS, '/cluster'],
    ['a missing field', 'prod', { ...INPUTS, vip: undefined }, '/vip'],
    ['a VIP that is not an IP', 'prod', { ...INPUTS, vip: '10.0.0' }, '/vip'],
    ['a duplicate member', 'prod', { ...INPUTS, etcdMembers: [INPUTS.etcdMembers[0], INPUTS.etcdMembers[0]] }, '/etcdMembers/1/name'],
    ['an address that is neither IP nor DNS name', 'prod', { ...INPUTS, controlPlane: [{ name: 'cp-1', addresses: ['-bad-'] }] }, '/controlPlane/0/addresses/0'],
    ['an unknown field', 'prod', { ...INPUTS, extra: 1 }, '/extra'],
  ];
  it.each(cases)('rejects %s with its path', async (_what, cluster, inputs, path) => {
    await expect(pki.ensure(cluster, inputs)).rejects.toMatchObject({ code: 'BALLAST_ERR_VALIDATION', path });
  });
});

describe('host file sets', () => {
  let bundle: ClusterPkiBundle;
  beforeAll(async () => {
    bundle = await new ClusterPki({ repo: newStore().clusterPki, log: silentLogger() }).ensure('prod', INPUTS);
  });

  it("gives a control-plane host kubeadm's external-etcd pki layout, keys 0600", () => {
    const files = kubeadmPkiFiles(bundle);
    expect(files.map((f) => [f.path, f.mode.toString(8)])).toEqual([
      ['/etc/kubernetes/pki/ca.crt', '644'],
      ['/etc/kubernetes/pki/ca.key', '600'],
      ['/etc/kubernetes/pki/front-proxy-ca.crt', '644'],
      ['/etc/kubernetes/pki/front-proxy-ca.key', '600'],
      ['/etc/kubernetes/pki/sa.key', '600'],
      ['/etc/kubernetes/pki/sa.pub', '600'],
      ['/etc/kubernetes/pki/etcd/ca.crt', '644'],
      ['/etc/kubernetes/pki/apiserver-etcd-client.crt', '644'],
      ['/etc/kubernetes/pki/apiserver-etcd-client.key', '600'],
    ]);
    const byPath = new Map(files.map((f) => [f.path, f.content]));
    expect(byPath.get('/etc/kubernetes/pki/ca.key')).toBe(bundle.kubernetesCa.keyPem);
    expect(byPath.get('/etc/kubernetes/pki/etcd/ca.crt')).toBe(bundle.etcdCa.certPem);
    // The etcd CA key never leaves the controller.
    expect(files.some((f) => f.content === bundle.etcdCa.keyPem)).toBe(false);
  });

  it("gives an etcd member the etcd role's tls vars, and refuses a non-member", () => {
    const tls = etcdMemberTls(bundle, 'etcd-2');
    expect(tls).toEqual({
      caCert: bundle.etcdCa.certPem,
      serverCert: bundle.etcdMembers.get('etcd-2')?.server.certPem,
      serverKey: bundle.etcdMembers.get('etcd-2')?.server.keyPem,
      peerCert: bundle.etcdMembers.get('etcd-2')?.peer.certPem,
      peerKey: bundle.etcdMembers.get('etcd-2')?.peer.keyPem,
      clientCert: bundle.etcdClients.get('etcd-2')?.certPem,
      clientKey: bundle.etcdClients.get('etcd-2')?.keyPem,
    });
    expect(() => etcdMemberTls(bundle, 'cp-1')).toThrow(expect.objectContaining({ code: 'BALLAST_ERR_NOT_FOUND' }));
  });

  it('a peer certificate authenticates as a TLS client to a server certificate (both usages at work)', async () => {
    const server = bundle.etcdMembers.get('etcd-1')?.server as KeyPair;
    const peer = bundle.etcdMembers.get('etcd-2')?.peer as KeyPair;
    const tls = createServer({ cert: server.certPem, key: server.keyPem, ca: bundle.etcdCa.certPem, requestCert: true, rejectUnauthorized: true });
    const seen = new Promise<unknown>((resolve) => {
      tls.once('secureConnection', (socket: TLSSocket) => {
        resolve(socket.getPeerCertificate().subject?.CN);
        socket.end();
      });
    });
    await new Promise<void>((resolve) => tls.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = tls.address() as AddressInfo;
      const authorized = await new Promise<boolean>((resolve, reject) => {
        const socket = connect({ host: '127.0.0.1', port, servername: 'localhost', ca: bundle.etcdCa.certPem, cert: peer.certPem, key: peer.keyPem }, () => {
          resolve(socket.authorized);
          socket.end();
        });
        socket.once('error', reject);
      });
      expect(authorized).toBe(true);
      expect(await seen).toBe('etcd-2');
    } finally {
      await new Promise((resolve) => tls.close(resolve));
    }
  });
});

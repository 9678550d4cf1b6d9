import { X509Certificate } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import type { KubeconfigResponse } from '../../../../shared/src/kubeconfig-api.js';
import { type ClusterApp, clusterApp, TEST_CLUSTER_SPEC } from '../../bootstrap/testing.js';
import { checkApiServerUrl } from '../../../../shared/src/kubeconfig-api.js';
import { PKI_NAMES } from '../../pki/cluster-pki-items.js';

/** The parts of a kubeconfig these tests read. */
interface Kubeconfig {
  apiVersion: string;
  kind: string;
  clusters: { name: string; cluster: { server: string; 'certificate-authority-data': string } }[];
  users: { name: string; user: { 'client-certificate-data': string; 'client-key-data': string } }[];
  contexts: { name: string; context: { cluster: string; user: string } }[];
  'current-context': string;
}

const unb64 = (text: string | undefined): string => Buffer.from(text ?? '', 'base64').toString('utf8');

describe('POST /v1/clusters/:name/kubeconfig (app.inject, real SQLite, real engine and cluster PKI)', () => {
  let c: ClusterApp;

  beforeEach(async () => {
    c = await clusterApp('ballast-kubeconfig-api-');
  });
  afterEach(async () => {
    await c.close();
  });

  const ask = (name: string, token: string, body: Record<string, unknown> = {}) =>
    c.app.inject({ method: 'POST', url: `/v1/clusters/${name}/kubeconfig`, headers: { authorization: `Bearer ${token}` }, payload: body });

  it('gives an admin a kubeconfig whose certificate the cluster CA issued, with the subject and lifetime asked for', async () => {
    expect((await c.create()).state).toBe('succeeded');
    const before = Date.now();
    const r = await ask('lab', c.tokens.admin, { ttlSeconds: 2 * 3600 });
    expect(r.statusCode).toBe(200);
    expect(r.headers['cache-control']).toBe('no-store');
    const body = r.json<KubeconfigResponse>();
    expect(body).toMatchObject({ cluster: 'lab', server: 'https://198.18.0.250:8443', user: 'ballast:admin', groups: ['kubeadm:cluster-admins'] });

    const doc = parse(body.kubeconfig) as Kubeconfig;
    expect([doc.apiVersion, doc.kind, doc['current-context']]).toEqual(['v1', 'Config', 'lab']);
    expect(doc.clusters.map((x) => [x.name, x.cluster.server])).toEqual([['lab', 'https://198.18.0.250:8443']]);
    expect(doc.contexts).toEqual([{ name: 'lab', context: { cluster: 'lab', user: 'ballast:admin@lab' } }]);

    const storedCa = c.store.clusterPki.get('lab', PKI_NAMES.kubernetesCa);
    const ca = new X509Certificate(unb64(doc.clusters[0]?.cluster['certificate-authority-data']));
    expect(ca.fingerprint256).toBe(new X509Certificate(storedCa?.certPem ?? '').fingerprint256);
    const cert = new X509Certificate(unb64(doc.users[0]?.user['client-certificate-data']));
    expect(cert.checkIssued(ca)).toBe(true);
    expect(cert.verify(ca.publicKey)).toBe(true);
    expect(cert.subject.split('\n').sort()).toEqual(['CN=ballast:admin', 'O=kubeadm:cluster-admins']);
    expect(cert.ca).toBe(false);
    expect(cert.keyUsage).toEqual(['1.3.6.1.5.5.7.3.2']); // clientAuth only
    expect(cert.serialNumber.toLowerCase()).toBe(body.serial);
    const notAfter = Date.parse(cert.validTo);
    expect(notAfter).toBeGreaterThanOrEqual(before + 2 * 3600_000 - 1000);
    expect(notAfter).toBeLessThanOrEqual(Date.now() + 2 * 3600_000 + 1000);
    expect(Date.parse(body.notAfter)).toBe(notAfter);

    const key = unb64(doc.users[0]?.user['client-key-data']);
    expect(key).toMatch(/^-----BEGIN PRIVATE KEY-----/);
    expect(cert.checkPrivateKey((await import('node:crypto')).createPrivateKey(key))).toBe(true);
    expect((await import('node:crypto')).createPrivateKey(key).asymmetricKeyDetails?.namedCurve).toBe('prime256v1');

    // Audited with who, what, ttl and serial; never the key. Nothing new is stored in the PKI.
    const audit = c.store.audit.list(10).find((a) => a.action === 'cluster.kubeconfig');
    expect(audit).toMatchObject({ actor: 'admin', role: 'admin', target: 'lab', outcome: 'ok' });
    expect(audit?.detail).toContain('ttl 2h');
    expect(audit?.detail).toContain(body.serial);
    const row = JSON.stringify(audit);
    expect(row).not.toContain('PRIVATE KEY');
    expect(row).not.toContain(doc.users[0]?.user['client-key-data'].slice(0, 40));
    expect(row).not.toContain(key.split('\n')[1]);
    expect(c.store.clusterPki.list('lab').some((p) => p.subject.includes('ballast:admin'))).toBe(false);

    // Each call is a new certificate and key, and the default lifetime is 24 hours.
    const again = (await ask('lab', c.tokens.admin)).json<KubeconfigResponse>();
    expect(again.serial).not.toBe(body.serial);
    expect(Date.parse(again.notAfter) - Date.now()).toBeGreaterThan(24 * 3600_000 - 60_000);
    expect(Date.parse(again.notAfter) - Date.now()).toBeLessThanOrEqual(24 * 3600_000);
  });

  it('refuses operators and viewers (403, coded, audited as denied) and anonymous callers', async () => {
    await c.create();
    for (const [token, who] of [
      [c.tokens.operator, 'olga'],
      [c.tokens.viewer, 'vic'],
    ] as const) {
      const r = await ask('lab', token);
      expect(r.statusCode).toBe(403);
      expect(r.json()).toMatchObject({ code: 'BALLAST_ERR_FORBIDDEN' });
      expect(r.json<{ message: string }>().message).toContain('needs role admin');
      expect(r.body).not.toContain('PRIVATE KEY');
      expect(c.store.audit.list(20).find((a) => a.action === 'cluster.kubeconfig' && a.actor === who)?.outcome).toBe('denied');
    }
    const anonymous = await c.app.inject({ method: 'POST', url: '/v1/clusters/lab/kubeconfig', payload: {} });
    expect(anonymous.statusCode).toBe(401);
  });

  it('refuses an unknown cluster (404) and a cluster whose create never issued the PKI (409)', async () => {
    const unknown = await ask('nope', c.tokens.admin);
    expect(unknown.statusCode).toBe(404);
    expect(unknown.json()).toMatchObject({ code: 'BALLAST_ERR_NOT_FOUND' });
    expect(unknown.headers['cache-control']).toBe('no-store');
    expect(c.store.audit.list(10).find((a) => a.action === 'cluster.kubeconfig')).toMatchObject({ target: 'nope', outcome: 'failed' });

    // The create fails at preflight, before its PKI step.
    c.fleet.failures.set('preflight/h1', 100);
    const op = await c.create();
    expect(op.state).not.toBe('succeeded');
    expect(c.store.clusterPki.list('lab')).toEqual([]);
    const early = await ask('lab', c.tokens.admin);
    expect(early.statusCode).toBe(409);
    expect(early.json()).toMatchObject({ code: 'BALLAST_ERR_CLUSTER_PKI_MISSING' });
    expect(early.json<{ message: string }>().message).toContain(op.id);
  });

  it('bounds the ttl (5m to 7d) and checks the server URL, with the field path', async () => {
    await c.create();
    for (const ttlSeconds of [299, 7 * 86_400 + 1, 0, -5, 1.5]) {
      const r = await ask('lab', c.tokens.admin, { ttlSeconds });
      expect(r.statusCode, String(ttlSeconds)).toBe(400);
      expect(r.json(), String(ttlSeconds)).toMatchObject({ code: 'BALLAST_ERR_VALIDATION', path: 'body/ttlSeconds' });
    }
    expect((await ask('lab', c.tokens.admin, { ttlSeconds: 300 })).statusCode).toBe(200);
    const week = (await ask('lab', c.tokens.admin, { ttlSeconds: 7 * 86_400 })).json<KubeconfigResponse>();
    expect(Date.parse(week.notAfter) - Date.now()).toBeGreaterThan(7 * 86_400_000 - 60_000);

    const custom = (await ask('lab', c.tokens.admin, { server: 'https://api.example.com:6443/' })).json<KubeconfigResponse>();
    expect(custom.server).toBe('https://api.example.com:6443');
    expect((parse(custom.kubeconfig) as Kubeconfig).clusters[0]?.cluster.server).toBe('https://api.example.com:6443');
    for (const server of ['http://api.example.com:6443', 'api.example.com:6443', 'https://u:p@api.example.com', 'https://api.example.com/?x=1']) {
      const r = await ask('lab', c.tokens.admin, { server });
      expect(r.statusCode, server).toBe(400);
      expect(r.json(), server).toMatchObject({ code: 'BALLAST_ERR_VALIDATION', path: '/server' });
    }
    const extra = await ask('lab', c.tokens.admin, { ttl: '1h' });
    expect(extra.statusCode).toBe(400);
  });

  it('refuses a cluster older than Kubernetes 1.29, where kubeadm binds no kubeadm:cluster-admins', async () => {
    await c.create({ ...TEST_CLUSTER_SPEC, name: 'old', versions: { kubernetes: '1.28.9' } });
    const r = await ask('old', c.tokens.admin);
    expect(r.statusCode).toBe(409);
    expect(r.json()).toMatchObject({ code: 'BALLAST_ERR_UNSUPPORTED' });
    expect(r.json<{ message: string }>().message).toContain('1.28.9');
  });
});

describe('checkApiServerUrl', () => {
  it('keeps a path (a proxy in front of the API server) and brackets IPv6', () => {
    expect(checkApiServerUrl('https://proxy.example.com/k8s/clusters/c-1/')).toBe('https://proxy.example.com/k8s/clusters/c-1');
    expect(checkApiServerUrl('https://[fd00::1]:6443')).toBe('https://[fd00::1]:6443');
    expect(() => checkApiServerUrl('https://x#frag')).toThrow(/no query or fragment allowed/);
  });
});

/**
 * The Kubernetes client (controller/src/kube/client.ts) through the real @kubernetes/client-node
 * against the fake kube-apiserver (test/support/fake-apiserver.ts) over mTLS on loopback.
 */
import { readFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { ApiException, KubeConfig, KubernetesObjectApi, type V1ConfigMap } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type KeyPair, createCa, issueClientCert, issueServerCert } from '../../controller/src/pki/ca.js';
import { type KubeApi, type KubeApiOptions, createKubeApi } from '../../controller/src/kube/client.js';
import { KubeApiError } from '../../controller/src/kube/errors.js';
import { type FakeApiServer, startFakeApiServer } from '../support/fake-apiserver.js';

const MANIFEST = readFileSync(new URL('../fixtures/cni/flannel-like.yaml', import.meta.url), 'utf8');

let ca: KeyPair;
let admin: KeyPair;
let fake: FakeApiServer;
let kube: KubeApi;
let options: KubeApiOptions;

beforeAll(async () => {
  ca = await createCa({ commonName: 'kubernetes' });
  const serving = await issueServerCert({ ca, commonName: 'kube-apiserver', dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'] });
  admin = await issueClientCert({ ca, commonName: 'ballast-admin' });
  fake = await startFakeApiServer({ clientCaPem: ca.certPem, serving });
  options = { server: fake.url, caPem: ca.certPem, certPem: admin.certPem, keyPem: admin.keyPem };
  kube = createKubeApi(options);
});

afterAll(async () => {
  await fake?.close();
});

/** The KubeApiError a promise rejects with. */
async function rejection(p: Promise<unknown>): Promise<KubeApiError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(KubeApiError);
  return err as KubeApiError;
}

describe('readyz', () => {
  it('is ok with the checks listed, then not ready with the failing check named', async () => {
    const ok = await kube.readyz();
    expect(ok.ok).toBe(true);
    expect(ok.body).toContain('[+]etcd ok');
    fake.setReady(false, ['etcd', 'informer-sync']);
    const notReady = await kube.readyz();
    expect(notReady.ok).toBe(false);
    expect(notReady.body).toContain('[-]etcd failed');
    expect(notReady.body).toContain('readyz check failed');
    fake.setReady(true);
    expect(fake.requests.filter((r) => r.path === '/readyz').map((r) => [r.user, r.status])).toEqual([
      ['ballast-admin', 200],
      ['ballast-admin', 500],
    ]);
  });
});

describe('apply', () => {
  it('creates every object of a CNI manifest in order, then reports them unchanged', async () => {
    const first = await kube.apply(MANIFEST);
    expect(first.map((r) => `${r.action} ${r.kind} ${r.namespace ?? ''}/${r.name}`)).toEqual([
      'created Namespace /kube-flannel',
      'created ClusterRole /flannel',
      'created ClusterRoleBinding /flannel',
      'created ServiceAccount kube-flannel/flannel',
      'created ConfigMap kube-flannel/kube-flannel-cfg',
      'created DaemonSet kube-flannel/kube-flannel-ds',
    ]);
    const ds = fake.object('apps', 'daemonsets', 'kube-flannel', 'kube-flannel-ds');
    expect(ds).toMatchObject({ metadata: { generation: 1, uid: expect.any(String) }, spec: { template: { spec: { hostNetwork: true, serviceAccountName: 'flannel' } } } });
    // The ConfigMap's JSON documents survive YAML block scalars and client-node's serializer intact.
    const cm = fake.object('', 'configmaps', 'kube-flannel', 'kube-flannel-cfg') as { data: Record<string, string> };
    expect(JSON.parse(cm.data['net-conf.json'] ?? '')).toEqual({ Network: '10.244.0.0/16', EnableNFTables: false, Backend: { Type: 'vxlan' } });

    // Created by server-side apply (a 404 read, then a PATCH answered 201), so the next apply is a no-op.
    expect(fake.requests.filter((r) => r.method === 'POST')).toEqual([]);
    expect(fake.requests.filter((r) => r.method === 'PATCH').map((r) => r.status)).toEqual(Array(6).fill(201));
    const before = fake.requests.length;
    const second = await kube.apply(MANIFEST);
    expect(second.map((r) => r.action)).toEqual(Array(6).fill('unchanged'));
    // What client-node 1.4 sends, as observed: discovery once per group-version per apply, then a GET
    // and a server-side apply PATCH (JSON body, apply-patch content type, our field manager, force).
    const log = fake.requests.slice(before);
    expect(log.filter((r) => r.method === 'GET' && /^\/apis?\/(v1|[^/]+\/v1)$/.test(r.path)).map((r) => r.path)).toEqual([
      '/api/v1',
      '/apis/rbac.authorization.k8s.io/v1',
      '/apis/apps/v1',
    ]);
    const patches = log.filter((r) => r.method === 'PATCH');
    expect(patches.map((r) => r.path)).toEqual([
      '/api/v1/namespaces/kube-flannel',
      '/apis/rbac.authorization.k8s.io/v1/clusterroles/flannel',
      '/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/flannel',
      '/api/v1/namespaces/kube-flannel/serviceaccounts/flannel',
      '/api/v1/namespaces/kube-flannel/configmaps/kube-flannel-cfg',
      '/apis/apps/v1/namespaces/kube-flannel/daemonsets/kube-flannel-ds',
    ]);
    for (const p of patches) {
      expect(p).toMatchObject({ contentType: 'application/apply-patch+yaml', status: 200, user: 'ballast-admin' });
      expect(new URLSearchParams(p.query).get('fieldManager')).toBe('ballast');
      expect(new URLSearchParams(p.query).get('force')).toBe('true');
    }
  });

  it('reports a changed object as updated and bumps the DaemonSet generation', async () => {
    const changed = MANIFEST.replace('flannel:v0.25.7\n        command: ["/opt/bin/flanneld"]', 'flannel:v0.26.0\n        command: ["/opt/bin/flanneld"]');
    expect(changed).not.toBe(MANIFEST);
    const results = await kube.apply(changed);
    expect(results.filter((r) => r.action === 'updated').map((r) => r.name)).toEqual(['kube-flannel-ds']);
    expect(fake.object('apps', 'daemonsets', 'kube-flannel', 'kube-flannel-ds')).toMatchObject({ metadata: { generation: 2 } });
  });

  it('maps a refusal to BALLAST_ERR_KUBE_REFUSED with status and reason (namespace missing)', async () => {
    const orphan = 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: orphan\n  namespace: nowhere\ndata: {}\n';
    const err = await rejection(kube.apply(orphan));
    expect(err).toMatchObject({ code: 'BALLAST_ERR_KUBE_REFUSED', status: 404, reason: 'NotFound' });
    expect(err.message).toBe('failed to create ConfigMap nowhere/orphan: 404 NotFound: namespaces "nowhere" not found');
  });

  it('refuses an invalid manifest before any request', async () => {
    const before = fake.requests.length;
    const err = await rejection(kube.apply('apiVersion: v1\nkind: ConfigMap\nmetadata: {}\n---\nkind: Secret\n'));
    expect(err.code).toBe('BALLAST_ERR_VALIDATION');
    expect(err.message).toContain('/documents/0/metadata/name');
    expect(err.message).toContain('/documents/1/apiVersion');
    expect(fake.requests.length).toBe(before);
  });
});

describe('nodes', () => {
  it('lists nodes with roles, and sees Ready flip with since when it is not ready (the Ready condition\'s lastTransitionTime)', async () => {
    const t0 = Date.now();
    fake.addNode('cp-1', { ready: true, roles: ['control-plane'], address: '10.0.0.11' });
    fake.addNode('worker-1', { ready: false, address: '10.0.1.21' });
    const first = await kube.nodes();
    expect(first.map(({ notReadySince, ...n }) => n)).toEqual([
      { name: 'cp-1', ready: true, roles: ['control-plane'] },
      { name: 'worker-1', ready: false, roles: [] },
    ]);
    expect(first[0]?.notReadySince).toBeNull();
    // The condition's time has whole seconds.
    expect(first[1]?.notReadySince).toBeGreaterThanOrEqual(Math.floor(t0 / 1000) * 1000);
    expect(first[1]?.notReadySince).toBeLessThanOrEqual(Date.now());
    fake.setNodeReady('worker-1', true);
    fake.setNodeReady('cp-1', false);
    const second = await kube.nodes();
    expect(second.map(({ notReadySince, ...n }) => n)).toEqual([
      { name: 'cp-1', ready: false, roles: ['control-plane'] },
      { name: 'worker-1', ready: true, roles: [] },
    ]);
    expect(second[0]?.notReadySince).toEqual(expect.any(Number));
    expect(second[1]?.notReadySince).toBeNull();
  });
});

describe('errors', () => {
  it('a client certificate from another CA is refused with 401 Unauthorized, on every call', async () => {
    const otherCa = await createCa({ commonName: 'not-kubernetes' });
    const stranger = await issueClientCert({ ca: otherCa, commonName: 'ballast-admin' });
    const wrong = createKubeApi({ ...options, certPem: stranger.certPem, keyPem: stranger.keyPem });
    for (const call of [() => wrong.readyz(), () => wrong.nodes(), () => wrong.apply(MANIFEST)]) {
      expect(await rejection(call())).toMatchObject({ code: 'BALLAST_ERR_KUBE_REFUSED', status: 401, reason: 'Unauthorized' });
    }
    expect(fake.requests.filter((r) => r.user === null).every((r) => r.status === 401)).toBe(true);
  });

  it('an API server certificate from another CA is a TLS error', async () => {
    const otherCa = await createCa({ commonName: 'elsewhere' });
    const err = await rejection(createKubeApi({ ...options, caPem: otherCa.certPem }).nodes());
    expect(err.code).toBe('BALLAST_ERR_TLS');
  });

  it('a closed port is BALLAST_ERR_KUBE_UNAVAILABLE', async () => {
    const closed = await freePort();
    const err = await rejection(createKubeApi({ ...options, server: `https://127.0.0.1:${closed}` }).readyz());
    expect(err.code).toBe('BALLAST_ERR_KUBE_UNAVAILABLE');
  });

  it('a server that never answers hits the deadline', async () => {
    const sockets = new Set<Socket>();
    const silent: Server = createServer((s) => sockets.add(s));
    await new Promise<void>((done) => silent.listen(0, '127.0.0.1', done));
    const port = (silent.address() as { port: number }).port;
    try {
      const slow = createKubeApi({ ...options, server: `https://127.0.0.1:${port}`, timeoutMs: { readyz: 300, nodes: 300, apply: 300 } });
      const started = Date.now();
      for (const call of [() => slow.readyz(), () => slow.nodes(), () => slow.apply(MANIFEST)]) {
        const err = await rejection(call());
        expect(err.code).toBe('BALLAST_ERR_KUBE_UNAVAILABLE');
        expect(err.message).toMatch(/no answer within 300 ms/);
      }
      // One after the other: three deadlines of 300 ms, nowhere near a hang.
      expect(Date.now() - started).toBeLessThan(5_000);
    } finally {
      for (const s of sockets) s.destroy();
      await new Promise<void>((done) => silent.close(() => done()));
    }
  });

  it('refuses options that are not an https server and PEM material', () => {
    expect(() => createKubeApi({ ...options, server: 'http://127.0.0.1:6443', keyPem: 'nope' })).toThrow(/\/server.*\/keyPem/);
  });
});

describe('the fake answers as kube-apiserver does', () => {
  /** client-node's generic object API with the admin identity (bypassing our client's mapping). */
  function objectApi(): KubernetesObjectApi {
    const kc = new KubeConfig();
    const b64 = (s: string) => Buffer.from(s).toString('base64');
    kc.loadFromOptions({
      clusters: [{ name: 'c', server: fake.url, caData: b64(ca.certPem), skipTLSVerify: false }],
      users: [{ name: 'u', certData: b64(admin.certPem), keyData: b64(admin.keyPem) }],
      contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
      currentContext: 'x',
    });
    return KubernetesObjectApi.makeApiClient(kc);
  }
  const statusOf = async (p: Promise<unknown>) => {
    const err = await p.then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(ApiException);
    return JSON.parse(String((err as ApiException<unknown>).body)) as Record<string, unknown>;
  };

  it('409 AlreadyExists on a second POST, 409 Conflict on a stale PUT, no-op PUT keeps the resourceVersion', async () => {
    const api = objectApi();
    const cm: V1ConfigMap = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'fidelity', namespace: 'default' }, data: { a: '1' } };
    const created = await api.create(structuredClone(cm));
    expect(created.metadata?.resourceVersion).toMatch(/^[0-9]+$/);
    expect(await statusOf(api.create(structuredClone(cm)))).toEqual({
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message: 'configmaps "fidelity" already exists',
      reason: 'AlreadyExists',
      details: { name: 'fidelity', kind: 'configmaps' },
      code: 409,
    });
    const same = await api.replace({ ...structuredClone(cm), metadata: { ...cm.metadata, resourceVersion: created.metadata?.resourceVersion } });
    expect(same.metadata?.resourceVersion).toBe(created.metadata?.resourceVersion);
    const changed = await api.replace({ ...structuredClone(cm), data: { a: '2' } });
    expect(changed.metadata?.resourceVersion).not.toBe(created.metadata?.resourceVersion);
    const stale = { ...structuredClone(cm), metadata: { ...cm.metadata, resourceVersion: created.metadata?.resourceVersion } };
    expect(await statusOf(api.replace(stale))).toMatchObject({ code: 409, reason: 'Conflict', message: expect.stringContaining('the object has been modified') });
    expect(await statusOf(api.read({ apiVersion: 'apps/v1', kind: 'DaemonSet', metadata: { name: 'nope', namespace: 'default' } }))).toMatchObject({
      code: 404,
      reason: 'NotFound',
      message: 'daemonsets.apps "nope" not found',
      details: { name: 'nope', group: 'apps', kind: 'daemonsets' },
    });
  });
});

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((done) => s.listen(0, '127.0.0.1', done));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((done) => s.close(() => done()));
  return port;
}

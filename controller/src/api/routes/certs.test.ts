import type { FastifyInstance } from 'fastify';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { CertListResponse, IssuedCertListResponse } from '../../../../shared/src/certs-api.js';
import { silentLogger } from '../../../../shared/src/log.js';
import { ClusterPki } from '../../pki/cluster-pki.js';
import type { Store } from '../../store/store.js';
import { type TempStore, tempStore } from '../../store/testing.js';
import { testApp } from '../testing.js';
import { certInfo } from './certs.js';

const DAY = 86_400_000;
const INPUTS = {
  etcdMembers: [{ name: 'etcd-1', addresses: ['10.0.0.11'] }],
  controlPlane: [{ name: 'etcd-1', addresses: ['10.0.0.11'] }],
  vip: '10.0.0.100',
  apiServerServiceIp: '10.96.0.1',
};

describe('GET /v1/certs (app.inject, real SQLite file)', () => {
  let temp: TempStore;
  let store: Store;
  let app: FastifyInstance;
  let admin: string;
  let viewer: string;

  beforeEach(async () => {
    temp = await tempStore('ballast-certs-api-');
    store = temp.store;
    app = await testApp({ store });
    admin = store.operators.ensureAdmin() ?? '';
    viewer = store.operators.create({ name: 'vic', role: 'viewer' }).token;
  });
  afterEach(async () => {
    await app.close();
    await temp.cleanup();
  });

  const get = (url: string, token?: string) =>
    app.inject({ method: 'GET', url, headers: token === undefined ? {} : { authorization: `Bearer ${token}` } });

  it('needs an operator token; a viewer may list', async () => {
    expect((await get('/v1/certs')).statusCode).toBe(401);
    expect((await get('/v1/certs', 'blst_nope')).statusCode).toBe(401);
    const r = await get('/v1/certs', viewer);
    expect(r.statusCode).toBe(200);
    expect(r.json()).toEqual({ items: [] });
  });

  it('lists a cluster without keys or token secrets, with expiry and days left', async () => {
    const bundle = await new ClusterPki({ repo: store.clusterPki, log: silentLogger() }).ensure('prod', INPUTS);
    await new ClusterPki({ repo: store.clusterPki, log: silentLogger() }).ensure('dev', INPUTS);
    const r = await get('/v1/certs?cluster=prod', viewer);
    expect(r.statusCode).toBe(200);
    const body = r.json<CertListResponse>();
    expect(new Set(body.items.map((i) => i.cluster))).toEqual(new Set(['prod']));
    expect(body.items.map((i) => i.name)).toEqual([...body.items.map((i) => i.name)].sort());
    expect(body.items.find((i) => i.name === 'etcd-server:etcd-1')).toEqual({
      cluster: 'prod',
      name: 'etcd-server:etcd-1',
      kind: 'cert',
      subject: 'CN=etcd-1',
      sans: ['etcd-1', 'localhost', '10.0.0.11', '127.0.0.1', '::1'],
      notAfter: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
      daysLeft: 364,
    });
    expect(body.items.find((i) => i.name === 'etcd-ca')?.daysLeft).toBe(3649);
    expect(body.items.find((i) => i.name === 'sa')).toMatchObject({ kind: 'keypair', notAfter: null, daysLeft: null });
    expect(body.items.find((i) => i.name === 'bootstrap-token')).toMatchObject({ kind: 'token', daysLeft: 0 });
    const text = r.body;
    expect(text).not.toContain('PRIVATE KEY');
    expect(text).not.toContain('CERTIFICATE');
    expect(text).not.toContain(bundle.bootstrapToken.token);
    expect(text).not.toContain(bundle.bootstrapToken.token.slice(7));

    const all = (await get('/v1/certs', admin)).json<CertListResponse>();
    expect(new Set(all.items.map((i) => i.cluster))).toEqual(new Set(['dev', 'prod']));
    expect((await get('/v1/certs?cluster=nope', viewer)).json()).toEqual({ items: [] });
  });

  it('counts days left from the server clock and goes negative once expired', async () => {
    await new ClusterPki({ repo: store.clusterPki, log: silentLogger() }).ensure('prod', INPUTS);
    const record = store.clusterPki.get('prod', 'etcd-peer:etcd-1');
    if (record === null || record.notAfter === null) throw new Error('no peer certificate');
    expect(certInfo(record, record.notAfter - 10 * DAY).daysLeft).toBe(10);
    expect(certInfo(record, record.notAfter + 1).daysLeft).toBe(-1);
  });

  it('rejects a malformed cluster name and unknown parameters with the field path', async () => {
    const bad = await get('/v1/certs?cluster=Prod_1', viewer);
    expect(bad.statusCode).toBe(400);
    expect(bad.json()).toMatchObject({ code: 'BALLAST_ERR_VALIDATION', path: 'querystring/cluster' });
    expect((await get('/v1/certs?bogus=1', viewer)).statusCode).toBe(400);
  });

  it('lists what the controller issued: its CA and each host certificate with days left, for viewers', async () => {
    const now = Date.now();
    store.hosts.create({ id: 'h-1', name: 'node-1', certSerial: 'ab12', certNotAfter: now + 20 * DAY + 1000, enrolledAt: now });
    expect((await get('/v1/certs/issued')).statusCode).toBe(401);
    const r = await get('/v1/certs/issued', viewer);
    expect(r.statusCode).toBe(200);
    const items = r.json<IssuedCertListResponse>().items;
    expect(items.find((c) => c.name === 'node-1')).toEqual({ owner: 'host', name: 'node-1', kind: 'cert', serial: 'ab12', notAfter: new Date(now + 20 * DAY + 1000).toISOString(), daysLeft: 20 });
    const ca = items.find((c) => c.name === 'controller-ca');
    // Serials as the store keeps host serials (lower-case hex), so one search finds either.
    expect(ca).toMatchObject({ owner: 'controller', kind: 'ca', serial: expect.stringMatching(/^[0-9a-f]+$/), notAfter: expect.stringMatching(/^\d{4}-/) });
    expect(ca?.daysLeft).toBeGreaterThan(300);
    expect(r.body).not.toContain('CERTIFICATE');
  });
});

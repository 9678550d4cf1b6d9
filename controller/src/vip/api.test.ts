import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../../shared/src/log.js';
import { caPublicKeyHash } from '../../../shared/src/pki.js';
import type { VipHostChangeResponse, VipMoveResponse, VipStatusResponse } from '../../../shared/src/vip-api.js';
import { buildApp } from '../api/app.js';
import { createMetrics } from '../metrics.js';
import { createCa } from '../pki/ca.js';
import { openStore, type Store } from '../store/store.js';
import { VipService } from './service.js';
import { fakeVipFleet, vipHealth } from './testing.js';

describe('VIP API (app.inject, real SQLite, fake agents)', () => {
  let dir: string;
  let store: Store;
  let app: FastifyInstance;
  let vip: VipService;
  let admin: string;
  let viewer: string;
  let fleet: ReturnType<typeof fakeVipFleet>;
  const metrics = createMetrics({ collectProcess: false });

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ballast-vip-api-'));
    store = openStore({ path: join(dir, 'ballast.db') });
    fleet = fakeVipFleet(['cp1', 'cp2']);
    fleet.cluster.holder = 'cp1';
    vip = new VipService({ hosts: fleet.directory, events: store.events, metrics, log: silentLogger(), movePollMs: 5 });
    vip.seed([{ id: 'h_cp1', health: vipHealth() }, { id: 'h_cp2', health: vipHealth() }]);
    const ca = await createCa({ commonName: 'test-ca' });
    app = buildApp({ store, tracker: fleet.tracker, metrics, log: silentLogger(), ca, caHash: caPublicKeyHash(ca.certPem), serverUrl: () => 'https://198.18.0.1:9443', now: Date.now, vip });
    admin = store.operators.ensureAdmin() ?? '';
    viewer = store.operators.create({ name: 'vic', role: 'viewer' }).token;
  });
  afterEach(async () => {
    vip.close();
    await app.close();
    store.close();
    await rm(dir, { recursive: true, force: true });
  });

  const call = (method: 'GET' | 'POST', url: string, token: string, body?: object) =>
    app.inject({ method, url, headers: { authorization: `Bearer ${token}` }, ...(body === undefined ? {} : { payload: body }) });
  const audit = () => store.audit.list(50).map((a) => `${a.actor}:${a.action}:${a.target}:${a.outcome}`);
  const events = () => store.events.list({ limit: 100 }).map((e) => `${e.kind}:${e.host}`);

  it('shows the status to viewers', async () => {
    const r = await call('GET', '/v1/vip', viewer);
    expect(r.statusCode).toBe(200);
    const body = r.json<VipStatusResponse>();
    expect(body.items[0]).toMatchObject({ name: 'api', address: '198.18.0.250', holder: 'cp1', holderSource: 'holder', leaseLeftMs: 1600 });
    expect(body.items[0]?.candidates.map((c) => c.host)).toEqual(['cp1', 'cp2']);
    expect((await app.inject({ method: 'GET', url: '/v1/vip' })).statusCode).toBe(401);
  });

  it('moves for operators (audited, with an event), refuses viewers and unfit targets with 409 and the reason', async () => {
    expect((await call('POST', '/v1/vip/move', viewer, { to: 'cp2' })).statusCode).toBe(403);
    fleet.agent('cp2').healthy = false;
    fleet.agent('cp2').healthMessage = 'readyz: 500';
    const refused = await call('POST', '/v1/vip/move', admin, { to: 'cp2' });
    expect(refused.statusCode).toBe(409);
    expect(refused.json()).toEqual({ code: 'BALLAST_ERR_VIP_TARGET_UNFIT', message: "failed to move the VIP to cp2: cp2's VIP health check fails: readyz: 500" });
    fleet.agent('cp2').healthy = true;
    const r = await call('POST', '/v1/vip/move', admin, { to: 'cp2' });
    expect(r.statusCode).toBe(200);
    expect(r.json<VipMoveResponse>()).toMatchObject({ vip: 'api', from: 'cp1', to: 'cp2', moved: true });
    expect(audit()).toEqual(expect.arrayContaining(['vic:vip.move::denied', 'admin:vip.move:cp2:failed', 'admin:vip.move:cp2:ok']));
    expect(events()).toEqual(expect.arrayContaining(['vip.move-refused:cp2', 'vip.moved:cp2']));
    expect((await call('POST', '/v1/vip/move', admin, { to: 'cp9' })).statusCode).toBe(404);
    const bad = await call('POST', '/v1/vip/move', admin, { to: 'CP 2' });
    expect(bad.json()).toMatchObject({ code: 'BALLAST_ERR_VALIDATION', path: 'body/to' });
  });

  it('excludes and includes (audited), with a timed-out move answering 504', async () => {
    const ex = await call('POST', '/v1/vip/exclude', admin, { host: 'cp1' });
    expect(ex.statusCode).toBe(200);
    expect(ex.json<VipHostChangeResponse>()).toMatchObject({ action: 'exclude', host: 'cp1', wasHolder: true, handedOverTo: 'cp2' });
    const inc = await call('POST', '/v1/vip/include', admin, { host: 'cp1' });
    expect(inc.json<VipHostChangeResponse>()).toMatchObject({ action: 'include', candidate: { excluded: false } });
    expect(audit()).toEqual(expect.arrayContaining(['admin:vip.exclude:cp1:ok', 'admin:vip.include:cp1:ok']));
    expect(events()).toEqual(expect.arrayContaining(['vip.excluded:cp1', 'vip.included:cp1']));
    expect((await call('POST', '/v1/vip/exclude', admin, { host: 'cp1', extra: 1 })).statusCode).toBe(400);

    fleet.cluster.takeAfterPolls = Number.POSITIVE_INFINITY;
    const slow = new VipService({ hosts: fleet.directory, events: store.events, metrics, log: silentLogger(), movePollMs: 5, moveWaitMs: 50 });
    slow.seed([{ id: 'h_cp1', health: vipHealth() }, { id: 'h_cp2', health: vipHealth() }]);
    const ca = await createCa({ commonName: 'test-ca-2' });
    const app2 = buildApp({ store, tracker: fleet.tracker, metrics, log: silentLogger(), ca, caHash: caPublicKeyHash(ca.certPem), serverUrl: () => 'https://x', now: Date.now, vip: slow });
    const r = await app2.inject({ method: 'POST', url: '/v1/vip/move', headers: { authorization: `Bearer ${admin}` }, payload: { to: 'cp1' } });
    expect(r.statusCode).toBe(504);
    expect(r.json()).toMatchObject({ code: 'BALLAST_ERR_VIP_MOVE_TIMEOUT' });
    slow.close();
    await app2.close();
  });

  it('exposes the VIP metrics', async () => {
    await call('GET', '/v1/vip', viewer);
    const text = await (await app.inject({ method: 'GET', url: '/metrics' })).body;
    expect(text).toMatch(/ballast_vip_holder\{vip="api",host="cp1"\} 1/);
    expect(text).toMatch(/ballast_vip_renew_rtt_seconds\{vip="api",host="cp1",quantile="0.99"\} 0.0095/);
    expect(text).toContain('# TYPE ballast_vip_transitions_total counter');
  });
});

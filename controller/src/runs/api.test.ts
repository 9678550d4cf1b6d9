import type { FastifyInstance } from 'fastify';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { RunDocument, RunListResponse, RunProgress } from '../../../shared/src/runs-api.js';
import { testApp } from '../api/testing.js';
import { flush, type RunFixture, runEvent, runFixture, taskResult } from './fakes.js';

describe('runs API (app.inject, real SQLite, fake agents)', () => {
  let fx: RunFixture;
  let app: FastifyInstance;
  let admin: string;
  let viewer: string;

  beforeEach(async () => {
    fx = await runFixture(2);
    app = await testApp({ store: fx.store, runs: fx.orchestrator });
    admin = fx.store.operators.ensureAdmin() ?? '';
    viewer = fx.store.operators.create({ name: 'vic', role: 'viewer' }).token;
  });
  afterEach(async () => {
    await app.close();
    await fx.cleanup();
  });

  const call = (method: 'GET' | 'POST', url: string, token: string, body?: unknown) =>
    app.inject({ method, url, headers: { authorization: `Bearer ${token}` }, ...(body === undefined ? {} : { payload: body as object }) });
  const audit = () => fx.store.audit.list(50).map((a) => `${a.actor}:${a.action}:${a.target}:${a.outcome}`);

  it('starts a run (operator), shows it to viewers, and audits who started it', async () => {
    const r = await call('POST', '/v1/runs', admin, { role: 'os-prep', hosts: ['node-1'], check: true });
    expect(r.statusCode).toBe(200);
    const doc = r.json<RunDocument>();
    expect(doc).toMatchObject({ role: 'os-prep', check: true, diff: false, status: 'running', vars: {}, createdBy: 'admin' });
    expect(doc.id).toMatch(/^run-[0-9a-f]{12}$/);
    expect(audit()).toContain(`admin:run.create:${doc.id}:ok`);

    const denied = await call('POST', '/v1/runs', viewer, { role: 'os-prep', hosts: ['node-1'] });
    expect(denied.statusCode).toBe(403);
    expect(audit()).toContain('vic:run.create::denied');

    const list = (await call('GET', '/v1/runs', viewer)).json<RunListResponse>();
    expect(list.items.map((i) => [i.id, i.hosts, i.status])).toEqual([[doc.id, ['node-1'], 'running']]);
    const shown = await call('GET', `/v1/runs/${doc.id}`, viewer);
    expect(shown.statusCode).toBe(200);
    expect(shown.json<RunDocument>().hosts[0]?.plan).toHaveLength(6);
  });

  it('answers 400 with every problem for a run that cannot start, and audits the failure', async () => {
    const r = await call('POST', '/v1/runs', admin, { role: 'containerd', hosts: ['node-1', 'nope'], vars: { cni: { enabled: 'no' } } });
    expect(r.statusCode).toBe(400);
    const body = r.json<{ code: string; message: string; path: string }>();
    expect(body.code).toBe('BALLAST_ERR_VALIDATION');
    expect(body.message).toContain('/hosts/1: host "nope" is not enrolled');
    expect(body.message).toContain('/vars/cni/enabled');
    expect(body.path).toBe('/hosts/1');
    expect(audit()).toContain('admin:run.create:containerd:failed');
  });

  it('validates the body with field paths', async () => {
    const empty = await call('POST', '/v1/runs', admin, { role: 'os-prep', hosts: [] });
    expect(empty.json()).toMatchObject({ code: 'BALLAST_ERR_VALIDATION', path: 'body/hosts' });
    const role = await call('POST', '/v1/runs', admin, { role: 'Bad Role', hosts: ['node-1'] });
    expect(role.json()).toMatchObject({ code: 'BALLAST_ERR_VALIDATION', path: 'body/role' });
    const extra = await call('POST', '/v1/runs', admin, { role: 'os-prep', hosts: ['node-1'], force: true });
    expect(extra.statusCode).toBe(400);
  });

  it('404s unknown runs and 400s malformed ids', async () => {
    expect((await call('GET', '/v1/runs/run-000000000000', viewer)).json()).toMatchObject({ code: 'BALLAST_ERR_NOT_FOUND' });
    expect((await call('GET', '/v1/runs/run-XYZ', viewer)).statusCode).toBe(400);
    expect((await call('POST', '/v1/runs/run-000000000000/cancel', admin)).statusCode).toBe(404);
  });

  it('long-polls the document and the progress for the next change', async () => {
    const doc = (await call('POST', '/v1/runs', admin, { role: 'os-prep', hosts: ['node-1'] })).json<RunDocument>();
    const host = { id: 'h_node-1', name: 'node-1' };
    setTimeout(() => fx.orchestrator.onRunEvent(host, runEvent(doc.id, 0, 'finished', taskResult('changed'))), 50);
    const t0 = Date.now();
    const waited = (await call('GET', `/v1/runs/${doc.id}?after=${doc.seq}&wait=10`, viewer)).json<RunDocument>();
    expect(Date.now() - t0).toBeLessThan(5000);
    expect(waited.seq).toBeGreaterThan(doc.seq);
    expect(waited.hosts[0]?.results.map((r) => r.status)).toEqual(['changed']);

    setTimeout(() => fx.orchestrator.onRunEvent(host, runEvent(doc.id, 1, 'finished', taskResult('ok'))), 50);
    const p = (await call('GET', `/v1/runs/${doc.id}/progress?after=${waited.seq}&wait=10`, viewer)).json<RunProgress>();
    expect(p.results.map((r) => [r.name, r.status])).toEqual([['Load kernel module overlay', 'ok']]);
    expect(p.hosts[0]).toMatchObject({ name: 'node-1', status: 'running', recap: { ok: 1, changed: 1, failed: 0, skipped: 0 } });
  });

  it('cancels a run (operator, audited)', async () => {
    const doc = (await call('POST', '/v1/runs', admin, { role: 'os-prep', hosts: ['node-1', 'node-2'] })).json<RunDocument>();
    expect((await call('POST', `/v1/runs/${doc.id}/cancel`, viewer)).statusCode).toBe(403);
    const r = await call('POST', `/v1/runs/${doc.id}/cancel`, admin);
    expect(r.statusCode).toBe(200);
    expect(r.json<RunDocument>().cancelRequestedBy).toBe('admin');
    for (const name of ['node-1', 'node-2']) fx.sessions.get(name)?.finish(doc.id, { ok: 1, skipped: 5, cancelled: true });
    await flush();
    expect((await call('GET', `/v1/runs/${doc.id}`, viewer)).json<RunDocument>().status).toBe('cancelled');
    expect(audit()).toEqual(expect.arrayContaining([`admin:run.cancel:${doc.id}:ok`, `vic:run.cancel:${doc.id}:denied`]));
  });
});

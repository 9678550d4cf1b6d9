import type { FastifyInstance } from 'fastify';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { generateKeyAndCsr } from '../../../shared/src/pki.js';
import type { Store } from '../store/store.js';
import { type TempStore, tempStore } from '../store/testing.js';
import { testApp } from './testing.js';

describe('HTTP API (app.inject, real SQLite file)', () => {
  let temp: TempStore;
  let store: Store;
  let app: FastifyInstance;
  let admin: string;

  beforeEach(async () => {
    temp = await tempStore('ballast-api-');
    store = temp.store;
    app = await testApp({ store });
    admin = store.operators.ensureAdmin() ?? '';
  });

  afterEach(async () => {
    await app.close();
    await temp.cleanup();
  });

  const call = (method: 'GET' | 'POST' | 'DELETE', url: string, opts: { token?: string; body?: unknown } = {}) =>
    app.inject({
      method,
      url,
      headers: opts.token === undefined ? {} : { authorization: `Bearer ${opts.token}` },
      ...(opts.body === undefined ? {} : { payload: opts.body as object }),
    });

  it('needs a bearer token for operator routes', async () => {
    const r = await call('GET', '/v1/hosts');
    expect(r.statusCode).toBe(401);
    expect(r.json().code).toBe('BALLAST_ERR_UNAUTHENTICATED');
    const bad = await call('GET', '/v1/hosts', { token: 'blst_nope' });
    expect(bad.statusCode).toBe(401);
  });

  it('enforces roles: viewer reads, operator manages tokens, only admin manages operators', async () => {
    const viewer = (await call('POST', '/v1/operators', { token: admin, body: { name: 'vic', role: 'viewer' } })).json().token as string;
    const op = (await call('POST', '/v1/operators', { token: admin, body: { name: 'otto', role: 'operator' } })).json().token as string;
    expect((await call('GET', '/v1/hosts', { token: viewer })).statusCode).toBe(200);
    const denied = await call('POST', '/v1/tokens', { token: viewer, body: { ttlSeconds: 600 } });
    expect(denied.statusCode).toBe(403);
    expect(denied.json().message).toMatch(/role viewer.*needs role operator/);
    expect((await call('POST', '/v1/tokens', { token: op, body: { ttlSeconds: 600 } })).statusCode).toBe(200);
    expect((await call('POST', '/v1/operators', { token: op, body: { name: 'x', role: 'admin' } })).statusCode).toBe(403);
    const audit = store.audit.list(50).map((a) => `${a.actor}:${a.action}:${a.outcome}`);
    expect(audit).toContain('vic:token.create:denied');
    expect(audit).toContain('otto:token.create:ok');
    expect(audit).toContain('otto:operator.create:denied');
  });

  it('reports schema violations with the field path', async () => {
    const r = await call('POST', '/v1/tokens', { token: admin, body: { ttlSeconds: 5 } });
    expect(r.statusCode).toBe(400);
    expect(r.json()).toMatchObject({ code: 'BALLAST_ERR_VALIDATION', path: 'body/ttlSeconds' });
    const extra = await call('POST', '/v1/tokens', { token: admin, body: { ttlSeconds: 600, bogus: 1 } });
    expect(extra.statusCode).toBe(400);
  });

  it('enrols a host with a token and a CSR; the token use is counted and the host is pending', async () => {
    const t = (await call('POST', '/v1/tokens', { token: admin, body: { ttlSeconds: 600, uses: 1 } })).json();
    expect(t.joinCommand).toContain('--server https://198.18.0.2:9443');
    const { csrPem } = await generateKeyAndCsr('node-7');
    const r = await call('POST', '/v1/join', { body: { token: t.token, name: 'node-7', csr: csrPem } });
    expect(r.statusCode, r.body).toBe(200);
    expect(r.json().certificate).toContain('BEGIN CERTIFICATE');
    const hosts = (await call('GET', '/v1/hosts', { token: admin })).json().items;
    expect(hosts).toMatchObject([{ name: 'node-7', state: 'pending', connected: false }]);
    const again = await call('POST', '/v1/join', { body: { token: t.token, name: 'node-8', csr: (await generateKeyAndCsr('node-8')).csrPem } });
    expect(again.statusCode).toBe(401);
    expect(again.json().code).toBe('BALLAST_ERR_TOKEN_EXHAUSTED');
  });

  it('refuses a CSR whose CN differs from the requested name, without using the token', async () => {
    const t = (await call('POST', '/v1/tokens', { token: admin, body: { ttlSeconds: 600, uses: 1 } })).json();
    const { csrPem } = await generateKeyAndCsr('someone-else');
    const r = await call('POST', '/v1/join', { body: { token: t.token, name: 'node-9', csr: csrPem } });
    expect(r.statusCode).toBe(400);
    expect(r.json().code).toBe('BALLAST_ERR_CSR_INVALID');
    expect(store.tokens.get(t.info.id)?.usesCount).toBe(0);
  });

  it('long-polls events: a waiting request returns as soon as an event is appended', async () => {
    const last = (await call('GET', '/v1/events', { token: admin })).json().last as number;
    const started = Date.now();
    const pending = call('GET', `/v1/events?after=${last}&wait=10`, { token: admin });
    setTimeout(() => store.events.append({ host: 'node-1', kind: 'state', message: 'x' }), 100);
    const r = await pending;
    expect(Date.now() - started).toBeLessThan(5000);
    expect(r.json().items).toMatchObject([{ host: 'node-1', kind: 'state' }]);
  });

  it('serves probes and metrics without auth', async () => {
    expect((await call('GET', '/healthz')).json()).toEqual({ status: 'ok' });
    expect((await call('GET', '/readyz')).statusCode).toBe(200);
    const m = await call('GET', '/metrics');
    expect(m.body).toContain('ballast_agents_connected');
    expect(m.body).toContain('ballast_frames_rejected_total');
  });

  it('answers unknown routes with a coded 404', async () => {
    const r = await call('GET', '/v1/nope');
    expect(r.statusCode).toBe(404);
    expect(r.json().code).toBe('BALLAST_ERR_NOT_FOUND');
  });
});

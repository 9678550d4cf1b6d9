import type { FastifyInstance } from 'fastify';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { OperationDocument, OperationListResponse } from '../../../shared/src/ops-api.js';
import { testApp } from '../api/testing.js';
import { type OpsFixture, opsFixture, until } from './fakes.js';

describe('operations API (app.inject, real SQLite, test executors)', () => {
  let fx: OpsFixture;
  let app: FastifyInstance;
  let admin: string;
  let viewer: string;

  beforeEach(async () => {
    fx = await opsFixture();
    app = await testApp({ store: fx.store, ops: fx.engine });
    admin = fx.store.operators.ensureAdmin() ?? '';
    viewer = fx.store.operators.create({ name: 'vic', role: 'viewer' }).token;
  });
  afterEach(async () => {
    await app.close();
    await fx.cleanup();
  });

  const call = (method: 'GET' | 'POST', url: string, token: string) => app.inject({ method, url, headers: { authorization: `Bearer ${token}` } });
  const audit = () => fx.store.audit.list(50).map((a) => `${a.actor}:${a.action}:${a.target}:${a.outcome}`);
  const start = (hosts: string[]) => fx.engine.start('test.rollout', { hosts }, { actor: 'admin', cluster: 'prod' });

  it('lists operations and shows one to viewers; 404s unknown ids and 400s malformed ones', async () => {
    const doc = await start(['h1']);
    await fx.engine.idle(doc.id);
    const list = await call('GET', '/v1/ops', viewer);
    expect(list.statusCode).toBe(200);
    expect(list.json<OperationListResponse>().items.map((i) => [i.id, i.state, i.progress])).toEqual([[doc.id, 'succeeded', { done: 3, total: 3 }]]);
    const shown = (await call('GET', `/v1/ops/${doc.id}`, viewer)).json<OperationDocument>();
    expect(shown.steps.map((s) => [s.key, s.state, s.changed])).toEqual([['prep/h1', 'succeeded', true], ['join/h1', 'succeeded', true], ['gate/healthy', 'succeeded', true]]);
    expect(shown.steps[0]).not.toHaveProperty('args');
    expect((await call('GET', '/v1/ops/op-000000000000', viewer)).json()).toMatchObject({ code: 'BALLAST_ERR_NOT_FOUND' });
    expect((await call('GET', '/v1/ops/op-XYZ', viewer)).json()).toMatchObject({ code: 'BALLAST_ERR_VALIDATION', path: 'params/id' });
    expect((await call('GET', `/v1/ops/${doc.id}?waitMs=600000&after=0`, viewer)).statusCode).toBe(400);
  });

  it('long-polls the document for the next change', async () => {
    fx.ledger.blocked.add('prep/h1');
    const doc = await start(['h1']);
    await until(() => fx.ledger.block.has('prep/h1'), 'prep/h1 to block');
    const seq = fx.engine.get(doc.id).seq;
    setTimeout(() => fx.ledger.release('prep/h1'), 50);
    const t0 = Date.now();
    const waited = (await call('GET', `/v1/ops/${doc.id}?after=${seq}&waitMs=10000`, viewer)).json<OperationDocument>();
    expect(Date.now() - t0).toBeLessThan(5000);
    expect(waited.seq).toBeGreaterThan(seq);
    expect(waited.steps[0]?.state).toBe('succeeded');
  });

  it('resumes and aborts (operator roles, audited)', async () => {
    fx.ledger.failures.set('join/h1', 1);
    const doc = await start(['h1']);
    await fx.engine.idle(doc.id);
    expect((await call('POST', `/v1/ops/${doc.id}/resume`, viewer)).statusCode).toBe(403);
    const resumed = await call('POST', `/v1/ops/${doc.id}/resume`, admin);
    expect(resumed.statusCode).toBe(200);
    expect(resumed.json<OperationDocument>().state).toBe('running');
    await fx.engine.idle(doc.id);
    const again = await call('POST', `/v1/ops/${doc.id}/resume`, admin);
    expect(again.json()).toMatchObject({ code: 'BALLAST_ERR_VALIDATION', path: '/state' });

    fx.ledger.blocked.add('prep/h2');
    const second = await start(['h2']);
    await until(() => fx.ledger.block.has('prep/h2'), 'prep/h2 to block');
    expect((await call('POST', `/v1/ops/${second.id}/abort`, viewer)).statusCode).toBe(403);
    const aborted = (await call('POST', `/v1/ops/${second.id}/abort`, admin)).json<OperationDocument>();
    expect(aborted.state).toBe('aborted');
    expect(aborted.steps[0]?.error?.code).toBe('BALLAST_ERR_CANCELLED');
    expect(audit()).toEqual(
      expect.arrayContaining([`vic:op.resume:${doc.id}:denied`, `admin:op.resume:${doc.id}:ok`, `admin:op.resume:${doc.id}:failed`, `admin:op.abort:${second.id}:ok`]),
    );
  });
});

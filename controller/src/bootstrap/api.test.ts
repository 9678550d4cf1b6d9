import 'reflect-metadata';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ClusterList, ClusterStatus } from '../../../shared/src/clusters-api.js';
import { silentLogger } from '../../../shared/src/log.js';
import type { OperationDocument } from '../../../shared/src/ops-api.js';
import { testApp } from '../api/testing.js';
import { validateCluster } from '../cluster/validate.js';
import { OperationEngine } from '../ops/engine.js';
import { openStore, type Store } from '../store/store.js';
import { FakeFleet } from './fakes.js';
import { resetRecapText } from '../../../ballastctl/src/commands/cluster-ops.js';
import { bootstrapRegistry, fleetBootstrapDeps, SMALL_CLUSTER_DOC } from './testing.js';

const SPEC = SMALL_CLUSTER_DOC;

describe('clusters API (app.inject, real SQLite, real validator, modelled hosts)', () => {
  let dir: string;
  let store: Store;
  let engine: OperationEngine;
  let app: FastifyInstance;
  let admin: string;
  let fleet: FakeFleet;
  /** The TLS CA of every etcd client the bootstrap made, in order. */
  let etcdCas: (string | undefined)[];

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ballast-clusters-api-'));
    store = openStore({ path: join(dir, 'ballast.db') });
    fleet = new FakeFleet();
    etcdCas = [];
    const log = silentLogger();
    // The real validator, offline: no fleet or mirror port, so only the document's own rules apply.
    const deps = fleetBootstrapDeps({
      store,
      fleet,
      log,
      validate: (spec) => validateCluster(spec),
      etcd: (opts) => {
        etcdCas.push(opts.tls?.ca);
        return fleet.etcdClient();
      },
    });
    engine = new OperationEngine({ repo: store.operations, events: store.events, log, registry: bootstrapRegistry(deps) });
    app = await testApp({ store, log, serverUrl: () => 'https://198.18.0.1:9443', ops: engine, bootstrap: deps });
    admin = store.operators.ensureAdmin() ?? '';
  });
  afterEach(async () => {
    await app.close();
    await engine.close();
    store.close();
    await rm(dir, { recursive: true, force: true });
  });

  const call = (method: 'GET' | 'POST', url: string, body?: unknown) =>
    app.inject({ method, url, headers: { authorization: `Bearer ${admin}` }, ...(body === undefined ? {} : { payload: body as object }) });

  it('refuses a bad spec listing every problem with its path, and starts nothing', async () => {
    const bad = { ...SPEC, name: 'Bad_Name', hosts: [{ name: 'h1', address: '198.18.0.11', roles: ['etcd', 'chef'] }], extra: 1 };
    const r = await call('POST', '/v1/clusters', { spec: bad });
    expect(r.statusCode).toBe(400);
    const body = r.json<{ code: string; message: string; path: string }>();
    expect(body.code).toBe('BALLAST_ERR_VALIDATION');
    for (const path of ['/spec/name', '/spec/hosts/0/roles/1', '/spec/extra']) expect(body.message).toContain(path);
    expect(body.message).toContain('nothing was started');
    const even = await call('POST', '/v1/clusters', { spec: { ...SPEC, hosts: [...SPEC.hosts, { name: 'h2', address: '198.18.0.12', roles: ['etcd'] }] } });
    expect(even.statusCode).toBe(400);
    expect(even.json<{ message: string }>().message).toMatch(/etcd/);
    expect(engine.list(10)).toEqual([]);
    expect(fleet.runs).toEqual([]);
  });

  it('starts cluster create, lists the cluster, shows its status, and resets it', async () => {
    const r = await call('POST', '/v1/clusters', { spec: SPEC });
    expect(r.statusCode).toBe(200);
    const doc = r.json<OperationDocument>();
    expect(doc).toMatchObject({ kind: 'cluster.create', cluster: 'lab', createdBy: 'admin' });
    await engine.idle(doc.id);
    expect(engine.get(doc.id).state).toBe('succeeded');
    expect(store.audit.list(10).map((a) => `${a.action}:${a.outcome}`)).toContain('cluster.create:ok');
    const list = (await call('GET', '/v1/clusters')).json<ClusterList>();
    expect(list.items.map((c) => [c.name, c.state, c.hosts])).toEqual([['lab', 'succeeded', 2]]);
    expect(list.items.map((c) => [c.lifecycle, c.lastOperation.kind, c.lastOperation.state])).toEqual([['created', 'cluster.create', 'succeeded']]);
    const status = (await call('GET', '/v1/clusters/lab/status')).json<ClusterStatus>();
    expect(status.etcd.members.map((m) => [m.name, m.healthy, m.learner, m.leader])).toEqual([['h1', true, false, true]]);
    expect(status.nodes.items.map((n) => n.name).sort()).toEqual(['h1', 'w1']);
    expect((await call('GET', '/v1/clusters/nope/status')).statusCode).toBe(404);

    const reset = await call('POST', '/v1/clusters/lab/reset', { hosts: ['w1'] });
    expect(reset.statusCode).toBe(200);
    await engine.idle(reset.json<OperationDocument>().id);
    expect(fleet.changes('reset')).toEqual(['w1']);
    const partly = (await call('GET', '/v1/clusters')).json<ClusterList>().items[0];
    expect([partly?.lifecycle, partly?.lastOperation.kind]).toEqual(['partly-reset', 'cluster.reset']);

    // A full reset: the cluster is reset, whatever its create operation's outcome was.
    const full = await call('POST', '/v1/clusters/lab/reset', {});
    await engine.idle(full.json<OperationDocument>().id);
    const done = engine.get(full.json<OperationDocument>().id);
    expect(resetRecapText(done)).toMatch(/^\nPer host:\nHOST\s+OK\s+CHANGED\s+FAILED\s+SKIPPED\s+DETAILS\nh1\s+\d+\s+\d+\s+0\s+\d+\s+ballastctl run \S+\nw1\s/);
    const after = (await call('GET', '/v1/clusters')).json<ClusterList>().items[0];
    expect([after?.lifecycle, after?.lastOperation.kind, after?.lastOperation.state]).toEqual(['reset', 'cluster.reset', 'succeeded']);
    const resetStatus = (await call('GET', '/v1/clusters/lab/status')).json<ClusterStatus>();
    expect(resetStatus.lifecycle).toBe('reset');
  });

  it('status after create --check then create uses the stored PKI, never the preview', async () => {
    const check = await call('POST', '/v1/clusters', { spec: SPEC, check: true });
    await engine.idle(check.json<OperationDocument>().id);
    const create = await call('POST', '/v1/clusters', { spec: SPEC });
    await engine.idle(create.json<OperationDocument>().id);
    const stored = store.clusterPki.list('lab').find((item) => item.name === 'etcd-ca')?.certPem;
    expect(stored).toMatch(/BEGIN CERTIFICATE/);
    etcdCas = [];
    const status = (await call('GET', '/v1/clusters/lab/status')).json<ClusterStatus>();
    expect(status.etcd.error).toBeNull();
    expect(etcdCas).toEqual([stored]);
  });
});

/**
 * The fixture of the membership tests: a real SQLite file, the real operations engine with the
 * production catalogue (bootstrap and membership kinds), the real HTTP app (`app.inject`: routes,
 * auth, schemas, audit), the real PKI, modelled hosts ({@link ReplaceFleet}) and a modelled
 * Kubernetes API ({@link ModelKube}). `restart()` builds a second engine over the same file and
 * the same hosts while the first is abandoned mid-step: the controller after a SIGKILL.
 */
import 'reflect-metadata';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { silentLogger } from '../../../shared/src/log.js';
import type { OperationDocument } from '../../../shared/src/ops-api.js';
import { testApp } from '../api/testing.js';
import { CLUSTER_CREATE } from '../bootstrap/kind.js';
import { checkedSpec, fleetBootstrapDeps, LAB_CLUSTER_DOC, LAB_CONTROL_PLANES } from '../bootstrap/testing.js';
import type { ClusterSpec } from '../cluster/spec.js';
import { OperationEngine } from '../ops/engine.js';
import { operationCatalogue } from '../ops/catalogue.js';
import { createCa } from '../pki/ca.js';
import { openStore, type Store } from '../store/store.js';
import { createFencePort, type FencingConfig } from './fence.js';
import { ModelKube, ReplaceFleet } from './fakes.js';
import { specSource } from './specs.js';
import type { MembershipDeps } from './types.js';

/** 3 stacked control planes (h1 the init node) and a worker; `extra` adds fields, never replaces these. */
export function labSpec(extra: Record<string, unknown> = {}): ClusterSpec {
  return checkedSpec({ ...extra, ...LAB_CLUSTER_DOC, hosts: [...LAB_CONTROL_PLANES, { name: 'w1', address: '198.18.0.21', roles: ['worker'] }] });
}

/** One controller process over the fixture's file. */
export interface Instance {
  store: Store;
  engine: OperationEngine;
  app: FastifyInstance;
  token: string;
  /** The membership executors' deps of this instance (fence agents as configured). */
  membership: MembershipDeps;
  /** POST/GET/DELETE through the app with the admin token. */
  call(method: 'GET' | 'POST' | 'PATCH' | 'DELETE', url: string, body?: unknown): Promise<{ statusCode: number; json<T>(): T }>;
}

/** The fixture. */
export interface MembershipFixture extends Instance {
  dir: string;
  fleet: ReplaceFleet;
  kube: ModelKube;
  restart(): Promise<Instance>;
  /** cluster create of {@link labSpec} (with `extra` fields), waited for. */
  create(extra?: Record<string, unknown>): Promise<OperationDocument>;
  cleanup(): Promise<void>;
}

/** Builds the fixture; `fencing` configures fence agents per host. */
export async function membershipFixture(fencing: FencingConfig = { hosts: {} }): Promise<MembershipFixture> {
  const dir = await mkdtemp(join(tmpdir(), 'ballast-membership-'));
  const fleet = new ReplaceFleet();
  const kube = new ModelKube(fleet);
  const ca = await createCa({ commonName: 'test-ca' });
  const instances: Instance[] = [];
  const build = async (): Promise<Instance> => {
    const store = openStore({ path: join(dir, 'ballast.db') });
    const log = silentLogger();
    const bootstrap = fleetBootstrapDeps({ store, fleet, log });
    const membership: MembershipDeps = { bootstrap, repo: store.membership, hosts: fleet.hostsPort(), kubeNodes: () => kube, fence: createFencePort(fencing), drainIntervalMs: 5, drainTimeoutMs: 300 };
    const engine = new OperationEngine({ repo: store.operations, events: store.events, log, registry: operationCatalogue({ bootstrap, membership }), settleTimeoutMs: 200 });
    const app = await testApp({
      store,
      ca,
      log,
      serverUrl: () => 'https://198.18.0.1:9443',
      ops: engine,
      bootstrap,
      nodes: { membership, specs: specSource(engine, store.membership) },
    });
    const token = store.operators.ensureAdmin() ?? instances[0]?.token ?? '';
    const call: Instance['call'] = async (method, url, body) =>
      app.inject({ method, url, headers: { authorization: `Bearer ${token}` }, ...(body === undefined ? {} : { payload: body as object }) });
    const instance = { store, engine, app, token, membership, call };
    instances.push(instance);
    return instance;
  };
  const first = await build();
  return {
    ...first,
    dir,
    fleet,
    kube,
    restart: build,
    async create(extra = {}) {
      const doc = await first.engine.start(CLUSTER_CREATE, { spec: labSpec(extra) }, { actor: 'alice', cluster: 'lab' });
      await first.engine.idle(doc.id);
      const done = first.engine.get(doc.id);
      if (done.state !== 'succeeded') throw new Error(`cluster create ${done.state}: ${JSON.stringify(done.error)}`);
      for (const h of labSpec().hosts) fleet.addresses.set(h.name, h.address);
      for (const n of ['h4', 'h5', 'w2']) fleet.addresses.set(n, `198.18.0.${n === 'w2' ? 22 : 10 + Number(n.slice(1))}`);
      return done;
    },
    cleanup: () => closeInstances(instances, dir),
  };
}

/** Closes every controller instance a modelled test built (app, engine, store) and removes its directory. */
export async function closeInstances(instances: ReadonlyArray<{ app: { close(): Promise<unknown> }; engine: { close(): Promise<unknown> }; store: { close(): void } }>, dir: string): Promise<void> {
  for (const i of instances) {
    await i.app.close();
    await i.engine.close();
    i.store.close();
  }
  await rm(dir, { recursive: true, force: true });
}

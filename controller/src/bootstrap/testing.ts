/**
 * Test fixture (STYLE.md §12): the real HTTP API over a real SQLite file with the real operation
 * engine, bootstrap steps and cluster PKI, where only the hosts are modelled (FakeFleet). Tests
 * of routes about a created cluster (its kubeconfig, its status) start one here and run a real
 * `cluster create` through the API. No test-framework imports.
 */
import type { FastifyInstance } from 'fastify';
import { silentLogger } from '../../../shared/src/log.js';
import type { OperationDocument } from '../../../shared/src/ops-api.js';
import { testApp } from '../api/testing.js';
import { validateCluster } from '../cluster/validate.js';
import { OperationEngine } from '../ops/engine.js';
import type { Store } from '../store/store.js';
import { type TempStore, tempStore } from '../store/testing.js';
import type { BootstrapDeps } from './deps.js';
import { FakeFleet } from './fakes.js';
import { bootstrapExecutors, clusterCreateKind } from './kind.js';
import { clusterResetKind } from './reset.js';
import { clusterPkiPorts } from './wiring.js';

/** A small valid cluster: one stacked etcd + control-plane host and one worker. */
export const TEST_CLUSTER_SPEC = {
  apiVersion: 'ballast.dev/v1alpha1',
  kind: 'Cluster',
  name: 'lab',
  vip: { address: '198.18.0.250', interface: 'eth0', port: 8443 },
  network: { cniManifest: { inline: 'apiVersion: v1\nkind: Namespace\nmetadata:\n  name: x\n' } },
  hosts: [
    { name: 'h1', address: '198.18.0.11', roles: ['etcd', 'control-plane'] },
    { name: 'w1', address: '198.18.0.14', roles: ['worker'] },
  ],
} as const;

/** The API of a controller with clusters, and one operator token per role. */
export interface ClusterApp {
  app: FastifyInstance;
  store: Store;
  engine: OperationEngine;
  fleet: FakeFleet;
  tokens: { admin: string; operator: string; viewer: string };
  /** Runs `cluster create` for `spec` through the API as the admin and waits for it to end. */
  create(spec?: unknown): Promise<OperationDocument>;
  /** Closes the app and the engine and removes the store. */
  close(): Promise<void>;
}

/** Starts a {@link ClusterApp}; `prefix` names its temporary directory. */
export async function clusterApp(prefix: string): Promise<ClusterApp> {
  const temp: TempStore = await tempStore(prefix);
  const { store } = temp;
  const log = silentLogger();
  const fleet = new FakeFleet();
  const deps: BootstrapDeps = {
    runs: fleet,
    ...clusterPkiPorts(store.clusterPki, log),
    clusters: store.clusters,
    // The real validator, offline: no fleet or mirror port, so only the document's own rules apply.
    validate: (spec) => validateCluster(spec),
    etcd: () => fleet.etcdClient(),
    kube: () => fleet.kubeApi(),
    log,
    gateIntervalMs: 5,
  };
  const engine = new OperationEngine({
    repo: store.operations,
    events: store.events,
    log,
    registry: { kinds: [clusterCreateKind as never, clusterResetKind as never], executors: bootstrapExecutors(deps) as never },
  });
  const app = await testApp({ store, ops: engine, bootstrap: deps });
  const tokens = {
    admin: store.operators.ensureAdmin() ?? '',
    operator: store.operators.create({ name: 'olga', role: 'operator' }).token,
    viewer: store.operators.create({ name: 'vic', role: 'viewer' }).token,
  };
  return {
    app,
    store,
    engine,
    fleet,
    tokens,
    async create(spec = TEST_CLUSTER_SPEC) {
      const r = await app.inject({ method: 'POST', url: '/v1/clusters', headers: { authorization: `Bearer ${tokens.admin}` }, payload: { spec } });
      if (r.statusCode !== 200) throw new Error(`cluster create refused: ${r.statusCode} ${r.body}`);
      const id = r.json<OperationDocument>().id;
      await engine.idle(id);
      return engine.get(id);
    },
    async close() {
      await app.close();
      await engine.close();
      await temp.cleanup();
    },
  };
}

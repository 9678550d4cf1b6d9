/**
 * Test fixture (STYLE.md §12): the real HTTP API over a real SQLite file with the real operation
 * engine, bootstrap steps and cluster PKI, where only the hosts are modelled (FakeFleet). Tests
 * of routes about a created cluster (its kubeconfig, its status) start one here and run a real
 * `cluster create` through the API. No test-framework imports.
 */
import type { FastifyInstance } from 'fastify';
import { type Logger, silentLogger } from '../../../shared/src/log.js';
import type { OperationDocument } from '../../../shared/src/ops-api.js';
import { testApp } from '../api/testing.js';
import { type ClusterSpec, checkClusterDocument } from '../cluster/spec.js';
import { validateCluster } from '../cluster/validate.js';
import { OperationEngine } from '../ops/engine.js';
import type { OperationRegistry } from '../ops/types.js';
import type { Store } from '../store/store.js';
import { type TempStore, tempStore } from '../store/testing.js';
import type { BootstrapDeps } from './deps.js';
import { FakeFleet } from './fakes.js';
import { bootstrapExecutors, clusterCreateKind } from './kind.js';
import { clusterResetKind } from './reset.js';
import { clusterPkiPorts } from './wiring.js';

/** Three stacked etcd + control-plane hosts, h1 (the init node) to h3 at 198.18.0.11–13. */
export const LAB_CONTROL_PLANES = [
  { name: 'h1', address: '198.18.0.11', roles: ['etcd', 'control-plane'] },
  { name: 'h2', address: '198.18.0.12', roles: ['etcd', 'control-plane'] },
  { name: 'h3', address: '198.18.0.13', roles: ['etcd', 'control-plane'] },
];

/**
 * A cluster document named `lab` with {@link LAB_CONTROL_PLANES} and no workers: the VIP
 * 198.18.0.250 on eth0 (default port) and an inline CNI manifest (one Namespace).
 */
export const LAB_CLUSTER_DOC = {
  apiVersion: 'ballast.dev/v1alpha1',
  kind: 'Cluster',
  name: 'lab',
  vip: { address: '198.18.0.250', interface: 'eth0' },
  network: { cniManifest: { inline: 'apiVersion: v1\nkind: Namespace\nmetadata:\n  name: kube-flannel\n' } },
  hosts: LAB_CONTROL_PLANES,
};

/** `doc` checked as a cluster document, defaults filled in; throws listing the problems. */
export function checkedSpec(doc: Record<string, unknown>): ClusterSpec {
  const checked = checkClusterDocument(doc);
  if (!checked.ok) throw new Error(JSON.stringify(checked.problems));
  return checked.spec;
}

/**
 * A small valid cluster document: one stacked etcd + control-plane host and one worker, the VIP on
 * the default API server port. Not `as const`: tests spread it into variants (bad names, more hosts).
 */
export const SMALL_CLUSTER_DOC = {
  ...LAB_CLUSTER_DOC,
  network: { cniManifest: { inline: 'apiVersion: v1\nkind: Namespace\nmetadata:\n  name: x\n' } },
  hosts: [
    { name: 'h1', address: '198.18.0.11', roles: ['etcd', 'control-plane'] },
    { name: 'w1', address: '198.18.0.14', roles: ['worker'] },
  ],
};

/** {@link SMALL_CLUSTER_DOC} with the VIP on port 8443, so kubeconfig tests see a non-default port. */
export const TEST_CLUSTER_SPEC = {
  ...SMALL_CLUSTER_DOC,
  vip: { ...SMALL_CLUSTER_DOC.vip, port: 8443 },
} as const;

/** What {@link fleetBootstrapDeps} builds the bootstrap deps from. */
export interface FleetBootstrapOptions {
  /** The store whose cluster PKI and cluster lifecycle repos the deps use. */
  store: Store;
  /** The modelled hosts: runs, etcd and Kubernetes API clients. */
  fleet: FakeFleet;
  log: Logger;
  /** The cluster validator; default: accepts every spec (no problems, no notes). */
  validate?: BootstrapDeps['validate'];
  /** The etcd client factory; default: the fleet's modelled etcd. */
  etcd?: BootstrapDeps['etcd'];
}

/**
 * The bootstrap deps of a controller whose hosts are modelled by `fleet`: the real cluster PKI over
 * `store`, health gates polled every 5 ms. One definition for every bootstrap and membership fixture.
 */
export function fleetBootstrapDeps(opts: FleetBootstrapOptions): BootstrapDeps {
  const { store, fleet, log } = opts;
  return {
    runs: fleet,
    ...clusterPkiPorts(store.clusterPki, log),
    clusters: store.clusters,
    validate: opts.validate ?? (() => ({ problems: [], notes: [] })),
    etcd: opts.etcd ?? (() => fleet.etcdClient()),
    kube: () => fleet.kubeApi(),
    log,
    gateIntervalMs: 5,
  };
}

/** The operation registry of cluster create and cluster reset over `deps`. */
export function bootstrapRegistry(deps: BootstrapDeps): OperationRegistry {
  return { kinds: [clusterCreateKind as never, clusterResetKind as never], executors: bootstrapExecutors(deps) as never };
}

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
  // The real validator, offline: no fleet or mirror port, so only the document's own rules apply.
  const deps = fleetBootstrapDeps({ store, fleet, log, validate: (spec) => validateCluster(spec) });
  const engine = new OperationEngine({ repo: store.operations, events: store.events, log, registry: bootstrapRegistry(deps) });
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

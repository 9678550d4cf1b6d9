/**
 * The fixture of the recovery tests, like the membership tests': a real SQLite file, the real
 * operations engine with the production catalogue (bootstrap, membership and recovery kinds), the
 * real HTTP app (`app.inject`), the real PKI, a real snapshot file hashed for real, and modelled
 * hosts ({@link RecoverFleet}). `restart()` builds a second engine over the same file while the
 * first is abandoned mid-step: the controller after a SIGKILL.
 */
import 'reflect-metadata';
import { createHash } from 'node:crypto';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { silentLogger } from '../../../shared/src/log.js';
import type { OperationDocument } from '../../../shared/src/ops-api.js';
import { testApp } from '../api/testing.js';
import { CLUSTER_CREATE } from '../bootstrap/kind.js';
import { fleetBootstrapDeps } from '../bootstrap/testing.js';
import { createFencePort } from '../membership/fence.js';
import { ModelKube } from '../membership/fakes.js';
import { specSource } from '../membership/specs.js';
import { closeInstances, labSpec } from '../membership/testing.js';
import type { MembershipDeps } from '../membership/types.js';
import { operationCatalogue } from '../ops/catalogue.js';
import { OperationEngine } from '../ops/engine.js';
import { createCa } from '../pki/ca.js';
import { openStore, type Store } from '../store/store.js';
import { RecoverFleet } from './fakes.js';
import type { OpenedSnapshot, SnapshotSource } from './source.js';
import type { RecoveryDeps } from './types.js';

/** One controller process over the fixture's file. */
export interface RecoverInstance {
  store: Store;
  engine: OperationEngine;
  app: FastifyInstance;
  /** The admin token (for ballastctl against the listening app). */
  token: string;
  call(method: 'GET' | 'POST', url: string, body?: unknown): Promise<{ statusCode: number; json<T>(): T }>;
}

export interface RecoverFixture extends RecoverInstance {
  dir: string;
  fleet: RecoverFleet;
  /** How many runs cluster create left in `fleet.runs`. */
  baseRuns: number;
  /** Snapshots by id: a real file and the sha256 recorded for it. */
  snapshots: Map<string, OpenedSnapshot>;
  /** Each snapshot open waits this long first (a large snapshot's decrypt and hash on the controller). */
  openDelayMs: number;
  /** Writes a snapshot file of `bytes` and records it (sha256 of `recorded` when given: a corrupted one). */
  addSnapshot(id: string, bytes: Buffer, recorded?: Buffer): Promise<OpenedSnapshot>;
  restart(): Promise<RecoverInstance>;
  cleanup(): Promise<void>;
}

export async function recoverFixture(): Promise<RecoverFixture> {
  const dir = await mkdtemp(join(tmpdir(), 'ballast-recover-'));
  const fleet = new RecoverFleet();
  const kube = new ModelKube(fleet);
  const ca = await createCa({ commonName: 'test-ca' });
  const snapshots = new Map<string, OpenedSnapshot>();
  const delay = { ms: 0 };
  const source: SnapshotSource = {
    async open(id) {
      if (delay.ms > 0) await new Promise((r) => setTimeout(r, delay.ms));
      const s = snapshots.get(id);
      if (s === undefined) throw new Error(`no snapshot ${id}`);
      return s;
    },
  };
  const instances: RecoverInstance[] = [];
  let token = '';
  const build = async (): Promise<RecoverInstance> => {
    const store = openStore({ path: join(dir, 'ballast.db') });
    const log = silentLogger();
    const bootstrap = fleetBootstrapDeps({ store, fleet, log });
    const membership: MembershipDeps = { bootstrap, repo: store.membership, hosts: fleet.hostsPort(), kubeNodes: () => kube, fence: createFencePort({ hosts: {} }) };
    const recovery: RecoveryDeps = { bootstrap, repo: store.membership, snapshots: source, kubeNodes: () => kube };
    const engine = new OperationEngine({ repo: store.operations, events: store.events, log, registry: operationCatalogue({ bootstrap, membership, recovery }), settleTimeoutMs: 200 });
    const specs = specSource(engine, store.membership);
    const app = await testApp({ store, ca, log, serverUrl: () => 'https://198.18.0.1:9443', ops: engine, bootstrap, nodes: { membership, specs }, recovery: { recovery, specs } });
    token = store.operators.ensureAdmin() ?? token;
    const call: RecoverInstance['call'] = async (method, url, body) =>
      app.inject({ method, url, headers: { authorization: `Bearer ${token}` }, ...(body === undefined ? {} : { payload: body as object }) });
    const instance = { store, engine, app, token, call };
    instances.push(instance);
    return instance;
  };
  const first = await build();
  const created = await first.engine.start(CLUSTER_CREATE, { spec: labSpec() }, { actor: 'alice', cluster: 'lab' });
  await first.engine.idle(created.id);
  const doc: OperationDocument = first.engine.get(created.id);
  if (doc.state !== 'succeeded') throw new Error(`cluster create ${doc.state}: ${JSON.stringify(doc.error)}`);
  // The tests look at what the recovery runs, not the create.
  fleet.calls.length = 0;
  const baseRuns = fleet.runs.length;
  return {
    ...first,
    get openDelayMs() {
      return delay.ms;
    },
    set openDelayMs(ms: number) {
      delay.ms = ms;
    },
    dir,
    fleet,
    baseRuns,
    snapshots,
    async addSnapshot(id, bytes, recorded) {
      const dbPath = join(dir, `${id}.db`);
      await writeFile(dbPath, bytes);
      const s: OpenedSnapshot = { dbPath, sha256: createHash('sha256').update(recorded ?? bytes).digest('hex'), revision: 4242, cluster: 'lab', bundle: { files: [], spec: null } };
      snapshots.set(id, s);
      return s;
    },
    restart: build,
    cleanup: () => closeInstances(instances, dir),
  };
}

/**
 * The controller's store: one SQLite connection and the repositories over it. The heartbeat
 * batcher is not part of it because it has a lifecycle (a timer) the hub owns; build it from `db`.
 */
import { ArtifactRepo } from '../artifacts/artifact-repo.js';
import { OperationRepo } from '../ops/repo.js';
import { RunRepo } from '../runs/repo.js';
import { AuditRepo } from './audit.js';
import { ClusterPkiRepo } from './cluster-pki.js';
import { ClusterLifecycleRepo } from './clusters.js';
import { type Database, openDatabase } from './db.js';
import { MembershipRepo } from './membership.js';
import { EventRepo } from './events.js';
import { HealthSampleRepo } from './health-samples.js';
import { HostRepo } from './hosts.js';
import { OperatorRepo } from './operators.js';
import { SnapshotRepo } from './snapshots.js';
import { TokenRepo } from './tokens.js';

/** Everything the controller persists. */
export interface Store {
  readonly db: Database;
  readonly hosts: HostRepo;
  readonly tokens: TokenRepo;
  readonly operators: OperatorRepo;
  readonly events: EventRepo;
  readonly audit: AuditRepo;
  readonly healthSamples: HealthSampleRepo;
  /** The artifact mirror's index (files under <data dir>/artifacts). */
  readonly artifacts: ArtifactRepo;
  /** Role runs (ballastctl apply): runs, their hosts and task results. */
  readonly runs: RunRepo;
  /** Operations (bootstrap, reset …): persisted plans of steps, resumed after a restart. */
  readonly operations: OperationRepo;
  /** The Kubernetes clusters' PKI (pki/cluster-pki.ts): CAs, certificates, keys, bootstrap tokens. */
  readonly clusterPki: ClusterPkiRepo;
  /** Where each cluster stands (created, reset …), apart from its operations' outcomes. */
  readonly clusters: ClusterLifecycleRepo;
  /** The membership lock (one node replace/add/remove at a time) and each cluster's current spec. */
  readonly membership: MembershipRepo;
  /** etcd snapshots' index, restore drills and snapshot policies (issue 13). */
  readonly snapshots: SnapshotRepo;
  /** Closes the connection (checkpointing the WAL); later calls do nothing. */
  close(): void;
}

/** Options of {@link openStore}. */
export interface OpenStoreOptions {
  /** The database file; created with its directory's permissions if missing. */
  path: string;
  /** Clock for stored timestamps (ms since the epoch); tests inject a fake one. */
  now?: () => number;
  /** Receives exceptions from event listeners; see EventRepoOptions.onListenerError. */
  onListenerError?: (err: unknown) => void;
}

/** Opens the database (migrating it) and builds the repositories. Throws BALLAST_ERR_STORE. */
export function openStore(options: OpenStoreOptions): Store {
  const now = options.now ?? Date.now;
  const db = openDatabase(options.path, { now });
  return {
    db,
    hosts: new HostRepo(db),
    tokens: new TokenRepo(db, { now }),
    operators: new OperatorRepo(db, { now }),
    events: new EventRepo(db, { now, onListenerError: options.onListenerError }),
    audit: new AuditRepo(db, { now }),
    healthSamples: new HealthSampleRepo(db, { now }),
    artifacts: new ArtifactRepo(db),
    runs: new RunRepo(db, { now }),
    operations: new OperationRepo(db, { now }),
    clusterPki: new ClusterPkiRepo(db, { now }),
    clusters: new ClusterLifecycleRepo(db, { now }),
    membership: new MembershipRepo(db, { now }),
    snapshots: new SnapshotRepo(db, { now }),
    close() {
      if (db.open) db.close();
    },
  };
}

/**
 * Builds the snapshot parts for the composition root (controller.ts): the vault under
 * <data dir>/snapshots, the key (lazily, from `--snapshot-key`, default outside the data dir), the
 * optional S3 target, the service, the policy source, the scheduler (a lifecycle Service) and the
 * routes' dependencies.
 */
import { join } from 'node:path';
import type { Logger } from 'pino';
import { BallastError } from '../../../shared/src/errors.js';
import type { Registry } from 'prom-client';
import type { EtcdRoutesDeps } from '../api/routes/etcd.js';
import type { ClusterSpec } from '../cluster/spec.js';
import type { HostDirectory } from '../fleet/directory.js';
import type { Store } from '../store/store.js';
import { autoDefrag } from './etcd-care.js';
import { SnapshotImporter } from './import.js';
import { DEFAULT_SNAPSHOT_KEY_PATH, loadSnapshotKey } from './key-file.js';
import { createSnapshotMetrics } from './metrics.js';
import { policySource } from './policy.js';
import { loadS3Config, S3Target } from './s3-target.js';
import { SnapshotScheduler } from './scheduler.js';
import { SnapshotService } from './service.js';
import { snapshotSource, type SnapshotSource } from './source.js';
import { UploadSlots } from './uploads.js';
import { SnapshotVault } from './vault.js';

/** Options of {@link createSnapshotParts}. */
export interface SnapshotPartsOptions {
  store: Store;
  hosts: Pick<HostDirectory, 'get' | 'session'>;
  specs: { clusters(): string[]; current(cluster: string): ClusterSpec | null };
  registry: Registry;
  log: Logger;
  dataDir: string;
  keyPath?: string;
  s3Path?: string;
  binDirs?: readonly string[];
}

/** What the controller wires in. */
export interface SnapshotParts {
  service: SnapshotService;
  scheduler: SnapshotScheduler;
  routes: EtcdRoutesDeps;
  /** For `cluster recover` (the restore operation). */
  source: SnapshotSource;
  close(): void;
}

/**
 * The key an import opens a bundle with: the key FILE, never generated (a new controller without
 * the kept key would otherwise make a new one, which can open no old bundle), and the same key the
 * vault holds (a file replaced while the controller runs would import bundles its vault then
 * cannot verify: restart the controller after installing the kept key).
 */
export async function importKey(keyPath: string, loaded: () => Promise<Buffer>, log: Logger): Promise<Buffer> {
  const onDisk = await loadSnapshotKey({ path: keyPath, generate: false, log });
  if (!onDisk.equals(await loaded())) {
    throw new BallastError('BALLAST_ERR_SNAPSHOT_KEY', `failed to import: the snapshot key ${keyPath} changed since this controller loaded it; restart the controller so it uses the installed key`);
  }
  return onDisk;
}

/** See the file comment. Reads the S3 file now (a bad one stops the start-up with BALLAST_ERR_CONFIG). */
export async function createSnapshotParts(opts: SnapshotPartsOptions): Promise<SnapshotParts> {
  const log = opts.log.child({ component: 'snapshots' });
  const keyPath = opts.keyPath ?? DEFAULT_SNAPSHOT_KEY_PATH;
  let key: Promise<Buffer> | null = null;
  const loadKey = () => {
    // A failed load is retried on the next use (the operator may fix the file meanwhile).
    key ??= loadSnapshotKey({ path: keyPath, generate: true, log }).catch((err: unknown) => {
      key = null;
      throw err;
    });
    return key;
  };
  const s3 = opts.s3Path === undefined ? null : new S3Target(await loadS3Config(opts.s3Path));
  const vault = new SnapshotVault({
    dir: join(opts.dataDir, 'snapshots'),
    repo: opts.store.snapshots,
    key: loadKey,
    bundleInputs: (cluster) => ({ pki: opts.store.clusterPki.list(cluster), spec: opts.specs.current(cluster) }),
  });
  const uploads = new UploadSlots();
  const metrics = createSnapshotMetrics(opts.registry);
  const policies = policySource(opts.store.snapshots, (c) => opts.specs.current(c));
  const service = new SnapshotService({
    vault,
    repo: opts.store.snapshots,
    uploads,
    hosts: opts.hosts,
    spec: (c) => opts.specs.current(c),
    policy: (c) => policies.policy(c),
    events: opts.store.events,
    metrics,
    s3,
    binDirs: opts.binDirs ?? [],
    log,
  });
  service.loadMetrics(opts.specs.clusters());
  const scheduler = new SnapshotScheduler({
    // Created clusters only: a reset cluster has no etcd left to snapshot.
    clusters: () => opts.specs.clusters().filter((c) => opts.store.clusters.get(c)?.lifecycle === 'created'),
    policy: (c) => policies.policy(c),
    work: { take: (c) => service.take(c, 'schedule'), drill: (c) => service.drill(c), defrag: (c) => autoDefrag({ service, hosts: opts.hosts, metrics, events: opts.store.events }, c) },
    log,
  });
  const importer = new SnapshotImporter({
    vault,
    repo: opts.store.snapshots,
    pki: opts.store.clusterPki,
    transaction: (fn) => opts.store.db.transaction(fn)(),
    key: () => importKey(keyPath, loadKey, log),
    s3,
    events: opts.store.events,
  });
  return {
    service,
    scheduler,
    routes: { service, vault, repo: opts.store.snapshots, uploads, hosts: opts.hosts, policies, onPolicyChanged: () => scheduler.ensureSchedules(), importer },
    source: snapshotSource(vault, (c) => opts.store.snapshots.list(c)),
    close: () => s3?.close(),
  };
}

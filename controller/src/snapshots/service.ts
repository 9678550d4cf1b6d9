/**
 * The snapshot service: takes a cluster's etcd snapshot through a healthy member's agent
 * (`req.etcd snapshot` into an upload slot that seals as it streams), records it, copies it to the S3 target,
 * applies retention in both places, runs restore drills, and reports each in events and metrics.
 * One snapshot, drill or defragmentation at a time per cluster (BALLAST_ERR_SNAPSHOT_BUSY).
 */
import type { Logger } from 'pino';
import { BallastError, messageOf } from '../../../shared/src/errors.js';
import type { EventKind } from '../../../shared/src/events.js';
import type { HostDirectory, HostView } from '../fleet/directory.js';
import type { ClusterSpec } from '../cluster/spec.js';
import type { SnapshotPolicy } from '../cluster/snapshot-spec.js';
import type { DrillRecord, SnapshotRecord, SnapshotRepo } from '../store/snapshots.js';
import { runDrill } from './drill.js';
import type { SnapshotMetrics } from './metrics.js';
import { expiredSnapshots } from './retention.js';
import type { S3Target } from './s3-target.js';
import type { UploadSlots } from './uploads.js';
import type { SnapshotVault } from './vault.js';

/** Default bound on one snapshot's database (etcd's default quota is 2 GiB). */
export const DEFAULT_MAX_SNAPSHOT_BYTES = 8 * 1024 * 1024 * 1024;
const SNAPSHOT_TIMEOUT_MS = 30 * 60_000;

/** Options of {@link SnapshotService}. */
export interface SnapshotServiceOptions {
  vault: SnapshotVault;
  repo: SnapshotRepo;
  uploads: UploadSlots;
  hosts: Pick<HostDirectory, 'get' | 'session'>;
  /** The cluster's current spec (its etcd hosts), or null for an unknown cluster. */
  spec: (cluster: string) => ClusterSpec | null;
  /** The policy in force (ballastctl override, else the spec's, else defaults). */
  policy: (cluster: string) => SnapshotPolicy;
  events: { append(e: { host: string | null; kind: EventKind; message: string; data?: Record<string, unknown> }): unknown };
  metrics: SnapshotMetrics;
  s3: S3Target | null;
  /** Where etcd, etcdutl and kube-apiserver are looked up (`--drill-bin-dir`). */
  binDirs: readonly string[];
  log: Logger;
  maxSnapshotBytes?: number;
  now?: () => number;
}

/** See the file comment. */
export class SnapshotService {
  readonly #o: SnapshotServiceOptions;
  readonly #busy = new Map<string, string>();
  readonly #now: () => number;

  constructor(options: SnapshotServiceOptions) {
    this.#o = options;
    this.#now = options.now ?? Date.now;
  }

  /** The etcd member hosts of `cluster`, in spec order; BALLAST_ERR_NOT_FOUND for an unknown cluster. */
  etcdHosts(cluster: string): string[] {
    const spec = this.#o.spec(cluster);
    if (spec === null) throw new BallastError('BALLAST_ERR_NOT_FOUND', `failed to find cluster ${cluster}: it was never created`);
    return spec.hosts.filter((h) => h.roles.includes('etcd')).map((h) => h.name);
  }

  /** Runs `fn` holding the cluster's maintenance lock. */
  async exclusive<T>(cluster: string, what: string, fn: () => Promise<T>): Promise<T> {
    const holder = this.#busy.get(cluster);
    if (holder !== undefined) throw new BallastError('BALLAST_ERR_SNAPSHOT_BUSY', `failed to ${what} for cluster ${cluster}: ${holder} is in progress`);
    this.#busy.set(cluster, what);
    try {
      return await fn();
    } finally {
      this.#busy.delete(cluster);
    }
  }

  /** Connected etcd hosts that answer `req.etcd`, healthy ones first. */
  candidates(cluster: string): HostView[] {
    const views = this.etcdHosts(cluster)
      .map((name) => this.#o.hosts.get(name))
      .filter((h): h is HostView => h?.connected === true);
    return [...views.filter((h) => h.state === 'healthy'), ...views.filter((h) => h.state !== 'healthy')];
  }

  /** Takes, seals, records and copies one snapshot, then applies retention. */
  async take(cluster: string, trigger: SnapshotRecord['trigger']): Promise<SnapshotRecord> {
    return this.exclusive(cluster, 'take an etcd snapshot', async () => {
      const t0 = performance.now();
      try {
        const record = await this.takeFromSomeMember(cluster, trigger, t0);
        const seconds = record.durationMs / 1000;
        this.#o.metrics.snapshots.inc({ cluster, outcome: 'success' });
        this.#o.metrics.snapshotLastSuccess.set({ cluster }, record.createdAt / 1000);
        this.#o.metrics.snapshotSize.set({ cluster }, record.size);
        this.#o.metrics.snapshotDuration.set({ cluster }, seconds);
        this.#o.events.append({
          host: record.host,
          kind: 'etcd.snapshot',
          message: `etcd snapshot ${record.id} of cluster ${cluster}: ${record.size} bytes, revision ${record.revision}, ${record.totalKeys} keys, ${seconds.toFixed(1)} s`,
          data: { cluster, id: record.id, sha256: record.sha256, trigger },
        });
        const copied = await this.copyOffHost(record);
        await this.applyRetention(cluster);
        return copied;
      } catch (err) {
        this.#o.metrics.snapshots.inc({ cluster, outcome: 'failure' });
        this.#o.events.append({ host: null, kind: 'etcd.snapshot-failed', message: `etcd snapshot of cluster ${cluster} failed: ${messageOf(err)}`, data: { cluster, trigger } });
        throw err;
      }
    });
  }

  private async takeFromSomeMember(cluster: string, trigger: SnapshotRecord['trigger'], t0: number): Promise<SnapshotRecord> {
    const hosts = this.candidates(cluster);
    if (hosts.length === 0) throw new BallastError('BALLAST_ERR_HOST_NOT_CONNECTED', `failed to take an etcd snapshot of cluster ${cluster}: no etcd host (${this.etcdHosts(cluster).join(', ')}) has its agent connected`);
    const failures: string[] = [];
    for (const host of hosts) {
      try {
        return await this.takeFrom(cluster, host, trigger, t0);
      } catch (err) {
        if (err instanceof BallastError && err.code === 'BALLAST_ERR_SNAPSHOT_KEY') throw err;
        failures.push(`${host.name}: ${messageOf(err)}`);
        this.#o.log.warn({ cluster, host: host.name, err: messageOf(err) }, 'etcd snapshot from this member failed; trying the next');
      }
    }
    throw new BallastError('BALLAST_ERR_ETCD_UNAVAILABLE', `failed to take an etcd snapshot of cluster ${cluster}: ${failures.join('; ')}`);
  }

  /**
   * One snapshot from one member, in one pass: the upload slot's sink is the sealer, so the
   * database is hashed, encrypted and written as the agent's PUT arrives, and the bundle (which
   * records the agent's sha256, revision and key count) is appended once the agent has answered.
   * The numbers are the agent's `etcdutl snapshot status` on the member; the controller checks that
   * the bytes that arrived are the bytes the agent hashed, and the restore drill later re-reads the
   * key count from a restored copy, so a re-read here (which needed a plaintext copy and a second
   * pass over the database) is not made.
   */
  private async takeFrom(cluster: string, host: HostView, trigger: SnapshotRecord['trigger'], t0: number): Promise<SnapshotRecord> {
    const session = this.#o.hosts.session(host.id);
    if (session === null) throw new BallastError('BALLAST_ERR_PEER_GONE', 'its agent disconnected');
    const maxBytes = this.#o.maxSnapshotBytes ?? DEFAULT_MAX_SNAPSHOT_BYTES;
    const pending = await this.#o.vault.beginSeal();
    const uploadId = this.#o.uploads.open({ host: host.name, maxBytes, ttlMs: SNAPSHOT_TIMEOUT_MS, sink: { writable: () => pending.sink(), discard: () => pending.abort() } });
    try {
      const res = await session.request((id) => ({ type: 'req.etcd', id, timeoutMs: SNAPSHOT_TIMEOUT_MS, action: 'snapshot', uploadId, maxBytes }));
      const got = this.#o.uploads.received(uploadId);
      if (got === null) throw new BallastError('BALLAST_ERR_PEER_GONE', 'the agent reported a snapshot but uploaded nothing');
      if (got.sha256 !== res.sha256 || got.size !== res.size) {
        throw new BallastError('BALLAST_ERR_CHECKSUM_MISMATCH', `the upload (sha256 ${got.sha256}, ${got.size} bytes) is not what the agent took (${res.sha256}, ${res.size} bytes)`);
      }
      return await pending.commit({
        cluster,
        trigger,
        host: host.name,
        member: res.member,
        sha256: res.sha256,
        size: res.size,
        revision: res.revision,
        totalKeys: res.totalKeys,
        etcdHash: res.hash,
        durationMs: performance.now() - t0,
      });
    } finally {
      this.#o.uploads.close(uploadId);
      await pending.abort();
    }
  }

  /** Copies a snapshot to the S3 target when one is configured; a failure is recorded and logged, the local copy stands. */
  async copyOffHost(record: SnapshotRecord): Promise<SnapshotRecord> {
    const s3 = this.#o.s3;
    if (s3 === null) return record;
    try {
      const key = await s3.put(record, this.#o.vault.pathOf(record));
      this.#o.repo.setS3Copy(record.id, key);
      this.#o.metrics.s3Copies.inc({ cluster: record.cluster, outcome: 'success' });
    } catch (err) {
      this.#o.metrics.s3Copies.inc({ cluster: record.cluster, outcome: 'failure' });
      this.#o.log.error({ id: record.id, err: messageOf(err) }, 'failed to copy the snapshot to the S3 target');
      this.#o.events.append({ host: null, kind: 'etcd.snapshot-failed', message: `copy of etcd snapshot ${record.id} to S3 failed: ${messageOf(err)}`, data: { cluster: record.cluster, id: record.id } });
    }
    return this.#o.vault.get(record.id);
  }

  /** Deletes what the policy no longer keeps, locally and in the bucket; resolves with the deleted ids. */
  async applyRetention(cluster: string): Promise<string[]> {
    const policy = this.#o.policy(cluster);
    const local = this.#o.repo.list(cluster);
    const expired = expiredSnapshots(local.map((r) => ({ id: r.id, createdAt: r.createdAt, bad: r.verifyError !== null })), policy);
    for (const id of expired) await this.delete(id, 'retention');
    if (this.#o.s3 !== null) {
      try {
        // The bucket's times are its LastModified (seconds, upload time): for snapshots the store knows,
        // its own time decides, so both places keep the same ones even when snapshots share a second.
        const known = new Map(local.map((r) => [r.id, r.createdAt]));
        const remote = await this.#o.s3.list(cluster);
        await this.#o.s3.delete(cluster, expiredSnapshots(remote.map((r) => ({ ...r, createdAt: known.get(r.id) ?? r.createdAt, bad: false })), policy));
      } catch (err) {
        this.#o.log.error({ cluster, err: messageOf(err) }, 'failed to apply retention in the S3 target');
      }
    }
    return expired;
  }

  /** Deletes one snapshot (locally; the bucket's copy too when `why` is an operator's delete). */
  async delete(id: string, why: 'operator' | 'retention'): Promise<SnapshotRecord> {
    const record = await this.#o.vault.delete(id);
    if (why === 'operator' && record.s3Key !== null && this.#o.s3 !== null) await this.#o.s3.delete(record.cluster, [record.id]);
    this.#o.events.append({ host: null, kind: 'etcd.snapshot-deleted', message: `etcd snapshot ${id} of cluster ${record.cluster} deleted (${why})`, data: { cluster: record.cluster, id } });
    return record;
  }

  /** Runs a drill on `snapshotId`, or the cluster's newest snapshot not known to be bad. */
  async drill(cluster: string, snapshotId?: string): Promise<DrillRecord> {
    return this.exclusive(cluster, 'run a restore drill', async () => {
      const target = snapshotId ?? this.#o.repo.list(cluster).find((r) => r.verifyError === null)?.id;
      if (target === undefined) throw new BallastError('BALLAST_ERR_NOT_FOUND', `failed to run a restore drill for cluster ${cluster}: it has no usable snapshot (ballastctl etcd snapshot now)`);
      const snap = this.#o.vault.get(target);
      if (snap.cluster !== cluster) throw new BallastError('BALLAST_ERR_VALIDATION', `failed to run a restore drill: snapshot ${target} belongs to cluster ${snap.cluster}`);
      const drill = await runDrill({ vault: this.#o.vault, snapshotId: target, binDirs: this.#o.binDirs, now: this.#now });
      this.#o.repo.insertDrill(drill);
      const seconds = drill.durationMs / 1000;
      this.#o.metrics.drills.inc({ cluster, outcome: drill.outcome });
      this.#o.metrics.drillDuration.set({ cluster }, seconds);
      if (drill.outcome === 'passed') this.#o.metrics.drillLastSuccess.set({ cluster }, (drill.startedAt + drill.durationMs) / 1000);
      this.#o.events.append({
        host: null,
        kind: drill.outcome === 'passed' ? 'etcd.drill' : 'etcd.drill-failed',
        message: `restore drill of etcd snapshot ${target} (cluster ${cluster}) ${drill.outcome} in ${seconds.toFixed(1)} s${drill.error === null ? '' : `: ${drill.error}`}`,
        data: { cluster, id: drill.id, snapshot: target, steps: drill.steps.map((s) => `${s.name}:${s.outcome}`) },
      });
      return drill;
    });
  }

  /** Restores the metrics from the store after a restart (the newest success of each kind). */
  loadMetrics(clusters: readonly string[]): void {
    for (const cluster of clusters) {
      const newest = this.#o.repo.list(cluster)[0];
      if (newest !== undefined) {
        this.#o.metrics.snapshotLastSuccess.set({ cluster }, newest.createdAt / 1000);
        this.#o.metrics.snapshotSize.set({ cluster }, newest.size);
        this.#o.metrics.snapshotDuration.set({ cluster }, newest.durationMs / 1000);
      }
      const passed = this.#o.repo.drills(cluster, 200).find((d) => d.outcome === 'passed');
      if (passed !== undefined) this.#o.metrics.drillLastSuccess.set({ cluster }, (passed.startedAt + passed.durationMs) / 1000);
    }
  }
}

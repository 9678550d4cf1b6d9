/**
 * Snapshot and drill metrics (issue 13), on the controller's registry (metrics.ts). Per cluster;
 * the timestamps are what the alert rules watch (controller/prometheus/ballast-rules.yaml).
 */
import { Counter, Gauge, type Registry } from 'prom-client';

/** See the file comment. */
export interface SnapshotMetrics {
  snapshotLastSuccess: Gauge<'cluster'>;
  snapshotSize: Gauge<'cluster'>;
  snapshotDuration: Gauge<'cluster'>;
  snapshots: Counter<'cluster' | 'outcome'>;
  drillLastSuccess: Gauge<'cluster'>;
  drillDuration: Gauge<'cluster'>;
  drills: Counter<'cluster' | 'outcome'>;
  s3Copies: Counter<'cluster' | 'outcome'>;
  /** Automatic defragmentation runs: outcome `defragmented`, `not-needed` or `failed`. */
  autoDefrags: Counter<'cluster' | 'outcome'>;
  /** Bytes the newest defragmentation that did something gave back, summed over its members. */
  defragReclaimed: Gauge<'cluster'>;
}

/** Registers the metrics on `registry` (once per registry). */
export function createSnapshotMetrics(registry: Registry): SnapshotMetrics {
  const registers = [registry];
  const cluster = ['cluster'] as const;
  const outcome = ['cluster', 'outcome'] as const;
  return {
    snapshotLastSuccess: new Gauge({
      name: 'ballast_etcd_snapshot_last_success_timestamp_seconds',
      help: 'When the newest successful etcd snapshot of the cluster was taken (Unix seconds)',
      labelNames: cluster,
      registers,
    }),
    snapshotSize: new Gauge({ name: 'ballast_etcd_snapshot_size_bytes', help: 'Size of the newest etcd snapshot database', labelNames: cluster, registers }),
    snapshotDuration: new Gauge({
      name: 'ballast_etcd_snapshot_duration_seconds',
      help: 'How long the newest etcd snapshot took, from request to sealed and recorded',
      labelNames: cluster,
      registers,
    }),
    snapshots: new Counter({ name: 'ballast_etcd_snapshots_total', help: 'etcd snapshots attempted, by outcome', labelNames: outcome, registers }),
    drillLastSuccess: new Gauge({
      name: 'ballast_etcd_restore_drill_last_success_timestamp_seconds',
      help: 'When the newest passed restore drill of the cluster ended (Unix seconds)',
      labelNames: cluster,
      registers,
    }),
    drillDuration: new Gauge({ name: 'ballast_etcd_restore_drill_duration_seconds', help: 'How long the newest restore drill took', labelNames: cluster, registers }),
    drills: new Counter({ name: 'ballast_etcd_restore_drills_total', help: 'Restore drills run, by outcome', labelNames: outcome, registers }),
    s3Copies: new Counter({ name: 'ballast_etcd_snapshot_s3_copies_total', help: 'Copies of snapshots to the S3 target, by outcome', labelNames: outcome, registers }),
    autoDefrags: new Counter({
      name: 'ballast_etcd_auto_defrags_total',
      help: 'Automatic etcd defragmentation runs, by outcome (defragmented, not-needed, failed)',
      labelNames: outcome,
      registers,
    }),
    defragReclaimed: new Gauge({
      name: 'ballast_etcd_defrag_reclaimed_bytes',
      help: 'Database bytes the newest automatic defragmentation gave back, over all members',
      labelNames: cluster,
      registers,
    }),
  };
}

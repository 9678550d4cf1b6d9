/**
 * The HTTP API of etcd snapshots, drills and etcd care (issue 13), shared by the controller's
 * routes (controller/src/api/routes/etcd.ts) and ballastctl (ballastctl/src/commands/etcd.ts).
 * Viewers read; operators take, verify, delete, drill and defragment (audited).
 */
import { type Static, Type } from '@sinclair/typebox';
import { EtcdMemberStatusSchema } from './protocol/etcd.js';

const ClusterName = Type.String({ pattern: '^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$' });
export const SnapshotIdSchema = Type.String({ pattern: '^[0-9TZ]{16}-[0-9a-f]{6}$' });
const Nullable = <T extends ReturnType<typeof Type.String> | ReturnType<typeof Type.Number>>(t: T) => Type.Union([t, Type.Null()]);

/** One snapshot as the API shows it (no key material; the bundle stays sealed). */
export const SnapshotInfoSchema = Type.Object({
  id: Type.String(),
  cluster: Type.String(),
  createdAt: Type.String({ description: 'ISO 8601' }),
  trigger: Type.Union([Type.Literal('manual'), Type.Literal('schedule')]),
  host: Type.String(),
  member: Type.String(),
  sha256: Type.String(),
  size: Type.Integer(),
  revision: Type.String(),
  totalKeys: Type.Integer(),
  etcdHash: Type.String(),
  durationMs: Type.Integer(),
  encrypted: Type.Boolean(),
  sealedSha256: Type.String(),
  sealedSize: Type.Integer(),
  s3Key: Nullable(Type.String()),
  verifiedAt: Nullable(Type.String()),
  /** Set when the last verification failed: such a snapshot is never offered for restore. */
  verifyError: Nullable(Type.String()),
});
export type SnapshotInfo = Static<typeof SnapshotInfoSchema>;

export const SnapshotListSchema = Type.Object({ items: Type.Array(SnapshotInfoSchema) });
export const SnapshotQuerySchema = Type.Object({ cluster: Type.Optional(ClusterName) }, { additionalProperties: false });
export const SnapshotNowRequestSchema = Type.Object({ cluster: ClusterName }, { additionalProperties: false });
export const SnapshotParamsSchema = Type.Object({ id: SnapshotIdSchema });

export const DrillStepSchema = Type.Object({
  name: Type.String(),
  outcome: Type.Union([Type.Literal('passed'), Type.Literal('failed'), Type.Literal('skipped')]),
  detail: Type.String(),
  durationMs: Type.Number(),
});
export const DrillInfoSchema = Type.Object({
  id: Type.String(),
  cluster: Type.String(),
  snapshotId: Type.String(),
  startedAt: Type.String(),
  durationMs: Type.Integer(),
  outcome: Type.Union([Type.Literal('passed'), Type.Literal('failed')]),
  steps: Type.Array(DrillStepSchema),
  error: Nullable(Type.String()),
});
export type DrillInfo = Static<typeof DrillInfoSchema>;
export const DrillRequestSchema = Type.Object({ cluster: ClusterName, snapshot: Type.Optional(SnapshotIdSchema) }, { additionalProperties: false });
export const DrillListSchema = Type.Object({ items: Type.Array(DrillInfoSchema) });
export const ClusterQuerySchema = Type.Object({ cluster: ClusterName }, { additionalProperties: false });

/** One member in `etcd status`: its own report, or why it could not be asked. */
export const MemberStatusEntrySchema = Type.Object({
  host: Type.String(),
  status: Type.Union([EtcdMemberStatusSchema, Type.Null()]),
  error: Nullable(Type.String()),
});
export const EtcdStatusSchema = Type.Object({
  cluster: Type.String(),
  /** The leader's member name as the members report it; null when none answered or they disagree. */
  leader: Nullable(Type.String()),
  members: Type.Array(MemberStatusEntrySchema),
});
export type EtcdClusterStatus = Static<typeof EtcdStatusSchema>;

export const DefragRequestSchema = Type.Object({ cluster: ClusterName, all: Type.Optional(Type.Boolean()), host: Type.Optional(Type.String({ maxLength: 63 })) }, { additionalProperties: false });
export const DefragResultSchema = Type.Object({
  cluster: Type.String(),
  members: Type.Array(Type.Object({ host: Type.String(), before: Type.Integer(), after: Type.Integer(), durationMs: Type.Integer() })),
});
export type DefragResult = Static<typeof DefragResultSchema>;

/** The snapshot policy in force and where it comes from. */
export const SnapshotPolicyInfoSchema = Type.Object({
  cluster: Type.String(),
  source: Type.Union([Type.Literal('ballastctl'), Type.Literal('cluster.yaml'), Type.Literal('default')]),
  policy: Type.Object({
    enabled: Type.Boolean(),
    schedule: Type.String(),
    keepHourly: Type.Integer(),
    keepDaily: Type.Integer(),
    drillSchedule: Type.String(),
    autoDefrag: Type.Boolean(),
    defragSchedule: Type.String(),
  }),
});
export type SnapshotPolicyInfo = Static<typeof SnapshotPolicyInfoSchema>;
export const SnapshotPolicyUpdateSchema = Type.Object(
  {
    cluster: ClusterName,
    enabled: Type.Optional(Type.Boolean()),
    schedule: Type.Optional(Type.String({ maxLength: 128 })),
    keepHourly: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })),
    keepDaily: Type.Optional(Type.Integer({ minimum: 0, maximum: 1000 })),
    drillSchedule: Type.Optional(Type.String({ maxLength: 128 })),
    autoDefrag: Type.Optional(Type.Boolean()),
    defragSchedule: Type.Optional(Type.String({ maxLength: 128 })),
  },
  { additionalProperties: false },
);

/**
 * `etcd snapshot import` (POST /v1/etcd/snapshots/import with the sealed file as the body, or
 * /v1/etcd/snapshots/import-s3 naming an object of the S3 target): admin only, because a bundle
 * carries the cluster's CA keys and the import puts them into the controller's store.
 */
export const SnapshotImportQuerySchema = Type.Object({ cluster: Type.Optional(ClusterName) }, { additionalProperties: false });
export const SnapshotImportS3RequestSchema = Type.Object(
  {
    /** The cluster whose folder in the bucket holds the snapshot. */
    cluster: ClusterName,
    id: SnapshotIdSchema,
    /** Record the snapshot (and its PKI) under this cluster name instead. */
    as: Type.Optional(ClusterName),
  },
  { additionalProperties: false },
);
export const SnapshotImportResultSchema = Type.Object({
  /** `unchanged`: the same sealed file was already recorded; nothing was written. */
  status: Type.Union([Type.Literal('imported'), Type.Literal('unchanged')]),
  snapshot: SnapshotInfoSchema,
  /** The bundle's PKI items: written, already stored identically, leaves kept as stored. */
  pki: Type.Object({ imported: Type.Array(Type.String()), same: Type.Array(Type.String()), kept: Type.Array(Type.String()) }),
});
export type SnapshotImportResult = Static<typeof SnapshotImportResultSchema>;
export const RemoteSnapshotListSchema = Type.Object({
  bucket: Type.String(),
  items: Type.Array(
    Type.Object({
      id: Type.String(),
      cluster: Type.String(),
      key: Type.String(),
      /** The object's upload time (ISO 8601). */
      createdAt: Type.String(),
      size: Type.Integer(),
      /** Whether this controller records the snapshot already. */
      imported: Type.Boolean(),
    }),
  ),
});
export type RemoteSnapshotList = Static<typeof RemoteSnapshotListSchema>;

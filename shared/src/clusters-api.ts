/**
 * The clusters API: starting `cluster create` (the rolling HA bootstrap, an operation) and reading
 * a cluster's live status. `ballastctl cluster status -o json` prints exactly {@link ClusterStatus}.
 *
 * Routes (operator token in `Authorization: Bearer`):
 *   POST /v1/clusters                 ClusterCreateRequest → OperationDocument — operator, audited
 *        (`cluster.create`). The spec is checked against its schema and against the live fleet
 *        and mirror first: every problem is listed at once (400 BALLAST_ERR_VALIDATION) and nothing
 *        starts. The CNI manifest must be inline (ballastctl reads the file).
 *   POST /v1/clusters/:name/reset     ClusterResetRequest → OperationDocument — operator, audited
 *        (`cluster.reset`): removes what Ballast installed from the hosts (all by default); etcd
 *        members that others outlive are removed from etcd first, quorum-guarded.
 *   GET  /v1/clusters                                      → ClusterList    — viewer
 *   GET  /v1/clusters/:name/status                         → ClusterStatus  — viewer; asks etcd
 *        and the Kubernetes API with short deadlines; what does not answer is reported, not fatal.
 *   POST /v1/clusters/:name/kubeconfig — admin; see kubeconfig-api.ts.
 */
import { type Static, Type } from '@sinclair/typebox';

/** Largest create request: the cluster document (1 MiB) plus an inline CNI manifest (2 MiB). */
export const MAX_CLUSTER_REQUEST_BYTES = 4 * 1024 * 1024;

export const ClusterNameParamsSchema = Type.Object({ name: Type.String({ pattern: '^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$' }) });

export const ClusterCreateRequestSchema = Type.Object(
  {
    /** The Cluster document (apiVersion ballast.dev/v1alpha1); validated by the controller with every problem listed. */
    spec: Type.Unknown(),
    /** Check mode: the full per-host plan, nothing changed. */
    check: Type.Boolean({ default: false }),
    /** Record file diffs in every run (`ballastctl run ID` shows them); check mode always does. */
    diff: Type.Boolean({ default: false }),
  },
  { additionalProperties: false },
);
export type ClusterCreateRequest = Static<typeof ClusterCreateRequestSchema>;

const Iso = Type.String({ maxLength: 40 });

/** `POST /v1/clusters/:name/reset`: all hosts of the cluster when `hosts` is absent. */
export const ClusterResetRequestSchema = Type.Object(
  {
    hosts: Type.Optional(Type.Array(Type.String({ maxLength: 63 }), { minItems: 1, maxItems: 5000, uniqueItems: true })),
    check: Type.Boolean({ default: false }),
    diff: Type.Boolean({ default: false }),
  },
  { additionalProperties: false },
);
export type ClusterResetRequest = Static<typeof ClusterResetRequestSchema>;

/**
 * Where a cluster stands, apart from how its last operation went: `creating`, `created` (create
 * succeeded), `create-failed` (the create failed or was aborted: resume or reset it), `resetting`,
 * `reset` (every host reset), `partly-reset` (some hosts reset, the rest still run), `reset-failed`.
 */
export const ClusterLifecycleSchema = Type.Union([
  Type.Literal('creating'),
  Type.Literal('created'),
  Type.Literal('create-failed'),
  Type.Literal('resetting'),
  Type.Literal('reset'),
  Type.Literal('partly-reset'),
  Type.Literal('reset-failed'),
]);
export type ClusterLifecycle = Static<typeof ClusterLifecycleSchema>;

/** The newest real (non-check) `cluster.create` or `cluster.reset` of a cluster. */
export const LastOperationSchema = Type.Object({ id: Type.String(), kind: Type.String(), state: Type.String() });

export const ClusterListItemSchema = Type.Object({
  name: Type.String(),
  /** The newest `cluster.create` operation of this cluster (its spec is the cluster's). */
  operation: Type.String(),
  /** That create operation's state: how it went, not where the cluster stands (see `lifecycle`). */
  state: Type.String(),
  lifecycle: ClusterLifecycleSchema,
  lastOperation: LastOperationSchema,
  hosts: Type.Integer({ minimum: 0 }),
  vip: Type.String(),
  updatedAt: Iso,
});
export const ClusterListSchema = Type.Object({ items: Type.Array(ClusterListItemSchema) });
export type ClusterList = Static<typeof ClusterListSchema>;

export const EtcdMemberStatusSchema = Type.Object({
  id: Type.String(),
  name: Type.String(),
  peerUrls: Type.Array(Type.String()),
  learner: Type.Boolean(),
  leader: Type.Boolean(),
  healthy: Type.Boolean(),
  /** Why it is not healthy. */
  problem: Type.Union([Type.String(), Type.Null()]),
});

export const ClusterStatusSchema = Type.Object({
  name: Type.String(),
  vipAddress: Type.String(),
  lifecycle: ClusterLifecycleSchema,
  lastOperation: LastOperationSchema,
  /** The newest create operation, and whether one is in progress. */
  operation: Type.Object({ id: Type.String(), state: Type.String(), done: Type.Integer(), total: Type.Integer(), current: Type.Union([Type.String(), Type.Null()]) }),
  etcd: Type.Object({ members: Type.Array(EtcdMemberStatusSchema), error: Type.Union([Type.String(), Type.Null()]) }),
  vip: Type.Object({
    holder: Type.Union([Type.String(), Type.Null()]),
    /** The holder key's create revision: the fencing token. */
    term: Type.Union([Type.String(), Type.Null()]),
    error: Type.Union([Type.String(), Type.Null()]),
  }),
  nodes: Type.Object({
    items: Type.Array(Type.Object({ name: Type.String(), ready: Type.Boolean(), roles: Type.Array(Type.String()) })),
    error: Type.Union([Type.String(), Type.Null()]),
  }),
});
export type ClusterStatus = Static<typeof ClusterStatusSchema>;

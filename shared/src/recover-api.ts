/** `POST /v1/clusters/:name/recover` (`ballastctl cluster recover`): the request body. */
import { type Static, Type } from '@sinclair/typebox';

export const ClusterRecoverRequestSchema = Type.Object(
  {
    /** Restore every member from this snapshot (`ballastctl etcd snapshot list`). */
    fromSnapshot: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$' })),
    /** Keep this member's data: force-new-cluster on it, the others rejoin as learners. */
    fromMember: Type.Optional(Type.String({ pattern: '^[a-z0-9]([a-z0-9.-]{0,61}[a-z0-9])?$' })),
    /** With fromMember: the operator read etcd's warning (writes only the other members had are lost). */
    confirmForceNewCluster: Type.Boolean({ default: false }),
    /** Added to the snapshot's revision (default 1,000,000,000). */
    bumpRevision: Type.Optional(Type.Integer({ minimum: 1, maximum: 1e15 })),
    /**
     * With fromSnapshot: proceed although the cluster's etcd still serves with quorum, discarding
     * its data (new hosts after `etcd snapshot import` + `cluster create`, or a rollback).
     */
    replaceCurrentData: Type.Boolean({ default: false }),
    check: Type.Boolean({ default: false }),
    diff: Type.Boolean({ default: false }),
  },
  { additionalProperties: false },
);
export type ClusterRecoverRequest = Static<typeof ClusterRecoverRequestSchema>;

/** etcd's warning about --force-new-cluster, as ballastctl and the API repeat it. */
export const FORCE_NEW_CLUSTER_WARNING =
  "etcd's documentation: --force-new-cluster discards the membership and makes a one-member cluster of this member's data. Writes that this member had not yet applied and persisted (the other members may have had them) are lost, and it must never be used while other members still run. Use it only when quorum is lost for good.";

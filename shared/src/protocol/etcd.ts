/**
 * `req.etcd`: the controller asks the agent of an etcd member for one of three narrow, typed
 * maintenance acts on its own local member (issue 13). Not a command runner: the agent builds every
 * argv and every URL itself from its own etcd configuration (/etc/etcd/etcd.env and the member's
 * certificates, written by the etcd role); the controller chooses only the action and, for a
 * snapshot, the upload slot the file goes to.
 *
 * - `snapshot`: `etcdctl snapshot save` with the member's client certificate into a private (0600)
 *   temporary file, `etcdctl snapshot status` for its revision, key count and hash, sha256 while
 *   uploading it (PUT /v1/agent/etcd-snapshots/:uploadId over the agent's mTLS identity, bounded by
 *   `maxBytes`), then the file is deleted. The result says what was uploaded; the controller
 *   checks its own sha256 of what arrived against it.
 * - `status`: the member's /v3/maintenance/status (DB size, in use, leader, alarms, revision).
 * - `defrag`: /v3/maintenance/defragment of this member only (the controller orders members).
 *
 * Negotiated as the hello feature `etcd` (see vip.ts on why additive requests do not bump the
 * protocol version).
 */
import { type Static, Type } from '@sinclair/typebox';

/** The hello feature an agent advertises when it answers `req.etcd`. */
export const ETCD_FEATURE = 'etcd';

const Id = Type.String({ minLength: 1, maxLength: 64 });
const U64 = Type.String({ pattern: '^[0-9]{1,20}$' });
/** Snapshots can be long: a 1 GB database over a slow disk. */
const RequestBase = { type: Type.Literal('req.etcd'), id: Id, timeoutMs: Type.Integer({ minimum: 1, maximum: 3_600_000 }) };

/** Largest snapshot an agent may be asked to upload (etcd's own default quota is 2 GiB, max 8 GiB). */
export const MAX_SNAPSHOT_BYTES = 8 * 1024 * 1024 * 1024;

export const EtcdRequestSchema = Type.Union([
  Type.Object({
    ...RequestBase,
    action: Type.Literal('snapshot'),
    /** The upload slot (random, single use, bound to this host, expires with the request). */
    uploadId: Type.String({ pattern: '^[A-Za-z0-9_-]{16,64}$' }),
    maxBytes: Type.Integer({ minimum: 1, maximum: MAX_SNAPSHOT_BYTES }),
  }),
  Type.Object({ ...RequestBase, action: Type.Literal('status') }),
  Type.Object({ ...RequestBase, action: Type.Literal('defrag') }),
]);
export type EtcdRequest = Static<typeof EtcdRequestSchema>;
export type EtcdAction = EtcdRequest['action'];

/** The `result` of `req.etcd snapshot`. */
export const EtcdSnapshotResultSchema = Type.Object({
  /** The member's name (ETCD_NAME). */
  member: Type.String({ maxLength: 253 }),
  sha256: Type.String({ pattern: '^[0-9a-f]{64}$' }),
  size: Type.Integer({ minimum: 0 }),
  revision: U64,
  totalKeys: Type.Integer({ minimum: 0 }),
  /** etcd's hash of the database (`snapshot status`), decimal. */
  hash: U64,
  /** Time etcdctl took to save the snapshot, ms (the upload is not counted). */
  saveMs: Type.Number({ minimum: 0 }),
});
export type EtcdSnapshotResult = Static<typeof EtcdSnapshotResultSchema>;

/** The `result` of `req.etcd status` (and of `defrag`: the status after it). */
export const EtcdMemberStatusSchema = Type.Object({
  member: Type.String({ maxLength: 253 }),
  memberId: U64,
  leader: U64,
  version: Type.String({ maxLength: 64 }),
  dbSize: Type.Integer({ minimum: 0 }),
  dbSizeInUse: Type.Integer({ minimum: 0 }),
  revision: U64,
  raftTerm: U64,
  isLearner: Type.Boolean(),
  /** Alarms and errors the member reports (e.g. `NOSPACE`). */
  alarms: Type.Array(Type.String({ maxLength: 512 }), { maxItems: 32 }),
});
export type EtcdMemberStatus = Static<typeof EtcdMemberStatusSchema>;

export const EtcdResultSchemas = {
  snapshot: EtcdSnapshotResultSchema,
  status: EtcdMemberStatusSchema,
  defrag: EtcdMemberStatusSchema,
} as const;

/** Where an agent's snapshot upload goes (host auth; see the snapshot service). */
export function snapshotUploadPath(uploadId: string): string {
  return `/v1/agent/etcd-snapshots/${uploadId}`;
}

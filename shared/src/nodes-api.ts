/**
 * The node membership API: replace, add and remove a cluster host, each an operation
 * (`ballastctl op …`), and the membership lock.
 *
 * Routes (operator token; every one audited):
 *   POST   /v1/nodes/replace                 NodeReplaceRequest → OperationDocument (`node.replace`)
 *   POST   /v1/nodes/add                     NodeAddRequest     → OperationDocument (`node.add`)
 *   POST   /v1/nodes/remove                  NodeRemoveRequest  → OperationDocument (`node.remove`)
 *   GET    /v1/clusters/:name/membership-lock                    → MembershipLockResponse (viewer)
 *   DELETE /v1/clusters/:name/membership-lock                    → MembershipLockResponse (`node.unlock`):
 *          frees the lock an aborted or failed change kept; refused while its operation is unfinished.
 * Refusals before anything starts: 400 VALIDATION, 404 NOT_FOUND, 409 MEMBERSHIP_LOCKED,
 * QUORUM_GUARD (with the numbers), HOST_UNREACHABLE, HOST_NOT_CONNECTED; 503 ETCD_UNAVAILABLE.
 */
import { type Static, Type } from '@sinclair/typebox';
import { HOST_NAME_PATTERN } from './api.js';

const Host = Type.String({ pattern: HOST_NAME_PATTERN.source, maxLength: 63 });
const Address = Type.String({ pattern: '^[0-9A-Fa-f.:]{2,45}$', maxLength: 45 });
const Flags = {
  /** Check mode: the full per-host plan, nothing changed. */
  check: Type.Boolean({ default: false }),
  diff: Type.Boolean({ default: false }),
};

export const NodeReplaceRequestSchema = Type.Object(
  {
    old: Host,
    /** An enrolled, connected host outside the cluster; it takes OLD's roles. */
    new: Host,
    /** NEW's cluster address; default: the address its agent connects from. */
    address: Type.Optional(Address),
    /** No fence agent for an unreachable OLD: the operator confirms it is powered off. */
    confirmPoweredOff: Type.Boolean({ default: false }),
    ...Flags,
  },
  { additionalProperties: false },
);
export type NodeReplaceRequest = Static<typeof NodeReplaceRequestSchema>;

export const NodeRolesSchema = Type.Union([
  Type.Tuple([Type.Literal('control-plane'), Type.Literal('etcd')]),
  Type.Tuple([Type.Literal('worker')]),
  Type.Tuple([Type.Literal('etcd')]),
  Type.Tuple([Type.Literal('control-plane')]),
]);

export const NodeAddRequestSchema = Type.Object(
  {
    host: Host,
    cluster: Type.String({ pattern: '^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$' }),
    /** Sorted: `["control-plane","etcd"]`, `["worker"]`, `["etcd"]` or `["control-plane"]`. */
    roles: NodeRolesSchema,
    address: Type.Optional(Address),
    ...Flags,
  },
  { additionalProperties: false },
);
export type NodeAddRequest = Static<typeof NodeAddRequestSchema>;

export const NodeRemoveRequestSchema = Type.Object(
  {
    host: Host,
    /** The host is unreachable: fence it, taint it out-of-service and remove it. */
    forceOffline: Type.Boolean({ default: false }),
    confirmPoweredOff: Type.Boolean({ default: false }),
    ...Flags,
  },
  { additionalProperties: false },
);
export type NodeRemoveRequest = Static<typeof NodeRemoveRequestSchema>;

export const MembershipLockResponseSchema = Type.Object({
  cluster: Type.String(),
  /** Null when free. */
  lock: Type.Union([
    Type.Object({ operationId: Type.String(), kind: Type.String(), detail: Type.String(), acquiredAt: Type.String() }),
    Type.Null(),
  ]),
  /** DELETE: whether a lock was released. */
  released: Type.Optional(Type.Boolean()),
});
export type MembershipLockResponse = Static<typeof MembershipLockResponseSchema>;

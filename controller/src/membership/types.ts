/**
 * What node replace, add and remove share: the stored input of their operations and the ports
 * their executors need. The input carries both specs — `before` (the cluster now) and `spec`
 * (after the change) — so the bootstrap's executors, which read `spec`, install and join the new
 * host exactly as `cluster create` would, and nothing about a host is looked up twice.
 */
import { type Static, Type } from '@sinclair/typebox';
import type { ClusterSpec } from '../cluster/spec.js';
import { ClusterHostSchema, ClusterSpecSchema } from '../cluster/spec.js';
import type { BootstrapDeps } from '../bootstrap/deps.js';
import type { KubeApiOptions } from '../kube/client.js';
import type { KubeNodeOps } from '../kube/node-ops.js';
import type { MembershipRepo } from '../store/membership.js';
import type { FencePort } from './fence.js';
import type { Facts } from '../../../shared/src/protocol/facts.js';

export const NODE_REPLACE = 'node.replace';
export const NODE_ADD = 'node.add';
export const NODE_REMOVE = 'node.remove';
export type MembershipKind = typeof NODE_REPLACE | typeof NODE_ADD | typeof NODE_REMOVE;

/** The host taken out, as the cluster knew it, and whether its agent was connected when planned. */
export const OldHostSchema = Type.Object({ ...ClusterHostSchema.properties, online: Type.Boolean() }, { additionalProperties: false });

/** The input every membership operation stores (no secrets: specs and names). */
export const MembershipInputSchema = Type.Object(
  {
    /** The cluster's spec before the change. */
    before: ClusterSpecSchema,
    /** The cluster's spec after it: what every reused bootstrap executor reads. */
    spec: ClusterSpecSchema,
    old: Type.Optional(OldHostSchema),
    add: Type.Optional(ClusterHostSchema),
    /** etcd members to change membership through, healthy ones first (from the plan-time probe). */
    through: Type.Array(Type.String({ maxLength: 63 }), { maxItems: 9 }),
    /** The operator confirmed the unreachable OLD is powered off (no fence agent). */
    confirmPoweredOff: Type.Optional(Type.Boolean()),
    diff: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
);
export interface MembershipInput extends Static<typeof MembershipInputSchema> {
  before: ClusterSpec;
  spec: ClusterSpec;
}

/** A host as the membership operations need to see it in the fleet. */
export interface FleetHostView {
  /** Reachable: an agent session is open *and* its heartbeats are fresh (not `unreachable`). */
  connected: boolean;
  /** The address of the agent's connection (the default cluster address of a new host). */
  address: string | null;
  /** Controller clock ms of its last heartbeat (null: never); for the self-fence wait. */
  lastHeartbeatAt?: number | null;
  /** What its agent advertised about self-fencing (facts); null/absent: it does not fence itself. */
  selfFence?: SelfFenceFacts | null;
}

/** The agent's self-fence parameters, from its facts (shared/src/protocol/facts.ts). */
export type SelfFenceFacts = NonNullable<Facts['selfFence']>;

/** The ports of the membership executors (production: wiring in controller.ts; tests: fakes). */
export interface MembershipDeps {
  bootstrap: BootstrapDeps;
  repo: Pick<MembershipRepo, 'acquire' | 'release' | 'finish' | 'lock'>;
  hosts: {
    find(name: string): FleetHostView | null;
    /** Removes the host from the fleet and revokes its certificate: a replaced host that comes back cannot reconnect. */
    revoke(name: string, reason: string): boolean;
    /** Why the host's (latest) certificate was revoked, or null (the self-fence path's re-run). */
    revokedReason?(name: string): string | null;
  };
  kubeNodes(opts: KubeApiOptions): KubeNodeOps;
  fence: FencePort;
  /**
   * The self-fence wait (self-fence-wait.ts): the controller's heartbeat interval, how often OLD's
   * etcd member is probed (default 5 s), and the clock and sleep (tests inject them).
   */
  selfFenceWait?: { heartbeatIntervalMs: number; probeIntervalMs?: number; now?: () => number; sleep?: (ms: number, signal: AbortSignal) => Promise<void> };
  /** Drain deadline (default 10 min) and the pause between eviction rounds (default 5 s). */
  drainTimeoutMs?: number;
  drainIntervalMs?: number;
}

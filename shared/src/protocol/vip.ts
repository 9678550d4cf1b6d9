/**
 * `req.vip`: the controller asks one agent's VIP manager (agent/src/vip/manager.ts) for its status,
 * to hand the VIP over, or to leave / rejoin the election (maintenance). The controller is never in
 * the failover path: the election runs between the agents and etcd, and these requests only
 * observe it or ask a holder to step aside on purpose.
 *
 * Compatibility (decided here, see also PROTOCOL_VERSION in limits.ts): adding a request type is
 * NOT an incompatible change, so PROTOCOL_VERSION stays 1. Bumping it would make a new controller
 * refuse every older agent at hello (close 4002), taking the whole fleet offline for one additive
 * message. Instead an agent that can answer `req.vip` says so in its hello (`features: ['vip']`,
 * an optional field older controllers ignore) and the controller refuses to send `req.vip` to an
 * agent that did not, with BALLAST_ERR_UNSUPPORTED ("upgrade the agent"). Should one reach an old
 * agent anyway, its decoder answers with a coded BALLAST_ERR_FRAME_UNKNOWN_TYPE error frame and
 * carries on; the controller's request then ends at its (short) deadline. Nobody crashes.
 */
import { type Static, Type } from '@sinclair/typebox';

/** Host names as enrolment accepts them (shared/src/api.ts HOST_NAME_PATTERN). */
const HostName = Type.String({ pattern: '^[a-z0-9]([a-z0-9.-]{0,61}[a-z0-9])?$', maxLength: 63 });
const Id = Type.String({ minLength: 1, maxLength: 64 });
/** Every request carries an id and a relative deadline (as in messages.ts). */
const RequestBase = { type: Type.Literal('req.vip'), id: Id, timeoutMs: Type.Integer({ minimum: 1, maximum: 60_000 }) };

/** The hello feature an agent advertises when it answers `req.vip`. */
export const VIP_FEATURE = 'vip';

/**
 * One request, discriminated on `action`:
 * - `status`: the manager's view (never blocks on etcd: it reports what the elector last saw);
 * - `move`: the holder hands over to `to` (BALLAST_ERR_VIP_NOT_HOLDER when it does not hold);
 * - `exclude`: writes the persistent exclusion marker; a holder first hands over to `to` when
 *   given (the controller picks the best candidate), else resigns; then it stops campaigning;
 * - `include`: removes the marker; the host campaigns again if its config makes it a candidate.
 */
export const VipRequestSchema = Type.Union([
  Type.Object({ ...RequestBase, action: Type.Literal('status') }),
  Type.Object({ ...RequestBase, action: Type.Literal('move'), to: HostName }),
  Type.Object({ ...RequestBase, action: Type.Literal('exclude'), to: Type.Optional(HostName) }),
  Type.Object({ ...RequestBase, action: Type.Literal('include') }),
]);
export type VipRequest = Static<typeof VipRequestSchema>;
export type VipAction = VipRequest['action'];

/** The elector's state; `idle` when no VIP is configured or the election has not started. */
export const VipStateSchema = Type.Union([
  Type.Literal('idle'),
  Type.Literal('candidate'),
  Type.Literal('holder'),
  Type.Literal('excluded'),
  Type.Literal('unhealthy'),
]);
export type VipState = Static<typeof VipStateSchema>;

const Ms = Type.Union([Type.Number({ minimum: 0, maximum: 3_600_000 }), Type.Null()]);

/** The `result` of `req.vip` status, include and exclude: one host's view of its election. */
export const VipAgentStatusSchema = Type.Object({
  host: HostName,
  /** False when /etc/ballast/vip.yaml is absent (or never loaded): the fields below are then empty. */
  configured: Type.Boolean(),
  name: Type.Union([Type.String({ maxLength: 63 }), Type.Null()]),
  /** The VIP without prefix, e.g. 198.18.0.250. */
  address: Type.Union([Type.String({ maxLength: 15 }), Type.Null()]),
  prefixLength: Type.Union([Type.Integer({ minimum: 1, maximum: 32 }), Type.Null()]),
  interface: Type.Union([Type.String({ maxLength: 15 }), Type.Null()]),
  state: VipStateSchema,
  /** The holder as this host last read it from etcd (itself while it holds). */
  holder: Type.Union([HostName, Type.Null()]),
  /** The holder's term (fencing token: the holder key's etcd create_revision), decimal. */
  term: Type.Union([Type.String({ pattern: '^[0-9]{1,20}$' }), Type.Null()]),
  /**
   * Holder only: how long no other host can take the VIP over, at least, counted from the send of
   * the last successful heartbeat (the name is from the lease-based first design; kept for the wire).
   */
  leaseLeftMs: Ms,
  lastRenewRttMs: Ms,
  /** Over the last renewals this agent made (a bounded ring, see agent/src/vip/rtt.ts); null when none. */
  renewRttP50Ms: Ms,
  renewRttP99Ms: Ms,
  renewSamples: Type.Integer({ minimum: 0, maximum: 100_000 }),
  /** The local health verdict (after rise/fall) and the last probe's message. */
  healthy: Type.Boolean(),
  healthMessage: Type.String({ maxLength: 1024 }),
  /** `candidate` as vip.yaml says (the VIP role's policy). */
  candidate: Type.Boolean(),
  /** The host's exclusion marker (/var/lib/ballast/vip-excluded) exists: it does not campaign. */
  excluded: Type.Boolean(),
});
export type VipAgentStatus = Static<typeof VipAgentStatusSchema>;

/** The `result` of `req.vip` move: the holder released the VIP with a handover record for `to`. */
export const VipHandoverResultSchema = Type.Object({
  from: HostName,
  to: HostName,
  /** The term the holder gave up. */
  term: Type.Union([Type.String({ pattern: '^[0-9]{1,20}$' }), Type.Null()]),
});
export type VipHandoverResult = Static<typeof VipHandoverResultSchema>;

/** The `result` of `req.vip` exclude: the status after, and whom a holder handed over to. */
export const VipExcludeResultSchema = Type.Object({
  status: VipAgentStatusSchema,
  /** True when this host held the VIP when asked. */
  wasHolder: Type.Boolean(),
  /** The host the VIP was handed to, or null (not the holder, or it resigned with no target). */
  handedOverTo: Type.Union([HostName, Type.Null()]),
});
export type VipExcludeResult = Static<typeof VipExcludeResultSchema>;

/** The `result` of `req.vip` by action (the reply table in responses.ts maps req.vip to these). */
export const VipResultSchemas = {
  status: VipAgentStatusSchema,
  move: VipHandoverResultSchema,
  exclude: VipExcludeResultSchema,
  include: VipAgentStatusSchema,
} as const;

/**
 * The VIP API, typed once (like shared/src/runs-api.ts). Fastify validates against these schemas
 * and ballastctl decodes with them; `ballastctl vip … -o json` prints exactly these documents, so
 * their shapes are a contract (the lab's chaos suite reads them).
 *
 * Routes (operator token in `Authorization: Bearer`):
 *   GET  /v1/vip                         → VipStatusResponse    — viewer; asks every agent with a
 *        VIP configured (in parallel, short deadline) and aggregates per VIP
 *   POST /v1/vip/move     VipMoveRequest → VipMoveResponse      — operator, audited (`vip.move`);
 *        refuses an unfit target (BALLAST_ERR_VIP_TARGET_UNFIT, 409, with the reason), asks the
 *        holder to hand over and waits ≤ 5 s until the target reports holding
 *   POST /v1/vip/exclude  VipHostRequest → VipHostChangeResponse — operator, audited (`vip.exclude`);
 *        the host stops campaigning (a persistent marker on the host), handing over first if it holds
 *   POST /v1/vip/include  VipHostRequest → VipHostChangeResponse — operator, audited (`vip.include`)
 *
 * The controller only observes and asks: the election runs between the agents and etcd, and
 * failover works with the controller stopped.
 *
 * `ballastctl vip status -o json` prints VipStatusResponse, e.g.
 *   {"items":[{"name":"api","address":"198.18.0.250","prefixLength":32,"holder":"host2",
 *     "holderSource":"holder","term":"1234","leaseLeftMs":1600,"candidates":[{"host":"host1",
 *     "reachable":true,"state":"candidate","healthy":true,"candidate":true,"excluded":false,…}]}],
 *    "observedAt":"2024-05-01T12:00:00.000Z"}
 * `ballastctl vip move --to HOST -o json` prints VipMoveResponse:
 *   {"vip":"api","from":"host2","to":"host1","moved":true,"previousTerm":"1234","term":"1240","tookMs":87}
 * `ballastctl vip exclude|include HOST -o json` prints VipHostChangeResponse.
 * Errors (any command): exit 1 and one stderr line `error: BALLAST_ERR_…: message`.
 */
import { type Static, Type } from '@sinclair/typebox';

const HostName = Type.String({ pattern: '^[a-z0-9]([a-z0-9.-]{0,61}[a-z0-9])?$', maxLength: 63 });
const Iso = Type.String({ description: 'RFC 3339 timestamp', maxLength: 40 });
const Term = Type.String({ pattern: '^[0-9]{1,20}$', description: 'fencing token: the holder key’s etcd create_revision' });
const MsOrNull = Type.Union([Type.Number({ minimum: 0 }), Type.Null()]);

/** An agent's elector state; `unknown` when the host never answered this controller. */
export const VipCandidateStateSchema = Type.Union([
  Type.Literal('idle'),
  Type.Literal('candidate'),
  Type.Literal('holder'),
  Type.Literal('excluded'),
  Type.Literal('unhealthy'),
  Type.Literal('unknown'),
]);
export type VipCandidateState = Static<typeof VipCandidateStateSchema>;

/** One host of a VIP election as the controller last saw it. */
export const VipCandidateSchema = Type.Object({
  host: HostName,
  /** False: not connected, or it did not answer this time; the fields below are then its last report. */
  reachable: Type.Boolean(),
  /** Why it is not reachable (code and message), else null. */
  error: Type.Union([Type.Object({ code: Type.String(), message: Type.String() }), Type.Null()]),
  /** When its report was taken (null: never). */
  observedAt: Type.Union([Iso, Type.Null()]),
  state: VipCandidateStateSchema,
  healthy: Type.Boolean(),
  healthMessage: Type.String(),
  /** `candidate` in its vip.yaml (policy). */
  candidate: Type.Boolean(),
  /** Excluded for maintenance (marker on the host). */
  excluded: Type.Boolean(),
  /** The holder this host last read from etcd. */
  sees: Type.Union([HostName, Type.Null()]),
  lastRenewRttMs: MsOrNull,
  renewRttP50Ms: MsOrNull,
  renewRttP99Ms: MsOrNull,
});
export type VipCandidate = Static<typeof VipCandidateSchema>;

/** One VIP (one election). */
export const VipViewSchema = Type.Object({
  name: Type.String(),
  address: Type.String(),
  prefixLength: Type.Integer({ minimum: 1, maximum: 32 }),
  interface: Type.String(),
  holder: Type.Union([HostName, Type.Null()]),
  /**
   * `holder`: the holder itself answered (term and hold time are its own); `observed`: no reachable
   * host holds it, this is the newest holder the others read from etcd (hold time unknown); `none`.
   */
  holderSource: Type.Union([Type.Literal('holder'), Type.Literal('observed'), Type.Literal('none')]),
  term: Type.Union([Term, Type.Null()]),
  /** Holder only: how long no other host can take the VIP over, at least (from its last heartbeat). */
  leaseLeftMs: MsOrNull,
  /**
   * Sorted by host name. A host whose health has a `vip` check but that never answered this
   * controller (e.g. down since the controller started) is listed under every VIP, state `unknown`.
   */
  candidates: Type.Array(VipCandidateSchema),
});
export type VipView = Static<typeof VipViewSchema>;

export const VipStatusResponseSchema = Type.Object({
  /** One per VIP name (normally one: the cluster's API server VIP), sorted by name. */
  items: Type.Array(VipViewSchema),
  observedAt: Iso,
});
export type VipStatusResponse = Static<typeof VipStatusResponseSchema>;

export const VipMoveRequestSchema = Type.Object({ to: HostName }, { additionalProperties: false });
export type VipMoveRequest = Static<typeof VipMoveRequestSchema>;

export const VipMoveResponseSchema = Type.Object({
  vip: Type.String(),
  from: HostName,
  to: HostName,
  /** False when `to` already held the VIP (nothing was done). */
  moved: Type.Boolean(),
  previousTerm: Type.Union([Term, Type.Null()]),
  /** The new holder's term. */
  term: Type.Union([Term, Type.Null()]),
  /** From asking the holder to the target reporting that it holds. */
  tookMs: Type.Number({ minimum: 0 }),
});
export type VipMoveResponse = Static<typeof VipMoveResponseSchema>;

export const VipHostRequestSchema = Type.Object({ host: HostName }, { additionalProperties: false });
export type VipHostRequest = Static<typeof VipHostRequestSchema>;

export const VipHostChangeResponseSchema = Type.Object({
  action: Type.Union([Type.Literal('exclude'), Type.Literal('include')]),
  host: HostName,
  /** The host's VIP name, null when it has none configured (the marker still applies later). */
  vip: Type.Union([Type.String(), Type.Null()]),
  /** Exclude: the host held the VIP when asked. */
  wasHolder: Type.Boolean(),
  /** Exclude of a holder: the best candidate it handed over to, or null (it resigned). */
  handedOverTo: Type.Union([HostName, Type.Null()]),
  /** The host after the change. */
  candidate: VipCandidateSchema,
});
export type VipHostChangeResponse = Static<typeof VipHostChangeResponseSchema>;

/**
 * The controller's HTTP API, typed once: fastify routes validate against these schemas and
 * ballastctl decodes responses with them. `-o json` output of ballastctl is exactly these shapes,
 * so they are a stable, documented contract (README "JSON output").
 */
import { type Static, Type } from '@sinclair/typebox';
import { EventKindSchema } from './events.js';
import { FactsSchema, HealthSchema } from './protocol/facts.js';
import { TruncatedField } from './paging.js';

const Iso = Type.String({ description: 'RFC 3339 timestamp', maxLength: 40 });
const Name = Type.String({ pattern: '^[a-z0-9]([a-z0-9.-]{0,61}[a-z0-9])?$', maxLength: 63 });
export const HOST_NAME_PATTERN = /^[a-z0-9]([a-z0-9.-]{0,61}[a-z0-9])?$/;

export const ROLES = ['viewer', 'operator', 'admin'] as const;
export const RoleSchema = Type.Union(ROLES.map((r) => Type.Literal(r)));
/** viewer: read only; operator: also join tokens and hosts; admin: also operator accounts. */
export type Role = Static<typeof RoleSchema>;

export const HOST_STATES = ['pending', 'healthy', 'degraded', 'unreachable'] as const;
export const HostStateSchema = Type.Union(HOST_STATES.map((s) => Type.Literal(s)));
/** pending → healthy ⇄ degraded → unreachable (see controller/src/hub/host-state.ts). */
export type HostState = Static<typeof HostStateSchema>;

export const ErrorResponseSchema = Type.Object({
  code: Type.String(),
  message: Type.String(),
  path: Type.Optional(Type.String()),
});

// ---- enrolment (unauthenticated, token-proved) ----------------------------------------------------

export const CaResponseSchema = Type.Object({ caCert: Type.String({ maxLength: 16384 }) });
export const JoinRequestSchema = Type.Object(
  {
    token: Type.String({ minLength: 1, maxLength: 128 }),
    name: Name,
    csr: Type.String({ minLength: 1, maxLength: 16384 }),
  },
  { additionalProperties: false },
);
export type JoinRequest = Static<typeof JoinRequestSchema>;
export const JoinResponseSchema = Type.Object({
  hostId: Type.String(),
  name: Type.String(),
  certificate: Type.String(),
  caCert: Type.String(),
});
export type JoinResponse = Static<typeof JoinResponseSchema>;

// ---- join tokens ----------------------------------------------------------------------------------

export const TokenCreateRequestSchema = Type.Object(
  {
    ttlSeconds: Type.Integer({ minimum: 60, maximum: 30 * 24 * 3600, default: 3600 }),
    uses: Type.Optional(Type.Integer({ minimum: 1, maximum: 100_000 })),
    description: Type.Optional(Type.String({ maxLength: 256 })),
  },
  { additionalProperties: false },
);
export type TokenCreateRequest = Static<typeof TokenCreateRequestSchema>;
export const TokenInfoSchema = Type.Object({
  id: Type.String(),
  description: Type.String(),
  createdAt: Iso,
  createdBy: Type.String(),
  expiresAt: Iso,
  /** null = unlimited uses until expiry. */
  usesAllowed: Type.Union([Type.Integer(), Type.Null()]),
  usesCount: Type.Integer(),
  revoked: Type.Boolean(),
  /** active | expired | exhausted | revoked */
  status: Type.Union([Type.Literal('active'), Type.Literal('expired'), Type.Literal('exhausted'), Type.Literal('revoked')]),
});
export type TokenInfo = Static<typeof TokenInfoSchema>;
export const TokenCreateResponseSchema = Type.Object({
  token: Type.String(),
  caHash: Type.String(),
  server: Type.String(),
  joinCommand: Type.String(),
  /** One line for a fresh host without the agent: fetch install.sh (key-pinned), install the .deb, join. */
  installCommand: Type.Optional(Type.String()),
  info: TokenInfoSchema,
});
export type TokenCreateResponse = Static<typeof TokenCreateResponseSchema>;
export const TokenListResponseSchema = Type.Object({ items: Type.Array(TokenInfoSchema) });

// ---- operator accounts ----------------------------------------------------------------------------

export const OperatorCreateRequestSchema = Type.Object(
  { name: Name, role: RoleSchema },
  { additionalProperties: false },
);
export const OperatorInfoSchema = Type.Object({
  name: Type.String(),
  role: RoleSchema,
  createdAt: Iso,
  revoked: Type.Boolean(),
});
export type OperatorInfo = Static<typeof OperatorInfoSchema>;
export const OperatorCreateResponseSchema = Type.Object({ token: Type.String(), info: OperatorInfoSchema });
export const OperatorListResponseSchema = Type.Object({ items: Type.Array(OperatorInfoSchema) });
export const WhoAmIResponseSchema = Type.Object({ name: Type.String(), role: RoleSchema });

// ---- hosts ----------------------------------------------------------------------------------------

export const HostSummarySchema = Type.Object({
  name: Type.String(),
  id: Type.String(),
  state: HostStateSchema,
  connected: Type.Boolean(),
  /** When the host entered its current state. */
  stateSince: Iso,
  lastHeartbeatAt: Type.Union([Iso, Type.Null()]),
  enrolledAt: Iso,
  /** Address the agent's websocket came from. */
  address: Type.Union([Type.String(), Type.Null()]),
  agentVersion: Type.Union([Type.String(), Type.Null()]),
  os: Type.Union([Type.String(), Type.Null()]),
  kernel: Type.Union([Type.String(), Type.Null()]),
  cpus: Type.Union([Type.Integer(), Type.Null()]),
  memoryBytes: Type.Union([Type.Number(), Type.Null()]),
  failingChecks: Type.Array(Type.String()),
  /**
   * Two live agents use this host's certificate (a copied data dir) and keep replacing each other.
   * A flag beside `state`, not a state: the host may well be healthy. Remedy: remove the host, re-join.
   * Optional only so that a newer ballastctl reads an older controller; this controller always sets it.
   */
  conflict: Type.Optional(Type.Boolean()),
  /**
   * Operator-set labels (shared/src/labels.ts), e.g. `{ pool: spare }` for `autoReplace.sparePool`.
   * Optional only so that a newer ballastctl reads an older controller; this controller always sets it.
   */
  labels: Type.Optional(Type.Record(Type.String(), Type.String())),
});
export type HostSummary = Static<typeof HostSummarySchema>;
/**
 * `PATCH /v1/hosts/:name/labels` (ballastctl host label): kubectl label's rules. Sizes are bounded
 * here; the syntax of each key and value is checked by shared/src/labels.ts (BALLAST_ERR_LABEL_INVALID).
 */
export const HostLabelRequestSchema = Type.Object(
  {
    // Twice the per-host limit: a size bound only, so that a count over 32 gets the coded label error.
    set: Type.Record(Type.String({ maxLength: 317 }), Type.String({ maxLength: 63 }), { maxProperties: 64, default: {} }),
    remove: Type.Array(Type.String({ maxLength: 317 }), { maxItems: 64, default: [] }),
    overwrite: Type.Boolean({ default: false }),
  },
  { additionalProperties: false },
);
export type HostLabelRequest = Static<typeof HostLabelRequestSchema>;
/** Cut at HOST_LIST_MAX_BYTES (paging.ts). */
export const HostListResponseSchema = Type.Object({ items: Type.Array(HostSummarySchema), truncated: TruncatedField });

export const EventSchema = Type.Object({
  id: Type.Integer(),
  ts: Iso,
  host: Type.Union([Type.String(), Type.Null()]),
  /** One of shared/src/events.ts: the controller's own kinds, or `agent.` + an agent's kind. */
  kind: EventKindSchema,
  message: Type.String(),
  data: Type.Record(Type.String(), Type.Unknown()),
});
export type BallastEvent = Static<typeof EventSchema>;
export const EventListResponseSchema = Type.Object({
  items: Type.Array(EventSchema),
  /** Pass as `after` to get only newer events (the last item returned, also when the page was truncated). */
  last: Type.Integer(),
  /** Cut at LIST_PAGE_MAX_BYTES (paging.ts): with `after`, the oldest are kept (page on with `after=last`); without, the newest. */
  truncated: TruncatedField,
});
export const EventQuerySchema = Type.Object({
  host: Type.Optional(Type.String({ maxLength: 63 })),
  after: Type.Optional(Type.Integer({ minimum: 0 })),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 100 })),
  /** Long-poll: wait up to this many seconds for a newer event. */
  wait: Type.Optional(Type.Integer({ minimum: 0, maximum: 60 })),
});

export const HostDetailResponseSchema = Type.Object({
  host: HostSummarySchema,
  facts: Type.Union([FactsSchema, Type.Null()]),
  health: Type.Union([HealthSchema, Type.Null()]),
  events: Type.Array(EventSchema),
});
export type HostDetailResponse = Static<typeof HostDetailResponseSchema>;

// ---- audit ----------------------------------------------------------------------------------------

export const AuditEntrySchema = Type.Object({
  id: Type.Integer(),
  ts: Iso,
  actor: Type.String(),
  role: Type.String(),
  action: Type.String(),
  target: Type.String(),
  outcome: Type.Union([Type.Literal('ok'), Type.Literal('denied'), Type.Literal('failed')]),
  detail: Type.String(),
});
export type AuditEntry = Static<typeof AuditEntrySchema>;
/** Newest first, cut at LIST_PAGE_MAX_BYTES (paging.ts). */
export const AuditListResponseSchema = Type.Object({ items: Type.Array(AuditEntrySchema), truncated: TruncatedField });
export const AuditQuerySchema = Type.Object({
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 100 })),
});

/**
 * Routes (all JSON; operator routes need `Authorization: Bearer <operator token>`):
 *   GET    /healthz, /readyz, /metrics                       — no auth
 *   GET    /ui, /ui/, /ui/assets/:file     (the web UI)      — no auth (static files, no data)
 *   GET    /v1/join/ca                     → CaResponse      — no auth (agent pins it by hash)
 *   POST   /v1/join        JoinRequest     → JoinResponse    — join token in body
 *   GET    /v1/whoami                      → WhoAmIResponse  — viewer
 *   POST   /v1/tokens      TokenCreate     → TokenCreateResp — operator
 *   GET    /v1/tokens                      → TokenList       — viewer
 *   DELETE /v1/tokens/:id                  → TokenInfo       — operator
 *   GET    /v1/hosts                       → HostList        — viewer
 *   GET    /v1/hosts/:name                 → HostDetail      — viewer
 *   DELETE /v1/hosts/:name                 → HostSummary     — operator (revokes its certificate)
 *   PATCH  /v1/hosts/:name/labels          → HostSummary     — operator (HostLabelRequest; kubectl label's rules)
 *   GET    /v1/events?host&after&limit&wait → EventList      — viewer
 *   GET    /v1/audit?limit                 → AuditList       — viewer
 *   POST   /v1/operators   OperatorCreate  → OperatorCreateResp — admin
 *   GET    /v1/operators                   → OperatorList    — admin
 *   DELETE /v1/operators/:name             → OperatorInfo    — admin
 */

import { type Static, type TSchema, Type } from '@sinclair/typebox';
import { TaskResultSchema } from '../tasks/results.js';
import { WireRunSpecSchema } from '../tasks/task.js';
import { FactsSchema, HealthSchema } from './facts.js';
import { EtcdRequestSchema } from './etcd.js';
import { VipRequestSchema } from './vip.js';

const Id = Type.String({ minLength: 1, maxLength: 64 });
const Code = Type.String({ pattern: '^BALLAST_ERR_[A-Z_]+$', maxLength: 64 });
const ErrorPayload = Type.Object({
  code: Code,
  message: Type.String({ maxLength: 4096 }),
  path: Type.Optional(Type.String({ maxLength: 512 })),
});
/** Every request carries an id and a relative deadline (relative so that clock skew cannot break it). */
const RequestBase = { id: Id, timeoutMs: Type.Integer({ minimum: 1, maximum: 3_600_000 }) };

// ---- agent → controller -------------------------------------------------------------------------

/** First frame on every connection: names the protocol version the agent speaks. */
export const HelloSchema = Type.Object({
  type: Type.Literal('hello'),
  protocol: Type.Integer({ minimum: 0 }),
  agentVersion: Type.String({ maxLength: 64 }),
  /** Changes on every agent process start; lets the controller tell a restart from a reconnect. */
  sessionId: Id,
  /**
   * Optional request families this agent answers beyond version 1's (e.g. `vip`: `req.vip`).
   * Additive requests are negotiated here instead of bumping PROTOCOL_VERSION (see vip.ts).
   */
  features: Type.Optional(Type.Array(Type.String({ pattern: '^[a-z][a-z0-9-]{0,31}$' }), { maxItems: 32 })),
});
/** Tiny by design: 10,000 of these arrive every second. */
export const HeartbeatSchema = Type.Object({
  type: Type.Literal('hb'),
  seq: Type.Integer({ minimum: 0 }),
  /** Agent wall clock, ms since epoch. */
  ts: Type.Number(),
});
export const FactsMessageSchema = Type.Object({ type: Type.Literal('facts'), facts: FactsSchema });
export const HealthMessageSchema = Type.Object({ type: Type.Literal('health'), health: HealthSchema });
/** The answer to a request. `result` is checked where the id is matched to its request (responses.ts). */
export const ResponseSchema = Type.Object({
  type: Type.Literal('res'),
  id: Id,
  ok: Type.Boolean(),
  result: Type.Optional(Type.Unknown()),
  error: Type.Optional(ErrorPayload),
});
/** Progress of a run: one `started` and one `finished` (with the result) per task and handler. */
export const RunEventSchema = Type.Object({
  type: Type.Literal('run.event'),
  runId: Id,
  phase: Type.Union([Type.Literal('task'), Type.Literal('handler')]),
  index: Type.Integer({ minimum: 0 }),
  name: Type.String({ maxLength: 256 }),
  module: Type.String({ maxLength: 64 }),
  state: Type.Union([Type.Literal('started'), Type.Literal('finished')]),
  result: Type.Optional(TaskResultSchema),
});
/** Something the agent did on its own (a component repaired, a check failing) for the event log. */
export const AgentEventSchema = Type.Object({
  type: Type.Literal('event'),
  kind: Type.String({ pattern: '^[a-z][a-z0-9.-]{0,63}$' }),
  message: Type.String({ maxLength: 4096 }),
  data: Type.Record(Type.String({ maxLength: 64 }), Type.Unknown(), { maxProperties: 32 }),
});
/** Sent by either side in reply to a frame it could not accept. */
export const ErrorMessageSchema = Type.Object({ type: Type.Literal('error'), ...ErrorPayload.properties });

// ---- controller → agent -------------------------------------------------------------------------

export const WelcomeSchema = Type.Object({
  type: Type.Literal('welcome'),
  protocol: Type.Integer({ minimum: 0 }),
  hostId: Id,
  name: Type.String({ maxLength: 253 }),
  heartbeatIntervalMs: Type.Integer({ minimum: 100, maximum: 60_000 }),
  healthIntervalMs: Type.Integer({ minimum: 1000, maximum: 600_000 }),
  /** Controller wall clock when sent, for the agent's clock-offset estimate. */
  serverTime: Type.Number(),
});
/** Sent once the heartbeat is durably stored; `ts` echoes the heartbeat's own timestamp. */
export const HeartbeatAckSchema = Type.Object({
  type: Type.Literal('hb-ack'),
  seq: Type.Integer({ minimum: 0 }),
  ts: Type.Number(),
  serverTime: Type.Number(),
});
export const PingRequestSchema = Type.Object({ type: Type.Literal('req.ping'), ...RequestBase });
export const FactsRequestSchema = Type.Object({ type: Type.Literal('req.facts'), ...RequestBase });
export const HealthRequestSchema = Type.Object({ type: Type.Literal('req.health'), ...RequestBase });
/** Run tasks; the agent streams `run.event`s and answers `res` with a {@link RunSummary} when done. */
export const RunRequestSchema = Type.Object({ type: Type.Literal('req.run'), ...RequestBase, run: WireRunSpecSchema });
/** Cancel a run in progress: the current task finishes or is aborted, the rest are skipped. */
export const CancelRequestSchema = Type.Object({ type: Type.Literal('req.cancel'), ...RequestBase, runId: Id });

/** The `result` of a `req.run` response. */
export const RunSummarySchema = Type.Object({
  runId: Id,
  ok: Type.Integer({ minimum: 0 }),
  changed: Type.Integer({ minimum: 0 }),
  failed: Type.Integer({ minimum: 0 }),
  skipped: Type.Integer({ minimum: 0 }),
  cancelled: Type.Boolean(),
  durationMs: Type.Number({ minimum: 0 }),
});
export type RunSummary = Static<typeof RunSummarySchema>;

/** Messages by direction: each a discriminated union on `type`. */
export const AgentMessageSchemas = {
  hello: HelloSchema,
  hb: HeartbeatSchema,
  facts: FactsMessageSchema,
  health: HealthMessageSchema,
  res: ResponseSchema,
  error: ErrorMessageSchema,
  'run.event': RunEventSchema,
  event: AgentEventSchema,
} as const satisfies Record<string, TSchema>;

export const ControllerMessageSchemas = {
  welcome: WelcomeSchema,
  'hb-ack': HeartbeatAckSchema,
  'req.ping': PingRequestSchema,
  'req.facts': FactsRequestSchema,
  'req.health': HealthRequestSchema,
  'req.run': RunRequestSchema,
  'req.cancel': CancelRequestSchema,
  'req.vip': VipRequestSchema,
  'req.etcd': EtcdRequestSchema,
  res: ResponseSchema,
  error: ErrorMessageSchema,
} as const satisfies Record<string, TSchema>;

type StaticOf<T extends Record<string, TSchema>> = { [K in keyof T]: Static<T[K]> }[keyof T];

/** Any frame an agent sends. */
export type AgentMessage = StaticOf<typeof AgentMessageSchemas>;
/** Any frame the controller sends. */
export type ControllerMessage = StaticOf<typeof ControllerMessageSchemas>;
/** Controller → agent requests (those with an `id` and a `timeoutMs` that expect a `res`). */
export type ControllerRequest = Extract<ControllerMessage, { timeoutMs: number }>;
/**
 * The hello feature a request type needs, for request types added after protocol v1. The
 * controller refuses to send such a request to an agent whose hello did not list the feature.
 */
export const REQUEST_FEATURES: Partial<Record<ControllerRequest['type'], string>> = { 'req.vip': 'vip', 'req.etcd': 'etcd' };
export type Hello = Static<typeof HelloSchema>;
export type Heartbeat = Static<typeof HeartbeatSchema>;
export type Welcome = Static<typeof WelcomeSchema>;
export type Response = Static<typeof ResponseSchema>;
export type RunEvent = Static<typeof RunEventSchema>;
export type AgentEvent = Static<typeof AgentEventSchema>;

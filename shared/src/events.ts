/**
 * The kinds of entries in the controller's event log (`GET /v1/events`, `ballastctl events`), typed
 * once (STYLE.md §6: literal unions, never bare strings). The store's `append`, every emitter and
 * the API schema use these, so a new kind is added here first and a typo fails the build.
 *
 * Two families:
 * - {@link ControllerEventKind}: what the controller records itself (host lifecycle, runs,
 *   operations, VIP moves). A closed set.
 * - {@link ForwardedAgentEventKind}: what an agent reported on its own (`agent.` + the agent's
 *   kind). The controller keeps this family open (`agent.${string}`) on purpose: agents of another
 *   version may send kinds this controller does not know, and the log must keep them rather than
 *   refuse them. What *this* agent version sends is the closed {@link AgentEventKind}.
 *
 * Kinds are never renamed or removed: old rows in the event log keep their kind and must still
 * match the API schema when they are read back.
 */
import { type Static, Type } from '@sinclair/typebox';

/** Events the controller records itself. */
export const ControllerEventKindSchema = Type.Union([
  // Hosts: enrolment, state machine, connections, removal.
  Type.Literal('enrolled'),
  Type.Literal('refused'),
  Type.Literal('state'),
  Type.Literal('connected'),
  Type.Literal('disconnected'),
  Type.Literal('removed'),
  // An operator changed a host's labels (ballastctl host label).
  Type.Literal('host.labels'),
  // Two live agents on one host identity (a copied data dir) replacing each other: hub/identity-conflict.ts.
  Type.Literal('identity.conflict'),
  // Role runs (`ballastctl apply`).
  Type.Literal('run.started'),
  Type.Literal('run.task'),
  Type.Literal('run.cancel'),
  Type.Literal('run.finished'),
  Type.Literal('run.interrupted'),
  Type.Literal('run.orphan-cancelled'),
  // Operations (bootstrap, reset …).
  Type.Literal('op.started'),
  Type.Literal('op.step'),
  Type.Literal('op.paused'),
  Type.Literal('op.resumed'),
  Type.Literal('op.aborted'),
  Type.Literal('op.finished'),
  // VIP moves and exclusions an operator asked for.
  Type.Literal('vip.moved'),
  Type.Literal('vip.move-refused'),
  Type.Literal('vip.move-failed'),
  Type.Literal('vip.excluded'),
  Type.Literal('vip.included'),
  // Automatic node replacement (controller/src/membership/auto-replacer.ts): every decision that changed.
  Type.Literal('autoreplace.decision'),
  // etcd snapshots, restore drills and defragmentation (issue 13): controller/src/snapshots/.
  Type.Literal('etcd.snapshot'),
  Type.Literal('etcd.snapshot-failed'),
  Type.Literal('etcd.snapshot-deleted'),
  Type.Literal('etcd.drill'),
  Type.Literal('etcd.drill-failed'),
  Type.Literal('etcd.defrag'),
  Type.Literal('etcd.defrag-failed'),
  // A taken-out host's kubelet registered its Node again at boot; the controller deleted it (membership/returned-host.ts).
  Type.Literal('node.stale-deleted'),
]);
export type ControllerEventKind = Static<typeof ControllerEventKindSchema>;

/** What this agent version reports on its own (components it repaired, VIP elections). */
export const AgentEventKindSchema = Type.Union([
  Type.Literal('component.repaired'),
  Type.Literal('component.failed'),
  Type.Literal('vip.acquired'),
  Type.Literal('vip.released'),
  Type.Literal('vip.resigned'),
  Type.Literal('vip.renew-failed'),
  Type.Literal('vip.stale-removed'),
]);
export type AgentEventKind = Static<typeof AgentEventKindSchema>;

/** An agent's event as the controller logs it: `agent.` + the agent's kind (open: see the module comment). */
export const ForwardedAgentEventKindSchema = Type.TemplateLiteral([Type.Literal('agent.'), Type.String()]);
export type ForwardedAgentEventKind = Static<typeof ForwardedAgentEventKindSchema>;

/** Any kind in the event log. */
export const EventKindSchema = Type.Union([ControllerEventKindSchema, ForwardedAgentEventKindSchema]);
export type EventKind = Static<typeof EventKindSchema>;

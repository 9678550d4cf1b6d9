/**
 * What the run orchestrator needs from the rest of the controller, as narrow ports (STYLE.md §9):
 * tests pass hand-written fakes, controller.ts passes adapters over the store and the tracker.
 */
import type { EventKind } from '../../../shared/src/events.js';
import type { ControllerRequest } from '../../../shared/src/protocol/messages.js';
import type { ResponseOf } from '../../../shared/src/protocol/responses.js';

/** A connected agent, as far as runs are concerned (a subset of the hub's SessionHandle). */
export interface RunSessionPort {
  /**
   * Sends a request; settles with the agent's result, already validated against the request's reply
   * schema (so callers neither check nor cast it), or a coded error (invalid reply, deadline, peer gone).
   */
  request<R extends ControllerRequest>(make: (id: string) => R): Promise<ResponseOf<R>>;
}

/** A host a run may target. */
export interface RunTarget {
  id: string;
  name: string;
  /** Go-style architecture from the host's facts; null before the agent reported them. */
  arch: string | null;
  address: string | null;
  /** The live session; null when no agent is connected. */
  session: RunSessionPort | null;
}

/** Finds hosts by name. */
export interface RunTargetPort {
  find(name: string): RunTarget | null;
}

/** Where run milestones go in the controller's event log (`ballastctl events`). */
export interface RunEventLogPort {
  append(event: { host: string | null; kind: EventKind; message: string; data?: Record<string, unknown> }): void;
}

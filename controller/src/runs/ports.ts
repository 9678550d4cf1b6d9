/**
 * What the run orchestrator needs from the rest of the controller, as narrow ports (STYLE.md §9):
 * tests pass hand-written fakes, controller.ts passes adapters over the store and the tracker.
 */
import type { EventKind } from '../../../shared/src/events.js';
import type { ControllerRequest } from '../../../shared/src/protocol/messages.js';

/** A connected agent, as far as runs are concerned (a subset of the hub's SessionHandle). */
export interface RunSessionPort {
  /** Sends a request; settles with the agent's result or a coded error (deadline, peer gone). */
  request(make: (id: string) => ControllerRequest): Promise<unknown>;
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

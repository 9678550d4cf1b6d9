import type { HostState } from '../../../shared/src/api.js';

/** What the state machine needs to know about one host at one instant. */
export interface LivenessInput {
  current: HostState;
  /** An authenticated agent session is open right now. */
  connected: boolean;
  /** Controller clock (ms) of the last heartbeat received, or null if the agent never sent one. */
  lastHeartbeatAt: number | null;
  /** Number of agent-reported checks currently failing. */
  failingChecks: number;
  now: number;
  /** A host is unreachable when its last heartbeat is older than this (3 missed 1 s beats by default). */
  unreachableAfterMs: number;
}

/**
 * The host state machine: `pending → healthy ⇄ degraded → unreachable`, and back to healthy or
 * degraded when heartbeats resume.
 *
 * - pending: enrolled, no heartbeat ever received.
 * - healthy / degraded: heartbeats are fresh; degraded when any reported check fails.
 * - unreachable: no heartbeat for `unreachableAfterMs`, whether the socket closed or went silent.
 *
 * A closed socket alone does not make a host unreachable: an agent restarted by systemd reconnects
 * within a second, and flapping the state on every restart would drown real failures. The heartbeat
 * deadline is the one rule, so detection takes at most `unreachableAfterMs` plus one evaluation tick.
 */
export function nextHostState(input: LivenessInput): HostState {
  if (input.lastHeartbeatAt === null) return input.current === 'pending' ? 'pending' : 'unreachable';
  if (input.now - input.lastHeartbeatAt > input.unreachableAfterMs) {
    return input.current === 'pending' ? 'pending' : 'unreachable';
  }
  // Fresh heartbeat but the socket just closed: keep the state until the deadline decides.
  if (!input.connected && input.current !== 'pending') return input.current;
  return input.failingChecks > 0 ? 'degraded' : 'healthy';
}

const ALLOWED: Record<HostState, readonly HostState[]> = {
  pending: ['healthy', 'degraded'],
  healthy: ['degraded', 'unreachable'],
  degraded: ['healthy', 'unreachable'],
  unreachable: ['healthy', 'degraded'],
};

/** True when the state machine permits `from → to` (used to assert no illegal transition is stored). */
export function isAllowedTransition(from: HostState, to: HostState): boolean {
  return ALLOWED[from].includes(to);
}

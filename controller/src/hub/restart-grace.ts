/**
 * The restart grace (README "Host states"): after the controller starts, the hosts it loaded from
 * the store get time to reconnect before their stored last heartbeat — which predates the restart
 * and is therefore stale — can make them unreachable. The controller must not blame a host for the
 * controller's own absence.
 *
 * A fixed grace is not enough under a reconnect storm: 10,000 agents reconnecting at once queue
 * behind each other's TLS handshakes, and on a loaded machine the tail came back after the grace
 * (issue 15: 138 false `unreachable` rows at 1,000 agents with a 45 s grace). So the grace lasts at
 * least `graceMs` from start and, while hosts are still coming back (one returned within the last
 * `quietMs`), longer — bounded by `maxMs`. Once nobody has returned for `quietMs`, the hosts still
 * away are really away. A small fleet pays nothing: its hosts are back long before `graceMs`.
 */

/** How long the grace lasts (see the file comment). */
export interface RestartGracePolicy {
  /** The grace lasts at least this long after start (`--restart-grace`). */
  graceMs: number;
  /** ... and while a host returned within this long (a storm still being absorbed). */
  quietMs: number;
  /** ... but never longer than this after start. */
  maxMs: number;
}

/** Derives the policy from `--restart-grace`: extended while hosts return within 15 s, at most 4× the grace. */
export function restartGracePolicy(graceMs: number): RestartGracePolicy {
  return { graceMs, quietMs: Math.min(graceMs, 15_000), maxMs: graceMs * 4 };
}

/** The hosts loaded at start that have not reconnected yet, and until when they are covered. */
export class RestartGrace {
  private readonly awaiting = new Set<string>();
  private startedAt: number | null = null;
  private lastReturnAt: number | null = null;
  private ended = false;

  constructor(private readonly policy: RestartGracePolicy) {}

  /** Hosts loaded from the store whose agent is expected back (their stored heartbeat predates the start). */
  expect(hostIds: Iterable<string>): void {
    for (const id of hostIds) this.awaiting.add(id);
  }

  /** The controller listens from now: the grace runs from here (agents cannot connect earlier). */
  begin(now: number): void {
    this.startedAt = now;
  }

  /** The host's agent connected again: it is no longer covered (its heartbeats decide). */
  returned(hostId: string, now: number): void {
    if (this.awaiting.delete(hostId) && !this.ended) this.lastReturnAt = now;
  }

  /** The host was removed from the fleet. */
  forget(hostId: string): void {
    this.awaiting.delete(hostId);
  }

  /** When the grace ends, given what returned so far; null before {@link begin}. */
  endsAt(): number | null {
    if (this.startedAt === null) return null;
    const { graceMs, quietMs, maxMs } = this.policy;
    const extended = this.lastReturnAt === null ? 0 : this.lastReturnAt + quietMs;
    return Math.min(this.startedAt + maxMs, Math.max(this.startedAt + graceMs, extended));
  }

  /** True while the host is still awaited and the grace is not over: it must not be marked unreachable. */
  covers(hostId: string, now: number): boolean {
    if (this.ended || !this.awaiting.has(hostId)) return false;
    const end = this.endsAt();
    return end === null || now < end;
  }

  /**
   * Ends the grace once it is over (called by the tracker's tick); returns the hosts still away the
   * first time it ends, null otherwise. Before {@link begin} (still starting) it never ends.
   */
  settle(now: number): { away: number; lastReturnAt: number | null; startedAt: number } | null {
    if (this.ended || this.startedAt === null) return null;
    const end = this.endsAt() as number;
    if (now < end) return null;
    this.ended = true;
    const away = this.awaiting.size;
    this.awaiting.clear();
    return { away, lastReturnAt: this.lastReturnAt, startedAt: this.startedAt };
  }

  /** Hosts still awaited (0 once the grace ended). */
  get awaitingCount(): number {
    return this.awaiting.size;
  }
}

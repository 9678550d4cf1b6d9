import type { Logger } from 'pino';
import type { HostState } from '../../../shared/src/api.js';
import type { ControllerRequest } from '../../../shared/src/protocol/messages.js';
import type { HostEventSink } from '../fleet/events.js';
import type { ResponseOf } from '../../../shared/src/protocol/responses.js';
import { nextHostState } from './host-state.js';
import { type IdentityConflict, type IdentityConflictPolicy, IdentityConflicts, type SessionPeer } from './identity-conflict.js';
import { RestartGrace, restartGracePolicy } from './restart-grace.js';

/** Where the tracker commits transitions; a narrow port so the state logic is testable without SQLite. */
export interface TrackerSink {
  /**
   * Called once per transition, after the in-memory state changed, to store it. Only this: the
   * `host.state-changed` event follows once it returned, for everything else (metrics, event log).
   */
  transition(change: { hostId: string; name: string; from: HostState; to: HostState; at: number; reason: string }): void;
}

/** A connected agent session as the tracker sees it. */
export interface SessionHandle {
  readonly sessionId: string;
  /** The agent process and address behind the session, once known (hello); compared on replacement. */
  readonly peer?: SessionPeer;
  /** Closes the session (e.g. replaced by a newer connection or the host was removed). */
  close(code: number, reason: string): void;
  /** Sends a request to the agent; settles with its validated, typed result or a coded error (deadline, peer gone). */
  request<R extends ControllerRequest>(make: (id: string) => R): Promise<ResponseOf<R>>;
}

/** The controller's live view of one host. */
export interface LiveHost {
  readonly id: string;
  readonly name: string;
  state: HostState;
  stateSince: number;
  lastHeartbeatAt: number | null;
  failingChecks: string[];
  session: SessionHandle | null;
}

/** A tracker tick this much later than due means the event loop stalled (see HostTracker.noteTick). */
export const STALL_MS = 1000;

/** Options for {@link HostTracker}. */
export interface HostTrackerOptions {
  sink: TrackerSink;
  /** Where host events go (fleet/events.ts); absent: none are sent. */
  events?: HostEventSink;
  log: Logger;
  now?: () => number;
  /** Default 3000: three missed 1 s heartbeats. */
  unreachableAfterMs?: number;
  /** When two agents on one identity flag a host `conflict`; default IDENTITY_CONFLICT_DEFAULTS. */
  identityConflicts?: IdentityConflictPolicy;
}

/** What {@link HostTracker.attach} did. */
export interface AttachOutcome {
  /** An older session of the host was still bound and was closed (4001). */
  replaced: boolean;
  /** Set when this replacement raised the host's identity-conflict flag (record it once). */
  conflictStarted: IdentityConflict | null;
}

/**
 * Liveness of every enrolled host, in memory (10,000 hosts are a few MB). Heartbeats and check
 * results update it; a ticker applies the state machine so silent hosts become unreachable.
 * Transitions are handed to the sink, which stores them; then `host.state-changed` is emitted.
 * Its callers commit enrolment and removal before `add`/`remove`, so those events follow a commit too.
 */
export class HostTracker {
  private readonly hosts = new Map<string, LiveHost>();
  private readonly now: () => number;
  private readonly unreachableAfterMs: number;
  private timer: NodeJS.Timeout | null = null;
  private readonly conflicts: IdentityConflicts;
  /** Until then, connected hosts are not marked unreachable: the controller itself stalled (noteTick). */
  private stallPassUntil = Number.NEGATIVE_INFINITY;
  private lastTickAt: number | null = null;
  /** Stalls seen (ticks late by more than STALL_MS), for logs and tests. */
  stalls = 0;
  /** The restart grace {@link load} set up; it begins with the first {@link start}. */
  private grace: RestartGrace | null = null;
  /** When each connected host's current session was bound (a new session's first heartbeat may be queued). */
  private readonly attachedAt = new Map<string, number>();

  constructor(private readonly options: HostTrackerOptions) {
    this.now = options.now ?? Date.now;
    this.unreachableAfterMs = options.unreachableAfterMs ?? 3000;
    this.conflicts = new IdentityConflicts(options.identityConflicts);
  }

  /**
   * Loads hosts from the store at start. A restarted controller gives every host at least `graceMs`
   * to reconnect before its old heartbeat counts against it, longer while a reconnect storm is still
   * bringing hosts back (restart-grace.ts), so a controller restart alone does not turn the fleet
   * unreachable. The grace is counted from {@link start} (the controller is listening by then), not
   * from here: agents cannot reconnect while the rest of the controller starts.
   */
  load(
    hosts: Array<{ id: string; name: string; state: HostState; stateSince: number; lastHeartbeatAt: number | null }>,
    graceMs: number,
  ): void {
    for (const h of hosts) this.hosts.set(h.id, { ...h, failingChecks: [], session: null });
    this.grace = new RestartGrace(restartGracePolicy(graceMs));
    this.grace.expect(hosts.filter((h) => h.lastHeartbeatAt !== null && h.state !== 'unreachable').map((h) => h.id));
  }

  /** Hosts loaded at start whose agent has not reconnected yet while the restart grace lasts. */
  awaitingReconnect(): number {
    return this.grace?.awaitingCount ?? 0;
  }

  /** Adds a freshly enrolled host (state pending), once its row is committed. */
  add(host: { id: string; name: string; enrolledAt: number }): void {
    this.hosts.set(host.id, {
      id: host.id,
      name: host.name,
      state: 'pending',
      stateSince: host.enrolledAt,
      lastHeartbeatAt: null,
      failingChecks: [],
      session: null,
    });
    this.options.events?.emit({ type: 'host.enrolled', host: { id: host.id, name: host.name }, at: host.enrolledAt });
  }

  /** Forgets a removed host (its removal committed) and closes its session. */
  remove(hostId: string): void {
    const host = this.hosts.get(hostId);
    if (host === undefined) return;
    this.hosts.delete(hostId);
    this.attachedAt.delete(hostId);
    this.grace?.forget(hostId);
    this.conflicts.forget(hostId);
    host.session?.close(4003, 'host removed');
    this.options.events?.emit({ type: 'host.removed', host: { id: host.id, name: host.name } });
  }

  get(hostId: string): LiveHost | undefined {
    return this.hosts.get(hostId);
  }

  /** All tracked hosts (live objects: read, do not mutate). */
  all(): IterableIterator<LiveHost> {
    return this.hosts.values();
  }

  /**
   * Binds a new session to its host. An older session of the same host is closed: the newest
   * connection wins, so an agent that reconnects before its old TCP connection died is not counted
   * twice and no state is duplicated. A replacement of a session that was still heartbeating by
   * another agent process or address is contested; enough of them flag the host (identity-conflict.ts).
   */
  attach(hostId: string, session: SessionHandle): AttachOutcome {
    const host = this.hosts.get(hostId);
    if (host === undefined) return { replaced: false, conflictStarted: null };
    const previous = host.session;
    host.session = session;
    if (previous === session) return { replaced: false, conflictStarted: null };
    const now = this.now();
    this.attachedAt.set(hostId, now);
    this.grace?.returned(hostId, now);
    if (previous === null) return { replaced: false, conflictStarted: null };
    previous.close(4001, 'replaced by a newer connection');
    // The host's last heartbeat came over `previous`, the session bound until now.
    const alive = host.lastHeartbeatAt !== null && now - host.lastHeartbeatAt < this.unreachableAfterMs;
    if (!IdentityConflicts.contested(previous.peer, session.peer, alive)) return { replaced: true, conflictStarted: null };
    const peers = [previous.peer?.address ?? null, session.peer?.address ?? null];
    const started = this.conflicts.noteContested(hostId, now, peers);
    if (started !== null) this.options.log.warn({ host: host.name, addresses: started.addresses }, 'identity conflict: two live agents use one host certificate');
    return { replaced: true, conflictStarted: started };
  }

  /** The host's identity-conflict flag, or null. */
  conflictOf(hostId: string): IdentityConflict | null {
    return this.conflicts.get(hostId, this.now());
  }

  /** Hosts flagged `conflict` now. */
  conflictCount(): number {
    return this.conflicts.count(this.now());
  }

  /**
   * Unbinds a session if it is still the current one; false when a newer one replaced it. The
   * `host.connected` event comes from the session reports once the connection is stored
   * (fleet/reports.ts); nothing is stored here.
   */
  detach(hostId: string, session: SessionHandle): boolean {
    const host = this.hosts.get(hostId);
    if (host === undefined || host.session !== session) return false;
    host.session = null;
    this.attachedAt.delete(hostId);
    this.evaluateHost(host, this.now(), 'agent disconnected');
    this.options.events?.emit({ type: 'host.disconnected', host: { id: host.id, name: host.name }, sessionId: session.sessionId });
    return true;
  }

  /** Records a heartbeat (hot path: one map lookup, one evaluation). */
  heartbeat(hostId: string, at: number): void {
    const host = this.hosts.get(hostId);
    if (host === undefined) return;
    host.lastHeartbeatAt = at;
    if (host.state !== 'healthy' || host.failingChecks.length > 0) this.evaluateHost(host, at, 'heartbeat');
  }

  /** Records the names of the agent's failing checks from a health snapshot. */
  setFailingChecks(hostId: string, failing: string[]): void {
    const host = this.hosts.get(hostId);
    if (host === undefined) return;
    host.failingChecks = failing;
    this.evaluateHost(host, this.now(), failing.length > 0 ? `checks failing: ${failing.join(', ')}` : 'all checks pass');
  }

  /** Applies the state machine to every host; called by the ticker. */
  evaluateAll(): void {
    const now = this.now();
    const settled = this.grace?.settle(now);
    if (settled !== null && settled !== undefined) {
      this.grace = null;
      this.options.log.info(
        { away: settled.away, graceMs: now - settled.startedAt, lastReturnMs: settled.lastReturnAt === null ? null : settled.lastReturnAt - settled.startedAt },
        'restart grace over: hosts still away are judged by their last heartbeat',
      );
    }
    for (const host of this.hosts.values()) this.evaluateHost(host, now, 'heartbeat deadline');
  }

  /**
   * Starts the periodic evaluation. 250 ms keeps detection within deadline + 0.25 s. The first
   * start begins the restart grace {@link load} set up.
   */
  start(tickMs = 250): void {
    this.stop();
    this.grace?.begin(this.now());
    this.lastTickAt = null;
    this.timer = setInterval(() => {
      if (this.noteTick(tickMs)) this.evaluateAll();
    }, tickMs);
    this.timer.unref();
  }

  /**
   * Detects a stall of the controller's own event loop (a tick more than {@link STALL_MS} late: CPU
   * starvation, a reconnect storm's TLS handshakes, a long GC). Heartbeats that arrived meanwhile
   * are still unread in their sockets, so connected hosts get a pass of one `unreachableAfterMs`
   * from now before silence counts against them again, and this tick evaluates nothing. Returns
   * whether to evaluate. A host whose socket closed is not covered: its close was read.
   */
  noteTick(tickMs: number): boolean {
    const now = this.now();
    const last = this.lastTickAt;
    this.lastTickAt = now;
    if (last === null || now - last - tickMs <= STALL_MS) return true;
    this.stalls += 1;
    this.stallPassUntil = now + this.unreachableAfterMs;
    this.options.log.warn({ lateMs: now - last - tickMs, passMs: this.unreachableAfterMs }, 'controller event loop stalled: connected hosts are not marked unreachable until their queued heartbeats are read');
    return false;
  }

  stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }

  /** Sessions open now. */
  connectedCount(): number {
    let n = 0;
    for (const h of this.hosts.values()) if (h.session !== null) n += 1;
    return n;
  }

  /** Age in ms of the oldest last heartbeat among connected hosts (0 when none). */
  oldestHeartbeatAgeMs(): number {
    const now = this.now();
    let oldest = 0;
    for (const h of this.hosts.values()) {
      if (h.session !== null && h.lastHeartbeatAt !== null) oldest = Math.max(oldest, now - h.lastHeartbeatAt);
    }
    return oldest;
  }

  /** Count of hosts per state. */
  countByState(): Record<HostState, number> {
    const counts: Record<HostState, number> = { pending: 0, healthy: 0, degraded: 0, unreachable: 0 };
    for (const h of this.hosts.values()) counts[h.state] += 1;
    return counts;
  }

  private evaluateHost(host: LiveHost, now: number, reason: string): void {
    const next = nextHostState({
      current: host.state,
      connected: host.session !== null,
      lastHeartbeatAt: host.lastHeartbeatAt,
      failingChecks: host.failingChecks.length,
      now,
      unreachableAfterMs: this.unreachableAfterMs,
    });
    if (next === host.state) return;
    // After a stall of our own event loop, a connected host's heartbeats may be sitting unread in
    // its socket: not its silence, ours (see noteTick).
    if (next === 'unreachable' && host.session !== null && now < this.stallPassUntil) return;
    if (next === 'unreachable' && this.spared(host, now)) return;
    const from = host.state;
    host.state = next;
    host.stateSince = now;
    const why = next === 'unreachable' ? `no heartbeat for ${now - (host.lastHeartbeatAt ?? now)} ms` : reason;
    this.options.log.info({ host: host.name, from, to: next, reason: why }, 'host state changed');
    this.options.sink.transition({ hostId: host.id, name: host.name, from, to: next, at: now, reason: why });
    this.options.events?.emit({ type: 'host.state-changed', host: { id: host.id, name: host.name }, from, to: next, at: now, reason: why });
  }

  /**
   * Silence that is not the host's: it has not had its chance to reconnect since the controller
   * restarted (restart grace), or its agent connected less than `unreachableAfterMs` ago and its
   * first heartbeat may still be queued behind a reconnect storm's handshakes (its stored last
   * heartbeat predates the connection).
   */
  private spared(host: LiveHost, now: number): boolean {
    if (this.grace?.covers(host.id, now) === true) return true;
    const attached = host.session === null ? undefined : this.attachedAt.get(host.id);
    return attached !== undefined && now - attached <= this.unreachableAfterMs;
  }
}

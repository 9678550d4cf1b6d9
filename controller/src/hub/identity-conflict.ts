/**
 * Detects one agent identity (certificate and key) running on two machines at once (issue 16
 * point 5): a copied data dir. Both agents connect, each new connection replaces the other (the
 * newest wins, host-tracker.ts), both reconnect, and the host flips between them every few seconds.
 *
 * One replacement is normal (a partition heal; an agent restarted before its old connection timed
 * out). What a copy does and a single agent never does is replace a connection that is still alive
 * — it heartbeated within the unreachable deadline — with one from *another process* (another
 * agent session id: an agent keeps its id for its whole life, reconnects included) or another
 * address, again and again. More than `threshold` such contested replacements within `windowMs`
 * flag the host; the flag clears after `clearAfterMs` without one, or when the host is removed.
 *
 * In memory only, like the rest of the live view: after a controller restart a copy that is still
 * running is flagged again within a minute.
 */

/** Who is at the other end of a session, from its hello and its socket. */
export interface SessionPeer {
  /** The agent's own session id (hello.sessionId): one per agent process. */
  agentSessionId: string;
  address: string | null;
}

/** The flag on a host whose identity is in use by two agents. */
export interface IdentityConflict {
  /** When the host was flagged. */
  since: number;
  /** The latest contested replacement. */
  lastAt: number;
  /** Contested replacements seen since the flag was raised (including those that raised it). */
  replacements: number;
  /** The distinct addresses seen among the contested sessions (bounded), for the operator. */
  addresses: string[];
}

/** Thresholds of {@link IdentityConflicts}. */
export interface IdentityConflictPolicy {
  /** Contested replacements within `windowMs` that flag the host: more than this many. */
  threshold: number;
  windowMs: number;
  /** The flag clears after this long without a contested replacement. */
  clearAfterMs: number;
}

/**
 * Defaults: two agents on one identity replace each other every 1–3 s (reconnect backoff), so 4
 * contested replacements in a minute are reached within seconds; a single agent that restarts
 * makes one. Ten quiet minutes clear the flag (the copy was stopped).
 */
export const IDENTITY_CONFLICT_DEFAULTS: IdentityConflictPolicy = { threshold: 3, windowMs: 60_000, clearAfterMs: 600_000 };

const MAX_ADDRESSES = 8;

/** Per-host bookkeeping of contested replacements and the conflict flag. */
export class IdentityConflicts {
  private readonly recent = new Map<string, number[]>();
  private readonly flags = new Map<string, IdentityConflict>();

  constructor(private readonly policy: IdentityConflictPolicy = IDENTITY_CONFLICT_DEFAULTS) {}

  /** Whether a replacement of `previous` (alive or not) by `next` is contested. */
  static contested(previous: SessionPeer | undefined, next: SessionPeer | undefined, previousAlive: boolean): boolean {
    if (!previousAlive || previous === undefined || next === undefined) return false;
    return previous.agentSessionId !== next.agentSessionId || previous.address !== next.address;
  }

  /**
   * Records a contested replacement on `hostId` at `at`. Returns the flag when this one raised it
   * (the caller records the event and counts it), else null.
   */
  noteContested(hostId: string, at: number, peers: Array<string | null>): IdentityConflict | null {
    const current = this.get(hostId, at);
    if (current !== null) {
      current.lastAt = at;
      current.replacements += 1;
      addAddresses(current, peers);
      return null;
    }
    const times = (this.recent.get(hostId) ?? []).filter((t) => at - t < this.policy.windowMs);
    times.push(at);
    this.recent.set(hostId, times);
    if (times.length <= this.policy.threshold) return null;
    this.recent.delete(hostId);
    const flag: IdentityConflict = { since: at, lastAt: at, replacements: times.length, addresses: [] };
    addAddresses(flag, peers);
    this.flags.set(hostId, flag);
    return flag;
  }

  /** The host's flag, or null (also once it expired). */
  get(hostId: string, now: number): IdentityConflict | null {
    const flag = this.flags.get(hostId);
    if (flag === undefined) return null;
    if (now - flag.lastAt >= this.policy.clearAfterMs) {
      this.flags.delete(hostId);
      return null;
    }
    return flag;
  }

  /** Hosts flagged now. */
  count(now: number): number {
    let n = 0;
    for (const hostId of [...this.flags.keys()]) if (this.get(hostId, now) !== null) n += 1;
    return n;
  }

  /** Drops everything about a removed host (its re-join starts clean). */
  forget(hostId: string): void {
    this.recent.delete(hostId);
    this.flags.delete(hostId);
  }
}

function addAddresses(flag: IdentityConflict, peers: Array<string | null>): void {
  for (const a of peers) {
    if (a !== null && !flag.addresses.includes(a) && flag.addresses.length < MAX_ADDRESSES) flag.addresses.push(a);
  }
}

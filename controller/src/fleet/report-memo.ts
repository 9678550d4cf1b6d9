/**
 * What the store already holds of each host's reports, so that a report that changes nothing is not
 * written again (issue 15). Every agent sends its facts and connection at each connect and a health
 * snapshot every 15 s: after a controller restart that was 10,000 rewrites of multi-KB host rows in
 * one burst, and in steady state 667 row rewrites plus 667 history rows a second at 10,000 agents.
 *
 * - facts: written when their SHA-256 differs from what is stored (they change on hardware or
 *   address changes, i.e. almost never);
 * - connection (address, agent version, agent session): written when one of them differs;
 * - health: written at once when its checks differ (name, ok, message: what the state machine,
 *   alerts and the VIP act on), otherwise at most once per `healthRefreshMs`, so the stored load,
 *   memory and disk figures (and the history in `health_samples`) are at most that old.
 *
 * In memory only and seeded from the store at start, so a restart re-learns it; a write that
 * throws is not remembered, so the next report tries again.
 */
import { createHash } from 'node:crypto';
import type { Facts, Health } from '../../../shared/src/protocol/facts.js';

/** Options of {@link ReportMemo}. */
export interface ReportMemoOptions {
  /** A health snapshot with unchanged checks is stored at most this often (ms). */
  healthRefreshMs: number;
}

/** What a host's stored row says, for {@link ReportMemo.seed}. */
export interface StoredReports {
  id: string;
  facts: Facts | null;
  health: Health | null;
  address: string | null;
  agentVersion: string | null;
  sessionId: string | null;
}

/** A host's connection as the session reports it. */
export interface ConnectionReport {
  address: string | null;
  agentVersion: string | null;
  sessionId: string | null;
}

/** Default refresh of unchanged health: the history's design rate (health-samples.ts: "a sample a minute"). */
export const HEALTH_REFRESH_MS = 60_000;

/** See the file comment. Keys are opaque strings; callers pass them back to `mark*` after a committed write. */
export class ReportMemo {
  readonly #facts = new Map<string, string>();
  readonly #health = new Map<string, { checks: string; storedAt: number }>();
  readonly #connection = new Map<string, string>();

  constructor(private readonly opts: ReportMemoOptions) {}

  /** Learns what is stored; a stored snapshot counts as stored at its own time (never later than `now`). */
  seed(hosts: Iterable<StoredReports>, now: number): void {
    for (const h of hosts) {
      if (h.facts !== null) this.#facts.set(h.id, factsKey(h.facts));
      if (h.health !== null) this.#health.set(h.id, { checks: checksKey(h.health), storedAt: Math.min(now, h.health.ts) });
      this.#connection.set(h.id, connectionKey(h));
    }
  }

  /** The facts' key when they differ from the stored ones, else null (nothing to write). */
  factsToWrite(hostId: string, facts: Facts): string | null {
    const key = factsKey(facts);
    return this.#facts.get(hostId) === key ? null : key;
  }

  markFacts(hostId: string, key: string): void {
    this.#facts.set(hostId, key);
  }

  /** The connection's key when it differs from the stored one, else null. */
  connectionToWrite(hostId: string, connection: ConnectionReport): string | null {
    const key = connectionKey(connection);
    return this.#connection.get(hostId) === key ? null : key;
  }

  markConnection(hostId: string, key: string): void {
    this.#connection.set(hostId, key);
  }

  /** The checks' key when this snapshot is due (checks changed, or the stored one is old), else null. */
  healthToWrite(hostId: string, health: Health, at: number): string | null {
    const key = checksKey(health);
    const stored = this.#health.get(hostId);
    if (stored === undefined || stored.checks !== key || at - stored.storedAt >= this.opts.healthRefreshMs) return key;
    return null;
  }

  markHealth(hostId: string, key: string, at: number): void {
    this.#health.set(hostId, { checks: key, storedAt: at });
  }

  /** Forgets a removed host. */
  forget(hostId: string): void {
    this.#facts.delete(hostId);
    this.#health.delete(hostId);
    this.#connection.delete(hostId);
  }

  /** Hosts remembered (for tests and leak checks). */
  get size(): number {
    return this.#connection.size;
  }
}

function factsKey(facts: Facts): string {
  return createHash('sha256').update(JSON.stringify(facts)).digest('base64');
}

function checksKey(health: Health): string {
  return JSON.stringify(health.checks.map((c) => [c.name, c.ok, c.message]));
}

function connectionKey(c: ConnectionReport): string {
  return JSON.stringify([c.address, c.agentVersion, c.sessionId]);
}

/**
 * The host directory: the one place a host's view is assembled — stored identity, facts and health
 * (store.hosts) joined with the live state and session (the HostTracker). The run orchestrator's
 * targets, the cluster validator's hosts and the VIP service all read hosts through it, and
 * subscribe to its host events (fleet/events.ts) instead of being called from inside store writes.
 */
import type { HostState } from '../../../shared/src/api.js';
import type { Facts, Health } from '../../../shared/src/protocol/facts.js';
import type { HostTracker, LiveHost, SessionHandle } from '../hub/host-tracker.js';
import type { HostRecord, HostRepo } from '../store/hosts.js';
import { goArch } from './arch.js';
import type { HostEventListener, HostEventSource, HostEventType } from './events.js';

/** One enrolled host as callers see it; a snapshot (read again for fresh state). */
export interface HostView {
  readonly id: string;
  readonly name: string;
  /** Address of the agent's latest connection; null before the first. */
  readonly address: string | null;
  readonly agentVersion: string | null;
  readonly enrolledAt: number;
  /** Serial of the host's current certificate. */
  readonly certSerial: string;
  /** The tracker's state (it is live); the stored one only for a host it does not track. */
  readonly state: HostState;
  readonly stateSince: number;
  readonly lastHeartbeatAt: number | null;
  /** An agent session is open now (`session !== null`). */
  readonly connected: boolean;
  readonly session: SessionHandle | null;
  /** Go-style architecture from the facts; null before the agent reported them. */
  readonly arch: string | null;
  readonly facts: Facts | null;
  /** The latest health snapshot stored. */
  readonly health: Health | null;
  /** Names of the failing checks: the tracker's, else those of the stored snapshot. */
  readonly failingChecks: readonly string[];
}

/**
 * Every caller's way to find hosts and to hear what happens to them. Removed hosts are not listed
 * or found: the API and the runs must not act on them.
 */
export interface HostDirectory extends HostEventSource {
  /** Active hosts, ordered by name. */
  list(): HostView[];
  /** The active host named `name`, or null. */
  get(name: string): HostView | null;
  /** The active host with id `id`, or null. */
  getById(id: string): HostView | null;
  /** The open session of host `id`, or null: memory only (no store read), for request paths. */
  session(id: string): SessionHandle | null;
}

/** Where the directory reads stored hosts (store.hosts). */
export type HostInventory = Pick<HostRepo, 'getByName' | 'getById' | 'list'>;

/** Where it reads live state (the HostTracker). */
export type LiveHosts = Pick<HostTracker, 'get'>;

/** Options of {@link StoreHostDirectory}. */
export interface StoreHostDirectoryOptions {
  inventory: HostInventory;
  live: LiveHosts;
  /** The bus the tracker and the host reports emit on (fleet/fleet.ts). */
  events: HostEventSource;
}

/** The {@link HostDirectory} over the store and the tracker. */
export class StoreHostDirectory implements HostDirectory {
  readonly #inventory: HostInventory;
  readonly #live: LiveHosts;
  readonly #events: HostEventSource;

  constructor(options: StoreHostDirectoryOptions) {
    this.#inventory = options.inventory;
    this.#live = options.live;
    this.#events = options.events;
  }

  list(): HostView[] {
    return this.#inventory.list().map((record) => hostView(record, this.#live.get(record.id)));
  }

  get(name: string): HostView | null {
    const record = this.#inventory.getByName(name);
    return record === null ? null : hostView(record, this.#live.get(record.id));
  }

  getById(id: string): HostView | null {
    const record = this.#inventory.getById(id);
    return record === null ? null : hostView(record, this.#live.get(id));
  }

  session(id: string): SessionHandle | null {
    return this.#live.get(id)?.session ?? null;
  }

  on<K extends HostEventType>(type: K, listener: HostEventListener<K>): () => void {
    return this.#events.on(type, listener);
  }
}

/**
 * Joins a stored host with its live entry. The tracker wins where both know (it is live); a host
 * it does not track (only in tests: the controller loads every active host at start) shows what
 * was stored, not connected.
 */
export function hostView(record: HostRecord, live: LiveHost | undefined): HostView {
  const session = live?.session ?? null;
  return {
    id: record.id,
    name: record.name,
    address: record.address,
    agentVersion: record.agentVersion,
    enrolledAt: record.enrolledAt,
    certSerial: record.certSerial,
    state: live?.state ?? record.state,
    stateSince: live?.stateSince ?? record.stateSince,
    lastHeartbeatAt: live?.lastHeartbeatAt ?? record.lastHeartbeatAt,
    connected: session !== null,
    session,
    arch: record.facts === null ? null : goArch(record.facts.os.arch),
    facts: record.facts,
    health: record.health,
    failingChecks: live?.failingChecks ?? record.health?.checks.filter((c) => !c.ok).map((c) => c.name) ?? [],
  };
}

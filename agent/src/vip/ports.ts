/**
 * The VIP elector's ports: everything it touches outside its own memory. Real implementations
 * live in address.ts (ip/arping through the ExecPort) and store.ts (etcd); the unit tests use
 * hand-written fakes with a fake clock.
 */
import type { VipConfig } from './config.js';

/** One IPv4 address on the managed interface, as `ip -j addr show` reports it. */
export interface InterfaceAddress {
  address: string;
  prefixLength: number;
  /** Seconds left, or null for a permanent address ("forever"). */
  validLifetimeSeconds: number | null;
}

/** Adds, renews and removes the VIP on one interface. Calls are serialised by the elector. */
export interface AddressPort {
  /**
   * `ip addr replace ADDR/PREFIX dev IF valid_lft L preferred_lft L`: adds the address or, if
   * present, resets its lifetime to L seconds. `timeoutMs` bounds the command.
   */
  renew(opts: { timeoutMs: number }): Promise<void>;
  /** `ip addr del ADDR/PREFIX dev IF`; resolves false when it was not there. */
  remove(): Promise<boolean>;
  /** IPv4 addresses on the interface (`ip -j addr show dev IF`), validated. */
  list(): Promise<InterfaceAddress[]>;
}

/** Announces the address after an acquisition (gratuitous ARP). Must not block the election loop. */
export interface ArpPort {
  announce(): void;
}

/** The holder record, as stored at /ballast/vip/<name>/holder. */
export interface HolderRecord {
  host: string;
  /** Wall-clock ms when it acquired (for people; never used for timing). */
  since: number;
  /** Random per acquisition: lets a candidate recognise its own acquisition whose answer was lost. */
  nonce: string;
  /**
   * The fencing token: the key's create_revision. Every acquisition creates the key anew (a
   * takeover deletes it first), so the term is the etcd revision of that creation, which only grows.
   */
  term: string;
  /**
   * The key's mod_revision: changes with every heartbeat write of the holder. A candidate that
   * sees the same revision for `holdTimeoutMs` may delete the key (compare mod_revision).
   */
  revision: string;
}

/** A handover in progress, as stored at /ballast/vip/<name>/handover. */
export interface HandoverRecord {
  to: string;
  /** Wall-clock ms after which it is void (informational; the key also carries its own lease). */
  until: number;
}

/** What a candidate reads every poll. */
export interface ElectionView {
  holder: HolderRecord | null;
  handover: HandoverRecord | null;
}

/** What the holder key's value carries. */
export interface HolderValue {
  host: string;
  since: number;
  nonce: string;
  /** Heartbeat counter (the holder's writes; for people reading etcd). */
  beat: number;
}

/** The etcd side of the election; every call has a deadline (`timeoutMs`). */
export interface ElectionStore {
  read(timeoutMs: number): Promise<ElectionView>;
  /** Creates the holder key if absent: won (term = its create_revision) or the current holder. */
  tryAcquire(value: HolderValue, timeoutMs: number): Promise<{ won: true; term: string } | { won: false; holder: HolderRecord | null }>;
  /** The holder's heartbeat: rewrites the key only while its create_revision is still `term`. false: the key is gone or another term's. */
  beat(term: string, value: HolderValue, timeoutMs: number): Promise<boolean>;
  /** Deletes the holder key only if it is still that version: `{create: term}` (own release) or `{mod: revision}` (a stale holder). */
  deleteHolder(condition: { create: string } | { mod: string }, timeoutMs: number): Promise<boolean>;
  /** Writes the handover key attached to its own short lease. */
  writeHandover(record: HandoverRecord, ttlSeconds: number, timeoutMs: number): Promise<void>;
}

/** The local health verdict (after rise/fall). */
export interface HealthSignal {
  healthy(): boolean;
}

/** Monotonic milliseconds (performance.now in production) and wall-clock ms (Date.now). */
export interface Clock {
  now(): number;
  wallNow(): number;
}

/** What the elector reports. */
export type VipEventKind = 'vip.acquired' | 'vip.released' | 'vip.resigned' | 'vip.renew-failed' | 'vip.stale-removed';

/** Receives VIP events (wired to the controller session as protocol events). */
export type VipEventSink = (kind: VipEventKind, message: string, data: Record<string, unknown>) => void;

/** What `status()` reports (health snapshot, ballastctl, the controller). */
export interface VipStatus {
  state: 'idle' | 'candidate' | 'holder' | 'excluded' | 'unhealthy';
  /** The holder as last seen (this host while it holds). */
  holder: string | null;
  /** The holder's term (fencing token, decimal string). */
  term: string | null;
  /**
   * Holder only: how long no other host can take the VIP over at the least, counted from the send
   * of our last successful heartbeat (the name predates heartbeats; it was a lease's time left).
   */
  leaseLeftMs: number | null;
  lastRenewRttMs: number | null;
  healthy: boolean;
}

/** One host's elector (elector.ts). */
export interface VipElector {
  /** Removes a stale copy of the address, then starts the loop (`loop: false`: tests drive `step()` themselves). */
  start(opts?: { loop?: boolean }): Promise<void>;
  /** One pass; resolves with the ms until the next pass is due. */
  step(): Promise<number>;
  /** Graceful stop: a holder removes the address, then deletes its holder key. */
  stop(): Promise<void>;
  /** Stops without any clean-up, as SIGKILL would (tests; the kernel lifetime must then do the work). */
  abandon(): void;
  /** Holder only: hands the VIP to `target` (which campaigns at once; others defer). */
  handover(target: string): Promise<void>;
  /** Applies a config with the same election identity (health, candidate, poll interval). */
  update(config: VipConfig): void;
  /** The health verdict changed: a failing holder drops the address at once. */
  healthChanged(): void;
  status(): VipStatus;
}


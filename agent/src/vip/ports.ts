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

/** Announces the address after an acquisition (gratuitous ARP). Must not block the lease loop. */
export interface ArpPort {
  announce(): void;
}

/** The holder record, as stored at /ballast/vip/<name>/holder. */
export interface HolderRecord {
  host: string;
  /** Wall-clock ms when it acquired (for people; never used for timing). */
  since: number;
  /** The lease the key is attached to (decimal string). */
  lease: string;
  /**
   * The fencing token: the key's create_revision. Every acquisition creates the key anew, so the
   * term is the etcd revision of that creation, which only grows.
   */
  term: string;
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

/** The etcd side of the election; every call has a deadline (`timeoutMs`). */
export interface EtcdLeasePort {
  grant(ttlSeconds: number, timeoutMs: number): Promise<{ id: string; ttlSeconds: number }>;
  /** `ttlSeconds` 0: the lease is gone. */
  keepAlive(id: string, timeoutMs: number): Promise<{ ttlSeconds: number }>;
  revoke(id: string, timeoutMs: number): Promise<void>;
  read(timeoutMs: number): Promise<ElectionView>;
  /** Creates the holder key with `lease` if absent: won (with the term) or the current holder. */
  tryAcquire(record: { host: string; since: number }, lease: string, timeoutMs: number): Promise<{ won: true; term: string } | { won: false; holder: HolderRecord | null }>;
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
  /** Holder only: how long etcd keeps the lease at least, counted from our last successful send. */
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
  /** Graceful stop: a holder removes the address, then revokes its lease. */
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


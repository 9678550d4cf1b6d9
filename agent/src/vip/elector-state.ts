/**
 * The elector's state, as one discriminated union instead of loose variables: what is true of a
 * candidate (when it first saw the holder key's version, an acquisition whose answer may be lost)
 * is simply absent while holding, and what a holder needs (its term, the send time of its last
 * heartbeat) cannot exist without a holding. The sides (candidate.ts, holder.ts) share one
 * {@link ElectorContext}; only they replace `ctx.state`.
 */
import type { Logger } from 'pino';
import { KERNEL_EXPIRY_SLACK_MS, type VipConfig } from './config.js';
import type { Clock, ElectionStore, ElectionView, HealthSignal, VipEventKind } from './ports.js';

/** Consecutive failures to add/renew the address before a holder gives the VIP up. */
export const MAX_ADDRESS_FAILURES = 3;
/** Excluded or unhealthy hosts still read the election this often, for status. */
export const IDLE_POLL_MS = 1_000;
/**
 * The target of a handover reads this often until the old holder's key is gone (a few reads:
 * the holder removes its address and deletes the key right after writing the handover).
 */
export const HANDOVER_POLL_MS = 10;

/**
 * The holder key's version as this host first saw it, and when (monotonic, taken after the read
 * returned — never before the write it shows was applied). Unchanged for the hold timeout → stale.
 */
export interface SeenHolder {
  revision: string;
  at: number;
}

/** An acquisition whose answer may have been lost: recognised by its nonce at the next read. */
export interface PendingAcquisition {
  nonce: string;
  since: number;
  sentAt: number;
}

/** Not holding: reads the election and campaigns when it may. */
export interface CandidateState {
  role: 'candidate';
  seen: SeenHolder | null;
  pending: PendingAcquisition | null;
  /** Monotonic time of the next read. */
  nextPollAt: number;
  /** A holder that lost the VIP for failing renewals sits out one hold timeout, so a healthy host gets it. */
  campaignNotBefore: number;
  /** The last read failed (its warning is logged once until etcd answers again). */
  readFailing: boolean;
}

/** Holding the VIP under `term`. */
export interface HolderState {
  role: 'holder';
  /** The fencing token: the holder key's create_revision. */
  term: string;
  since: number;
  nonce: string;
  beat: number;
  /**
   * Monotonic time we SENT the last successful heartbeat (or the acquiring create): no candidate
   * can take over before this + holdTimeoutMs (README.md, the proof).
   */
  beatSentAt: number;
  nextBeatAt: number;
  /** The health check failed while holding; the next step resigns even if it passes again meanwhile. */
  resignPending: boolean;
  /** Renewals are failing (the warning and the event are sent once until one succeeds). */
  renewFailing: boolean;
}

/** What the elector is doing in the election (its lifecycle is the loop's, elector-loop.ts). */
export type ElectorState = CandidateState | HolderState;

/** A fresh candidate: nothing seen yet, may campaign from `campaignNotBefore` (0: at once). */
export function candidateState(campaignNotBefore = 0): CandidateState {
  return { role: 'candidate', seen: null, pending: null, nextPollAt: 0, campaignNotBefore, readFailing: false };
}

/** What the candidate and holder sides share: the ports, the config, the state and the last view. */
export interface ElectorContext {
  readonly host: string;
  readonly clock: Clock;
  readonly store: ElectionStore;
  readonly health: HealthSignal;
  readonly log: Logger;
  /** Fixed for the elector's life: `update()` only accepts a config of the same election identity. */
  readonly holdMs: number;
  cfg: VipConfig;
  state: ElectorState;
  /** The election as last read (or as this host changed it): `status()` never waits on etcd. */
  view: ElectionView;
  lastRenewRttMs: number | null;
  readonly onRenew: ((rttMs: number) => void) | undefined;
  /** True after `abandon()`: nothing more may touch the address or report. */
  halted(): boolean;
  emit(kind: VipEventKind, message: string, data?: Record<string, unknown>): void;
}

/**
 * The holder's own deadline: past it, a candidate may already have taken over (minus the kernel's
 * slack, so the state machine agrees with the kernel; README.md, "Together").
 */
export function holdDeadline(ctx: ElectorContext, h: HolderState): number {
  return h.beatSentAt + ctx.holdMs - KERNEL_EXPIRY_SLACK_MS;
}

/**
 * The holder side of the elector: the heartbeat, the address renewal after each one (through the
 * address guard), and the three ways a holding ends — released on purpose, resigned for health,
 * lost (key taken, or its own deadline passed). README.md, "The loop", has the rules.
 */
import { messageOf } from '../../../shared/src/errors.js';
import { OTHER_CALL_TIMEOUT_MS, RENEW_CALL_TIMEOUT_MS } from './config.js';
import type { AddressGuard } from './address-guard.js';
import { type CandidateState, candidateState, type ElectorContext, type HolderState, holdDeadline } from './elector-state.js';
import type { VipEventKind } from './ports.js';

/** What a fresh holding starts from (the acquiring create's answer, or an adopted one). */
export interface Acquisition {
  term: string;
  since: number;
  nonce: string;
  /** Monotonic send time of the acquiring create: the holding is counted from it. */
  sentAt: number;
}

/** The holder's operations, used by the loop, the candidate side (on winning) and the public API. */
export interface HolderSide {
  /** One holder pass: give up if we must, otherwise heartbeat when due and renew the address. */
  step(h: HolderState): Promise<void>;
  /** Becomes the holder; the first heartbeat is due at `nextBeatAt`. */
  acquire(a: Acquisition, message: string, nextBeatAt: number): HolderState;
  /** Won by a create whose answer arrived: renews the address at once (within the budget of its send). */
  won(a: Acquisition): Promise<void>;
  /**
   * Gives the VIP up on purpose: address first, then the holder key (so the next holder, which
   * can only win after the delete, never overlaps with us). If the removal failed, the key is NOT
   * deleted: letting it go stale keeps the timing proof (the unrenewed address dies first).
   */
  release(reason: string, kind: VipEventKind, message: string): Promise<void>;
  /** Renewals are failing; logged and reported once per holding until one succeeds. */
  renewFailed(message: string, data?: Record<string, unknown>): void;
}

/** Creates the holder side over the shared context and the address guard. */
export function createHolderSide(ctx: ElectorContext, guard: AddressGuard): HolderSide {
  const { clock, store, host, log } = ctx;
  const current = (): HolderState | null => (ctx.state.role === 'holder' ? ctx.state : null);

  function renewFailed(message: string, data: Record<string, unknown> = {}): void {
    const h = current();
    if (h?.renewFailing) {
      log.debug(data, message);
      return;
    }
    if (h !== null) h.renewFailing = true;
    log.warn(data, message);
    ctx.emit('vip.renew-failed', message, { term: h?.term, ...data });
  }

  /** After a successful heartbeat (or create) sent at `sentAt`: the guard decides whether the address may be renewed. */
  async function renew(h: HolderState, sentAt: number): Promise<void> {
    const outcome = await guard.renew(sentAt);
    if (outcome.kind === 'renewed') {
      if (h.renewFailing) log.info({ term: h.term }, 'VIP renewals are healthy again');
      h.renewFailing = false;
    } else if (outcome.kind === 'give-up') {
      await release('address', 'vip.released', `could not add the address ${outcome.failures} times in a row`);
    }
  }

  /** Ends the holding: the address goes first (the guard stops queued renewals), then the state. */
  async function endHolding(reason: string): Promise<CandidateState> {
    guard.suppress();
    await guard.remove(reason);
    // A candidate again, reading at once: the view it has is of its own holding.
    const next = candidateState();
    ctx.state = next;
    ctx.view = { ...ctx.view, holder: null };
    return next;
  }

  async function release(reason: string, kind: VipEventKind, message: string): Promise<void> {
    const h = current();
    if (h === null) return;
    const term = h.term;
    await endHolding(reason);
    // INVARIANT: the key goes only once no copy of the address can exist (a failed removal leaves
    // it to go stale, and the unrenewed address dies first).
    if (guard.mayDelete()) {
      await store.deleteHolder({ create: term }, OTHER_CALL_TIMEOUT_MS).catch((err: unknown) => log.warn({ err: messageOf(err) }, 'failed to delete the VIP holder key; it will go stale'));
    }
    log.info({ reason, term }, message);
    ctx.emit(kind, message, { reason, term });
  }

  /** The key was taken or could not be rewritten in time: the address goes, the key is left alone. */
  async function lose(h: HolderState, reason: string, message: string): Promise<void> {
    const term = h.term;
    const next = await endHolding(reason);
    // Sits out one hold timeout (counted once the address is gone), so a healthy host gets the VIP.
    next.campaignNotBefore = clock.now() + ctx.holdMs;
    log.warn({ reason, term }, message);
    ctx.emit('vip.released', message, { reason, term });
  }

  async function step(h: HolderState): Promise<void> {
    const cfg = ctx.cfg;
    if (!cfg.candidate) return release('excluded', 'vip.released', 'released the VIP: this host is no longer a candidate');
    if (h.resignPending || !ctx.health.healthy()) {
      h.resignPending = false;
      return release('health', 'vip.resigned', 'resigned the VIP: the health check fails');
    }
    if (clock.now() >= holdDeadline(ctx, h)) return lose(h, 'deadline', 'lost the VIP: its heartbeat could not be written before its deadline');
    if (clock.now() < h.nextBeatAt) return;
    const sentAt = clock.now();
    const beat = h.beat + 1;
    let ok: boolean;
    try {
      // Never waits past our own deadline: a late answer could not renew anything anyway.
      const timeoutMs = Math.max(1, Math.min(RENEW_CALL_TIMEOUT_MS, holdDeadline(ctx, h) - sentAt));
      ok = await store.beat(h.term, { host, since: h.since, nonce: h.nonce, beat }, timeoutMs);
    } catch (err) {
      renewFailed(`failed to write the VIP heartbeat: ${messageOf(err)}`);
      h.nextBeatAt = clock.now() + cfg.pollIntervalMs;
      return;
    }
    if (ctx.halted() || ctx.state !== h) return;
    ctx.lastRenewRttMs = clock.now() - sentAt;
    ctx.onRenew?.(ctx.lastRenewRttMs);
    if (!ok) return lose(h, 'taken', 'lost the VIP: its holder key is gone or belongs to another term');
    h.beat = beat;
    h.beatSentAt = sentAt;
    h.nextBeatAt = sentAt + ctx.cfg.renewIntervalMs;
    await renew(h, sentAt);
  }

  function acquire(a: Acquisition, message: string, nextBeatAt: number): HolderState {
    const h: HolderState = { role: 'holder', term: a.term, since: a.since, nonce: a.nonce, beat: 0, beatSentAt: a.sentAt, nextBeatAt, resignPending: false, renewFailing: false };
    ctx.state = h;
    ctx.view = { ...ctx.view, holder: { host, since: a.since, nonce: a.nonce, term: a.term, revision: a.term } };
    guard.arm();
    log.info({ term: a.term }, message);
    ctx.emit('vip.acquired', `${message} (term ${a.term})`, { term: a.term });
    return h;
  }

  async function won(a: Acquisition): Promise<void> {
    const h = acquire(a, 'won the VIP election', a.sentAt + ctx.cfg.renewIntervalMs);
    await renew(h, a.sentAt);
    // If that was too slow to add the address, write a heartbeat at once: its answer may allow it.
    if (!guard.present()) h.nextBeatAt = clock.now();
  }

  return { step, acquire, won, release, renewFailed };
}

/**
 * The candidate side of the elector: reads the election every poll, measures the holder key's
 * staleness from its own first sight of it, takes a stale key over, campaigns, and adopts an
 * acquisition whose answer was lost. README.md, "The loop" and "etcd side", has the rules.
 */
import { messageOf } from '../../../shared/src/errors.js';
import { OTHER_CALL_TIMEOUT_MS } from './config.js';
import type { AddressGuard } from './address-guard.js';
import { type CandidateState, type ElectorContext, HANDOVER_POLL_MS, IDLE_POLL_MS } from './elector-state.js';
import type { HolderSide } from './holder.js';
import type { HandoverRecord, HolderRecord } from './ports.js';
import { newNonce } from './store.js';

/** The candidate's one operation: a pass of the loop while not holding. */
export interface CandidateSide {
  step(c: CandidateState): Promise<void>;
}

/** Creates the candidate side; winning hands over to `holder`. */
export function createCandidateSide(ctx: ElectorContext, guard: AddressGuard, holder: HolderSide): CandidateSide {
  const { clock, store, host, log } = ctx;
  /** A live handover record (its lease may outlast `until` by up to a second). */
  const live = (ho: HandoverRecord | null): ho is HandoverRecord => ho !== null && ho.until > clock.wallNow();

  /** Staleness bookkeeping: when this host first saw the holder key's current version. */
  function noteHolder(c: CandidateState, h: HolderRecord | null, readAt: number): void {
    if (h === null) c.seen = null;
    else if (c.seen === null || c.seen.revision !== h.revision) c.seen = { revision: h.revision, at: readAt };
  }

  /** Reads the election; false when etcd did not answer (warned once until it does again). */
  async function read(c: CandidateState): Promise<boolean> {
    try {
      ctx.view = await store.read(OTHER_CALL_TIMEOUT_MS);
      if (c.readFailing) log.info('etcd answers again');
      c.readFailing = false;
      return true;
    } catch (err) {
      if (!c.readFailing) log.warn({ err: messageOf(err) }, 'failed to read the VIP election; retrying');
      c.readFailing = true;
      return false;
    }
  }

  async function campaign(c: CandidateState): Promise<void> {
    const attempt = { nonce: newNonce(), since: clock.wallNow(), sentAt: clock.now() };
    // Kept until the next successful read when the answer does not come: the create may have happened.
    c.pending = attempt;
    const r = await store.tryAcquire({ host, since: attempt.since, nonce: attempt.nonce, beat: 0 }, OTHER_CALL_TIMEOUT_MS);
    c.pending = null;
    if (!r.won) {
      ctx.view = { ...ctx.view, holder: r.holder };
      return;
    }
    await holder.won({ term: r.term, since: attempt.since, nonce: attempt.nonce, sentAt: attempt.sentAt });
  }

  /**
   * INVARIANT: a holder key is taken over only once the version we saw has stood for the whole
   * hold timeout, counted from when we first saw it, and only that version (compare mod_revision).
   * Returns true when the key is gone and we may campaign.
   */
  async function takeOver(c: CandidateState, h: HolderRecord): Promise<boolean> {
    const staleFor = c.seen === null ? 0 : clock.now() - c.seen.at;
    if (staleFor < ctx.holdMs) {
      const ho = ctx.view.handover;
      // Handed the VIP: the holder is releasing it right now; be there the moment its key goes.
      if (live(ho) && ho.to === host) c.nextPollAt = Math.min(c.nextPollAt, clock.now() + HANDOVER_POLL_MS);
      return false;
    }
    const deleted = await store.deleteHolder({ mod: h.revision }, OTHER_CALL_TIMEOUT_MS).catch((err: unknown) => {
      log.warn({ err: messageOf(err) }, 'failed to take over a stale VIP holder; retrying');
      return false;
    });
    if (!deleted) return false;
    log.warn({ stale: h.host, term: h.term, staleForMs: Math.round(staleFor) }, `${h.host} wrote no VIP heartbeat for ${Math.round(staleFor)} ms: took its holder key over`);
    ctx.view = { ...ctx.view, holder: null };
    c.seen = null;
    return true;
  }

  async function step(c: CandidateState): Promise<void> {
    if (clock.now() < c.nextPollAt) return;
    const active = ctx.cfg.candidate && ctx.health.healthy();
    c.nextPollAt = clock.now() + (active ? ctx.cfg.pollIntervalMs : IDLE_POLL_MS);
    if (!(await read(c))) return;
    // After the answer arrived: the version it shows was written before this instant.
    const h = ctx.view.holder;
    noteHolder(c, h, clock.now());
    const lost = c.pending;
    c.pending = null;
    if (h !== null && lost !== null && h.host === host && h.nonce === lost.nonce) {
      // Our acquisition's answer was lost but it went through: adopt it, write a heartbeat at once
      // (the address is only added after one succeeds). Counted from the create's send.
      holder.acquire({ term: h.term, since: lost.since, nonce: lost.nonce, sentAt: lost.sentAt }, 'confirmed a VIP acquisition whose answer was lost', clock.now());
      return;
    }
    if (h !== null && h.host === host && guard.mayDelete()) {
      // Our own earlier holding (a restarted agent, or a holding this elector lost): the address
      // is gone (removed at start / on loss), so deleting that key only speeds the election up.
      log.info({ term: h.term }, 'deleting the holder key an earlier holding of this host left behind');
      await store.deleteHolder({ create: h.term }, OTHER_CALL_TIMEOUT_MS).catch((err: unknown) => log.warn({ err: messageOf(err) }, 'failed to delete a stale holder key'));
      c.nextPollAt = clock.now();
      return;
    }
    if (!active || clock.now() < c.campaignNotBefore) return;
    if (h !== null && !(await takeOver(c, h))) return;
    const ho = ctx.view.handover;
    if (live(ho) && ho.to !== host) return; // a handover to someone else
    try {
      await campaign(c);
    } catch (err) {
      log.warn({ err: messageOf(err) }, 'failed to campaign for the VIP; retrying');
    }
  }

  return { step };
}

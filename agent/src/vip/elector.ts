/**
 * The VIP elector: one host's side of the heartbeat election for one VIP. The reasoning (and the
 * timing proof that no two hosts ever hold the address) is in README.md next to this file; the
 * rules it relies on are marked "INVARIANT" below.
 *
 * Pure apart from its ports: time comes from {@link Clock}, etcd from {@link ElectionStore}, the
 * address from {@link AddressPort}. `step()` does one pass and says when it wants the next; the
 * loop driver calls it, and so do the unit tests with a fake clock.
 */
import type { Logger } from 'pino';
import { BallastError, messageOf } from '../../../shared/src/errors.js';
import { KERNEL_EXPIRY_SLACK_MS, MIN_EXEC_MARGIN_MS, OTHER_CALL_TIMEOUT_MS, RENEW_CALL_TIMEOUT_MS, type VipConfig } from './config.js';
import { createSerialQueue } from './serial.js';
import type { AddressPort, ArpPort, Clock, ElectionStore, ElectionView, HealthSignal, HolderRecord, VipElector, VipEventKind, VipEventSink, VipStatus } from './ports.js';
import { newNonce } from './store.js';

export type { VipElector, VipStatus } from './ports.js';

/** Options of {@link createVipElector}. */
export interface VipElectorOptions {
  config: VipConfig;
  /** This host's name as the cluster knows it; stored in the holder key. */
  host: string;
  address: AddressPort;
  arp: ArpPort;
  store: ElectionStore;
  health: HealthSignal;
  clock: Clock;
  log: Logger;
  onEvent: VipEventSink;
  /** Called with the round trip of every successful heartbeat (the manager keeps a window of them). */
  onRenew?: (rttMs: number) => void;
}

/** Consecutive failures to add/renew the address before a holder gives the VIP up. */
const MAX_ADDRESS_FAILURES = 3;
/** Excluded or unhealthy hosts still read the election this often, for status. */
const IDLE_POLL_MS = 1_000;
/**
 * The target of a handover reads this often until the old holder's key is gone (a few reads:
 * the holder removes its address and deletes the key right after writing the handover).
 */
const HANDOVER_POLL_MS = 10;

/** What this elector holds. */
interface Holding {
  term: string;
  since: number;
  nonce: string;
  beat: number;
  /**
   * Monotonic time we SENT the last successful heartbeat (or the acquiring create): no candidate
   * can take over before this + holdTimeoutMs (README.md, the proof).
   */
  beatSentAt: number;
}

/** An acquisition whose answer may have been lost: recognised by its nonce at the next read. */
interface Pending {
  nonce: string;
  since: number;
  sentAt: number;
}

/** Creates an elector; nothing happens until `start()` (or `step()` in tests). */
export function createVipElector(opts: VipElectorOptions): VipElector {
  let cfg = opts.config;
  const { clock, store, address, host } = opts;
  const log = opts.log.child({ component: 'vip', vip: cfg.name });
  const holdMs = cfg.holdTimeoutMs;

  let holding: Holding | null = null;
  let pending: Pending | null = null;
  /**
   * The holder key's version as this host first saw it, and when (monotonic, taken after the read
   * returned — never before the write it shows was applied). Unchanged for holdMs → stale.
   */
  let seen: { revision: string; at: number } | null = null;
  let view: ElectionView = { holder: null, handover: null };
  let nextBeatAt = 0;
  let nextPollAt = 0;
  let lastRenewRttMs: number | null = null;
  let addressPresent = false;
  /** When the address was last renewed (monotonic); after a lifetime without renewal it is gone. */
  let lastAddressRenewAt = Number.NEGATIVE_INFINITY;
  /** A holder that lost the VIP for failing renewals sits out one hold timeout, so a healthy host gets it. */
  let campaignNotBefore = 0;
  let addressFailures = 0;
  let renewFailing = false;
  let readFailing = false;
  /** Set while resigning/releasing: queued renewals must not re-add the address. */
  let suppressed = false;
  /** The health check failed while holding; the next step resigns even if it passes again meanwhile. */
  let resignPending = false;
  /**
   * Until then a copy of the address may still exist (a renewal or removal failed, or a previous
   * agent's address at start): no holder key of ours may be deleted before, since a delete lets
   * the next holder in at once. 0 when the address is known to be gone.
   */
  let addressMayLiveUntil = 0;
  const addressLifetimeMs = cfg.addressLifetimeSeconds * 1000 + KERNEL_EXPIRY_SLACK_MS;
  let started = false;
  /** True when start() runs the loop itself (false in tests that call step()). */
  let looping = false;
  let stopped = true;
  let halted = false;
  let timer: NodeJS.Timeout | null = null;
  /** step/handover/stop run one at a time. */
  const exclusive = createSerialQueue();
  /**
   * INVARIANT: address operations run one at a time, in the order issued. A removal issued while
   * a renewal is in flight therefore lands after it, never before (two `ip` processes racing
   * could otherwise re-add the address after it was removed).
   */
  const addressOp = createSerialQueue();

  const emit = (kind: VipEventKind, message: string, data: Record<string, unknown> = {}) => {
    if (halted) return;
    opts.onEvent(kind, message, { vip: cfg.name, address: `${cfg.address}/${cfg.prefixLength}`, host, ...data });
  };

  const holdDeadline = () => (holding === null ? 0 : holding.beatSentAt + holdMs - KERNEL_EXPIRY_SLACK_MS);

  /** Removes the address; false when that failed (then the holder key must be left to go stale, see release). */
  async function removeAddress(why: string): Promise<boolean> {
    try {
      const removed = await addressOp(() => address.remove());
      addressPresent = false;
      addressMayLiveUntil = 0;
      if (removed) log.info({ why }, `removed ${cfg.address}/${cfg.prefixLength} from ${cfg.interface}`);
      return true;
    } catch (err) {
      log.error({ err: messageOf(err), why }, 'failed to remove the VIP; its kernel lifetime will remove it');
      addressMayLiveUntil = Math.max(addressMayLiveUntil, clock.now() + addressLifetimeMs);
      return false;
    }
  }

  function renewFailed(message: string, data: Record<string, unknown> = {}): void {
    if (renewFailing) {
      log.debug(data, message);
      return;
    }
    renewFailing = true;
    log.warn(data, message);
    emit('vip.renew-failed', message, { term: holding?.term, ...data });
  }

  /**
   * INVARIANT (the heart of the timing proof): the address is added or renewed only right after
   * a successful acquisition/heartbeat SENT at `sentAt`, only if we are still within maxRenewRttMs of
   * that send, and the kernel must have taken the renewal by sentAt + renewBudgetMs. A renewal
   * that finishes later is undone at once.
   */
  async function renewAddress(sentAt: number): Promise<void> {
    if (clock.now() - sentAt > cfg.maxRenewRttMs) {
      renewFailed(`heartbeat answered too slowly (${Math.round(clock.now() - sentAt)} ms > maxRenewRttMs ${cfg.maxRenewRttMs}); address not renewed`);
      return;
    }
    const budgetEnd = sentAt + cfg.renewBudgetMs;
    try {
      await addressOp(async () => {
        if (suppressed || halted) return;
        // Checked again right before the spawn: the queue may have held us behind a slow removal.
        const left = budgetEnd - clock.now();
        if (left < MIN_EXEC_MARGIN_MS / 2) throw new BallastError('BALLAST_ERR_COMMAND_TIMEOUT', `only ${Math.round(left)} ms of the renewal budget left; not renewing`);
        await address.renew({ timeoutMs: Math.floor(left) });
      });
    } catch (err) {
      // A timed-out `ip` may have renewed the address just before it was killed.
      addressMayLiveUntil = Math.max(addressMayLiveUntil, clock.now() + addressLifetimeMs);
      addressFailures += 1;
      renewFailed(`failed to add the VIP: ${messageOf(err)}`, { attempt: addressFailures });
      await removeAddress('renewal failed or timed out');
      if (addressFailures >= MAX_ADDRESS_FAILURES) await release('address', 'vip.released', `could not add the address ${addressFailures} times in a row`);
      return;
    }
    addressMayLiveUntil = Math.max(addressMayLiveUntil, clock.now() + addressLifetimeMs);
    if (suppressed || halted || holding === null) return;
    if (clock.now() > budgetEnd) {
      renewFailed(`address renewal finished ${Math.round(clock.now() - budgetEnd)} ms past its safe budget; address removed`);
      await removeAddress('late renewal');
      return;
    }
    addressFailures = 0;
    if (renewFailing) log.info({ term: holding.term }, 'VIP renewals are healthy again');
    renewFailing = false;
    // Newly added (or re-added after the kernel dropped it during slow renewals): announce it.
    const readded = !addressPresent || clock.now() - lastAddressRenewAt >= cfg.addressLifetimeSeconds * 1000;
    addressPresent = true;
    lastAddressRenewAt = clock.now();
    if (readded) opts.arp.announce();
  }

  /**
   * Gives the VIP up on purpose: address first, then the holder key (so the next holder, which
   * can only win after the delete, never overlaps with us). If the removal failed, the key is NOT
   * deleted: letting it go stale keeps the timing proof (the unrenewed address dies first).
   */
  async function release(reason: string, kind: VipEventKind, message: string): Promise<void> {
    if (holding === null) return;
    const term = holding.term;
    suppressed = true;
    await removeAddress(reason);
    holding = null;
    view = { ...view, holder: null };
    if (mayDelete()) {
      await store.deleteHolder({ create: term }, OTHER_CALL_TIMEOUT_MS).catch((err: unknown) => log.warn({ err: messageOf(err) }, 'failed to delete the VIP holder key; it will go stale'));
    }
    log.info({ reason, term }, message);
    emit(kind, message, { reason, term });
  }

  /** True when no copy of the address can exist any more, so deleting our holder key cannot cause overlap. */
  function mayDelete(): boolean {
    return addressMayLiveUntil === 0 || clock.now() > addressMayLiveUntil;
  }

  /** The key was taken or could not be rewritten in time: the address goes, the key is left alone. */
  async function lose(reason: string, message: string): Promise<void> {
    if (holding === null) return;
    const term = holding.term;
    suppressed = true;
    await removeAddress(reason);
    holding = null;
    view = { ...view, holder: null };
    campaignNotBefore = clock.now() + holdMs;
    log.warn({ reason, term }, message);
    emit('vip.released', message, { reason, term });
  }

  async function holderStep(): Promise<void> {
    if (!cfg.candidate) return release('excluded', 'vip.released', 'released the VIP: this host is no longer a candidate');
    if (resignPending || !opts.health.healthy()) {
      resignPending = false;
      return release('health', 'vip.resigned', 'resigned the VIP: the health check fails');
    }
    if (clock.now() >= holdDeadline()) return lose('deadline', 'lost the VIP: its heartbeat could not be written before its deadline');
    if (clock.now() < nextBeatAt || holding === null) return;
    const h = holding;
    const sentAt = clock.now();
    const beat = h.beat + 1;
    let ok: boolean;
    try {
      ok = await store.beat(h.term, { host, since: h.since, nonce: h.nonce, beat }, Math.max(1, Math.min(RENEW_CALL_TIMEOUT_MS, holdDeadline() - sentAt)));
    } catch (err) {
      renewFailed(`failed to write the VIP heartbeat: ${messageOf(err)}`);
      nextBeatAt = clock.now() + cfg.pollIntervalMs;
      return;
    }
    if (halted || holding !== h) return;
    lastRenewRttMs = clock.now() - sentAt;
    opts.onRenew?.(lastRenewRttMs);
    if (!ok) return lose('taken', 'lost the VIP: its holder key is gone or belongs to another term');
    h.beat = beat;
    h.beatSentAt = sentAt;
    nextBeatAt = sentAt + cfg.renewIntervalMs;
    await renewAddress(sentAt);
  }

  async function campaign(): Promise<void> {
    const attempt: Pending = { nonce: newNonce(), since: clock.wallNow(), sentAt: clock.now() };
    // Kept until the next successful read when the answer does not come: the create may have happened.
    pending = attempt;
    const r = await store.tryAcquire({ host, since: attempt.since, nonce: attempt.nonce, beat: 0 }, OTHER_CALL_TIMEOUT_MS);
    pending = null;
    if (!r.won) {
      view = { ...view, holder: r.holder };
      return;
    }
    acquired({ term: r.term, since: attempt.since, nonce: attempt.nonce, beat: 0, beatSentAt: attempt.sentAt }, 'won the VIP election');
    nextBeatAt = attempt.sentAt + cfg.renewIntervalMs;
    await renewAddress(attempt.sentAt);
    // If that was too slow to add the address, write a heartbeat at once: its answer may allow it.
    if (!addressPresent) nextBeatAt = clock.now();
  }

  function acquired(h: Holding, message: string): void {
    holding = h;
    const { term, since } = h;
    seen = null;
    resignPending = false;
    view = { ...view, holder: { host, since, nonce: h.nonce, term, revision: term } };
    suppressed = false;
    renewFailing = false;
    addressFailures = 0;
    log.info({ term }, message);
    emit('vip.acquired', `${message} (term ${term})`, { term });
  }

  /** Staleness bookkeeping: when this host first saw the holder key's current version. */
  function noteHolder(h: HolderRecord | null, readAt: number): void {
    if (h === null) seen = null;
    else if (seen === null || seen.revision !== h.revision) seen = { revision: h.revision, at: readAt };
  }

  async function candidateStep(): Promise<void> {
    if (clock.now() < nextPollAt) return;
    const active = cfg.candidate && opts.health.healthy();
    nextPollAt = clock.now() + (active ? cfg.pollIntervalMs : IDLE_POLL_MS);
    try {
      view = await store.read(OTHER_CALL_TIMEOUT_MS);
      if (readFailing) log.info('etcd answers again');
      readFailing = false;
    } catch (err) {
      if (!readFailing) log.warn({ err: messageOf(err) }, 'failed to read the VIP election; retrying');
      readFailing = true;
      return;
    }
    // After the answer arrived: the version it shows was written before this instant.
    const readAt = clock.now();
    const h = view.holder;
    noteHolder(h, readAt);
    const lost = pending;
    pending = null;
    if (h !== null && lost !== null && h.host === host && h.nonce === lost.nonce) {
      // Our acquisition's answer was lost but it went through: adopt it, write a heartbeat at once
      // (the address is only added after one succeeds). Counted from the create's send.
      acquired({ term: h.term, since: lost.since, nonce: lost.nonce, beat: 0, beatSentAt: lost.sentAt }, 'confirmed a VIP acquisition whose answer was lost');
      nextBeatAt = clock.now();
      return;
    }
    if (h !== null && h.host === host && mayDelete()) {
      // Our own earlier holding (a restarted agent, or a holding this elector lost): the address
      // is gone (removed at start / on loss), so deleting that key only speeds the election up.
      log.info({ term: h.term }, 'deleting the holder key an earlier holding of this host left behind');
      await store.deleteHolder({ create: h.term }, OTHER_CALL_TIMEOUT_MS).catch((err: unknown) => log.warn({ err: messageOf(err) }, 'failed to delete a stale holder key'));
      nextPollAt = clock.now();
      return;
    }
    if (!active || clock.now() < campaignNotBefore) return;
    if (h !== null) {
      // INVARIANT: a holder key is taken over only once the version we saw has stood for the whole
      // hold timeout, counted from when we first saw it, and only that version (compare mod_revision).
      const staleFor = seen === null ? 0 : clock.now() - seen.at;
      if (staleFor < holdMs) {
        const ho = view.handover;
        // Handed the VIP: the holder is releasing it right now; be there the moment its key goes.
        if (ho !== null && ho.to === host && ho.until > clock.wallNow()) nextPollAt = Math.min(nextPollAt, clock.now() + HANDOVER_POLL_MS);
        return;
      }
      const deleted = await store.deleteHolder({ mod: h.revision }, OTHER_CALL_TIMEOUT_MS).catch((err: unknown) => {
        log.warn({ err: messageOf(err) }, 'failed to take over a stale VIP holder; retrying');
        return false;
      });
      if (!deleted) return;
      log.warn({ stale: h.host, term: h.term, staleForMs: Math.round(staleFor) }, `${h.host} wrote no VIP heartbeat for ${Math.round(staleFor)} ms: took its holder key over`);
      view = { ...view, holder: null };
      seen = null;
    }
    const ho = view.handover;
    if (ho !== null && ho.to !== host && ho.until > clock.wallNow()) return; // a handover to someone else
    try {
      await campaign();
    } catch (err) {
      log.warn({ err: messageOf(err) }, 'failed to campaign for the VIP; retrying');
    }
  }

  async function step(): Promise<number> {
    if (halted) return IDLE_POLL_MS;
    if (holding !== null) await holderStep();
    else await candidateStep();
    if (halted) return IDLE_POLL_MS;
    const now = clock.now();
    const due = holding !== null ? Math.min(nextBeatAt, holdDeadline()) : nextPollAt;
    return Math.max(0, due - now);
  }

  function schedule(ms: number): void {
    if (stopped || halted || !looping) return;
    if (timer !== null) clearTimeout(timer);
    timer = setTimeout(() => {
      timer = null;
      exclusive(step)
        .catch((err: unknown) => {
          log.error({ err: messageOf(err) }, 'VIP elector step failed');
          return cfg.pollIntervalMs;
        })
        .then((wait) => schedule(wait));
    }, ms);
  }

  return {
    async start(startOpts = {}) {
      // A freshly started elector holds nothing, so a copy of the address on the interface is
      // stale (a crashed agent, a restarted one, a hand-added one): remove it before anything else.
      try {
        const present = (await address.list()).some((a) => a.address === cfg.address && a.prefixLength === cfg.prefixLength);
        if (present && (await addressOp(() => address.remove()))) {
          const message = `removed a stale ${cfg.address}/${cfg.prefixLength} from ${cfg.interface} at start`;
          log.warn(message);
          emit('vip.stale-removed', message, { reason: 'start' });
        }
      } catch (err) {
        log.error({ err: messageOf(err) }, 'failed to check for a stale VIP at start; trying to remove it anyway');
        if (!(await addressOp(() => address.remove()).then(() => true, () => false))) addressMayLiveUntil = clock.now() + addressLifetimeMs;
      }
      started = true;
      stopped = false;
      looping = startOpts.loop !== false;
      schedule(0);
    },
    step: () => exclusive(step),
    async stop() {
      stopped = true;
      if (timer !== null) clearTimeout(timer);
      timer = null;
      await exclusive(() => release('stop', 'vip.released', 'released the VIP: the agent is stopping'));
      await addressOp.idle();
      started = false;
    },
    abandon() {
      halted = true;
      started = false;
      stopped = true;
      if (timer !== null) clearTimeout(timer);
      timer = null;
    },
    handover(target) {
      return exclusive(async () => {
        if (holding === null) throw new BallastError('BALLAST_ERR_VIP_NOT_HOLDER', `failed to hand over VIP ${cfg.name}: ${host} does not hold it`);
        if (target === host) return;
        // Others defer while this key lives; the target polls and campaigns as soon as we delete ours.
        // (etcd grants at least 2 s whatever is asked.)
        await store.writeHandover({ to: target, until: clock.wallNow() + holdMs }, Math.max(2, Math.ceil(holdMs / 1000)), OTHER_CALL_TIMEOUT_MS);
        await release('handover', 'vip.released', `handed the VIP over to ${target}`);
        nextPollAt = clock.now();
        schedule(0);
      });
    },
    update(next) {
      cfg = { ...next };
      nextPollAt = 0;
      schedule(0);
    },
    healthChanged() {
      if (holding !== null && !opts.health.healthy()) {
        // Do not wait for a heartbeat in flight: stop renewals and drop the address now; the step
        // that follows deletes the holder key (after this removal, by the address queue's order).
        suppressed = true;
        resignPending = true;
        void removeAddress('health check fails');
      }
      nextPollAt = 0;
      schedule(0);
    },
    status() {
      const healthy = opts.health.healthy();
      const state: VipStatus['state'] = !started
        ? 'idle'
        : holding !== null
          ? 'holder'
          : !cfg.candidate
            ? 'excluded'
            : !healthy
              ? 'unhealthy'
              : 'candidate';
      return {
        state,
        holder: view.holder?.host ?? null,
        term: view.holder?.term ?? null,
        leaseLeftMs: holding !== null ? Math.max(0, Math.round(holding.beatSentAt + holdMs - clock.now())) : null,
        lastRenewRttMs: lastRenewRttMs === null ? null : Math.round(lastRenewRttMs),
        healthy,
      };
    },
  };
}

/**
 * The address guard: the only code that adds, renews or removes the VIP, and so the kernel half of
 * the fencing proof (README.md, "The timing proof"). It keeps the two rules the proof needs:
 *
 * - the address is added or renewed only right after a heartbeat (or the acquiring create) whose
 *   round trip stayed within `maxRenewRttMs`, and the kernel must have taken it by
 *   `sentAt + renewBudgetMs`; a renewal that lands later is undone at once;
 * - on a release the address goes first: {@link AddressGuard.mayDelete} tells the holder side
 *   whether a copy can still exist, and while one can, no holder key of ours may be deleted.
 *
 * It also knows nothing of etcd: the holder side decides when to call it.
 */
import type { Logger } from 'pino';
import { BallastError, messageOf } from '../../../shared/src/errors.js';
import { KERNEL_EXPIRY_SLACK_MS, MIN_EXEC_MARGIN_MS, type VipConfig } from './config.js';
import { MAX_ADDRESS_FAILURES } from './elector-state.js';
import type { AddressPort, ArpPort, Clock } from './ports.js';
import { createSerialQueue } from './serial.js';

/** Options of {@link createAddressGuard}. */
export interface AddressGuardOptions {
  /** The current config (only its timing-neutral parts change; the address never does). */
  cfg: () => VipConfig;
  address: AddressPort;
  arp: ArpPort;
  clock: Clock;
  log: Logger;
  /** After `abandon()`: the guard must not touch the address any more. */
  halted: () => boolean;
  /** Whether the elector still holds (a renewal that returns after a loss must not count). */
  holding: () => boolean;
  /** Reports a renewal that did not happen (the holder side de-duplicates and emits the event). */
  renewFailed: (message: string, data?: Record<string, unknown>) => void;
}

/** What a renewal attempt came to. */
export type RenewOutcome =
  | { kind: 'renewed' }
  /** Not renewed this time (too slow, too late, suppressed, or a failure below the limit): the kernel lifetime decides. */
  | { kind: 'skipped' }
  /** The address could not be added `failures` times in a row: the holder should give the VIP up. */
  | { kind: 'give-up'; failures: number };

/** The fencing side of the elector; see the file comment. */
export interface AddressGuard {
  /** A new holding: renewals allowed again, failure count reset. */
  arm(): void;
  /** Releasing or losing: renewals still queued must not re-add the address. */
  suppress(): void;
  /**
   * INVARIANT (the heart of the timing proof): renews only if `now − sentAt ≤ maxRenewRttMs`, checks
   * the budget again right before spawning `ip`, and undoes a renewal that finished past
   * `sentAt + renewBudgetMs`.
   */
  renew(sentAt: number): Promise<RenewOutcome>;
  /** Removes the address; false when that failed (then the holder key must be left to go stale). */
  remove(why: string): Promise<boolean>;
  /** True when no copy of the address can exist any more, so deleting our holder key cannot cause overlap. */
  mayDelete(): boolean;
  /** Whether this guard believes the address is on the interface. */
  present(): boolean;
  /** At start: removes a copy that no current holding explains; true when one was removed. */
  clearStale(): Promise<boolean>;
  /** Resolves when every queued address operation has finished. */
  idle(): Promise<void>;
}

/** Creates the guard for one elector. */
export function createAddressGuard(opts: AddressGuardOptions): AddressGuard {
  const { address, clock, log } = opts;
  const lifetimeMs = opts.cfg().addressLifetimeSeconds * 1000 + KERNEL_EXPIRY_SLACK_MS;
  /**
   * INVARIANT: address operations run one at a time, in the order issued. A removal issued while
   * a renewal is in flight therefore lands after it, never before (two `ip` processes racing
   * could otherwise re-add the address after it was removed).
   */
  const op = createSerialQueue();
  let present = false;
  /** When the address was last renewed (monotonic); after a lifetime without renewal it is gone. */
  let lastRenewAt = Number.NEGATIVE_INFINITY;
  /** Set while resigning/releasing: queued renewals must not re-add the address. */
  let suppressed = false;
  let failures = 0;
  /**
   * Until then a copy of the address may still exist (a renewal or removal failed, or a previous
   * agent's address at start): no holder key of ours may be deleted before, since a delete lets
   * the next holder in at once. 0 when the address is known to be gone.
   */
  let mayLiveUntil = 0;
  const mayLive = () => {
    mayLiveUntil = Math.max(mayLiveUntil, clock.now() + lifetimeMs);
  };
  const cidr = () => `${opts.cfg().address}/${opts.cfg().prefixLength}`;

  async function remove(why: string): Promise<boolean> {
    try {
      const removed = await op(() => address.remove());
      present = false;
      mayLiveUntil = 0;
      if (removed) log.info({ why }, `removed ${cidr()} from ${opts.cfg().interface}`);
      return true;
    } catch (err) {
      log.error({ err: messageOf(err), why }, 'failed to remove the VIP; its kernel lifetime will remove it');
      mayLive();
      return false;
    }
  }

  async function renew(sentAt: number): Promise<RenewOutcome> {
    const cfg = opts.cfg();
    if (clock.now() - sentAt > cfg.maxRenewRttMs) {
      opts.renewFailed(`heartbeat answered too slowly (${Math.round(clock.now() - sentAt)} ms > maxRenewRttMs ${cfg.maxRenewRttMs}); address not renewed`);
      return { kind: 'skipped' };
    }
    const budgetEnd = sentAt + cfg.renewBudgetMs;
    try {
      await op(async () => {
        if (suppressed || opts.halted()) return;
        // Checked again right before the spawn: the queue may have held us behind a slow removal.
        const left = budgetEnd - clock.now();
        if (left < MIN_EXEC_MARGIN_MS / 2) throw new BallastError('BALLAST_ERR_COMMAND_TIMEOUT', `only ${Math.round(left)} ms of the renewal budget left; not renewing`);
        await address.renew({ timeoutMs: Math.floor(left) });
      });
    } catch (err) {
      // A timed-out `ip` may have renewed the address just before it was killed.
      mayLive();
      failures += 1;
      opts.renewFailed(`failed to add the VIP: ${messageOf(err)}`, { attempt: failures });
      await remove('renewal failed or timed out');
      return failures >= MAX_ADDRESS_FAILURES ? { kind: 'give-up', failures } : { kind: 'skipped' };
    }
    mayLive();
    if (suppressed || opts.halted() || !opts.holding()) return { kind: 'skipped' };
    if (clock.now() > budgetEnd) {
      opts.renewFailed(`address renewal finished ${Math.round(clock.now() - budgetEnd)} ms past its safe budget; address removed`);
      await remove('late renewal');
      return { kind: 'skipped' };
    }
    failures = 0;
    // Newly added (or re-added after the kernel dropped it during slow renewals): announce it.
    const readded = !present || clock.now() - lastRenewAt >= cfg.addressLifetimeSeconds * 1000;
    present = true;
    lastRenewAt = clock.now();
    if (readded) opts.arp.announce();
    return { kind: 'renewed' };
  }

  return {
    arm() {
      suppressed = false;
      failures = 0;
    },
    suppress() {
      suppressed = true;
    },
    renew,
    remove,
    mayDelete: () => mayLiveUntil === 0 || clock.now() > mayLiveUntil,
    present: () => present,
    async clearStale() {
      // A freshly started elector holds nothing, so a copy of the address on the interface is
      // stale (a crashed agent, a restarted one, a hand-added one): remove it before anything else.
      const cfg = opts.cfg();
      try {
        const found = (await address.list()).some((a) => a.address === cfg.address && a.prefixLength === cfg.prefixLength);
        return found && (await op(() => address.remove()));
      } catch (err) {
        log.error({ err: messageOf(err) }, 'failed to check for a stale VIP at start; trying to remove it anyway');
        if (!(await op(() => address.remove()).then(() => true, () => false))) mayLive();
        return false;
      }
    },
    idle: () => op.idle(),
  };
}

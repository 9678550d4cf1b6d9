/**
 * The VIP elector: one host's side of the heartbeat election for one VIP. The reasoning (and the
 * timing proof that no two hosts ever hold the address) is in README.md next to this file; the
 * rules it relies on are marked "INVARIANT" where they are kept:
 *
 * - address-guard.ts: the fencing invariant (renew only after a heartbeat in time; remove first);
 * - holder.ts: heartbeat, release, resign, loss;
 * - candidate.ts: staleness from first sight, takeover, campaign, lost answers;
 * - elector-loop.ts: the timer and the lifecycle; elector-state.ts: the state union.
 *
 * This file wires them and answers the public {@link VipElector} calls. Pure apart from its ports:
 * time comes from {@link Clock}, etcd from {@link ElectionStore}, the address from
 * {@link AddressPort}. `step()` does one pass and says when it wants the next; the loop calls it,
 * and so do the unit tests with a fake clock.
 */
import type { Logger } from 'pino';
import { BallastError } from '../../../shared/src/errors.js';
import { createAddressGuard } from './address-guard.js';
import { createCandidateSide } from './candidate.js';
import { OTHER_CALL_TIMEOUT_MS, type VipConfig } from './config.js';
import { createStepLoop } from './elector-loop.js';
import { candidateState, type ElectorContext, holdDeadline, IDLE_POLL_MS } from './elector-state.js';
import { createHolderSide } from './holder.js';
import type { AddressPort, ArpPort, Clock, ElectionStore, HealthSignal, VipElector, VipEventKind, VipEventSink, VipStatus } from './ports.js';

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

/** Creates an elector; nothing happens until `start()` (or `step()` in tests). */
export function createVipElector(opts: VipElectorOptions): VipElector {
  const { clock, store, host } = opts;
  const log = opts.log.child({ component: 'vip', vip: opts.config.name });
  const loop = createStepLoop({ step, log, errorWaitMs: () => ctx.cfg.pollIntervalMs });
  const halted = () => loop.phase() === 'halted';
  const ctx: ElectorContext = {
    host,
    clock,
    store,
    health: opts.health,
    log,
    holdMs: opts.config.holdTimeoutMs,
    cfg: opts.config,
    state: candidateState(),
    view: { holder: null, handover: null },
    lastRenewRttMs: null,
    onRenew: opts.onRenew,
    halted,
    emit(kind: VipEventKind, message: string, data: Record<string, unknown> = {}) {
      if (halted()) return;
      const c = ctx.cfg;
      opts.onEvent(kind, message, { vip: c.name, address: `${c.address}/${c.prefixLength}`, host, ...data });
    },
  };
  const guard = createAddressGuard({
    cfg: () => ctx.cfg,
    address: opts.address,
    arp: opts.arp,
    clock,
    log,
    halted,
    holding: () => ctx.state.role === 'holder',
    renewFailed: (message, data) => holder.renewFailed(message, data),
  });
  const holder = createHolderSide(ctx, guard);
  const candidate = createCandidateSide(ctx, guard, holder);

  /** A candidate reads at its next pass (config or health changed, or a handover just freed the key). */
  const pollNow = () => {
    if (ctx.state.role === 'candidate') ctx.state.nextPollAt = 0;
  };

  async function step(): Promise<number> {
    if (halted()) return IDLE_POLL_MS;
    const s = ctx.state;
    if (s.role === 'holder') await holder.step(s);
    else await candidate.step(s);
    if (halted()) return IDLE_POLL_MS;
    const next = ctx.state;
    const due = next.role === 'holder' ? Math.min(next.nextBeatAt, holdDeadline(ctx, next)) : next.nextPollAt;
    return Math.max(0, due - clock.now());
  }

  function status(): VipStatus {
    const healthy = opts.health.healthy();
    const s = ctx.state;
    const phase = loop.phase();
    const state: VipStatus['state'] =
      phase !== 'running' && phase !== 'stopping' ? 'idle' : s.role === 'holder' ? 'holder' : !ctx.cfg.candidate ? 'excluded' : !healthy ? 'unhealthy' : 'candidate';
    return {
      state,
      holder: ctx.view.holder?.host ?? null,
      term: ctx.view.holder?.term ?? null,
      leaseLeftMs: s.role === 'holder' ? Math.max(0, Math.round(s.beatSentAt + ctx.holdMs - clock.now())) : null,
      lastRenewRttMs: ctx.lastRenewRttMs === null ? null : Math.round(ctx.lastRenewRttMs),
      healthy,
    };
  }

  return {
    async start(startOpts = {}) {
      if (await guard.clearStale()) {
        const c = ctx.cfg;
        const message = `removed a stale ${c.address}/${c.prefixLength} from ${c.interface} at start`;
        log.warn(message);
        ctx.emit('vip.stale-removed', message, { reason: 'start' });
      }
      loop.begin(startOpts.loop !== false);
    },
    step: () => loop.exclusive(step),
    async stop() {
      loop.stopping();
      await loop.exclusive(() => holder.release('stop', 'vip.released', 'released the VIP: the agent is stopping'));
      await guard.idle();
      loop.stopped();
    },
    abandon() {
      loop.halt();
    },
    handover(target) {
      return loop.exclusive(async () => {
        if (ctx.state.role !== 'holder') throw new BallastError('BALLAST_ERR_VIP_NOT_HOLDER', `failed to hand over VIP ${ctx.cfg.name}: ${host} does not hold it`);
        if (target === host) return;
        // Others defer while this key lives; the target polls and campaigns as soon as we delete ours.
        // (etcd grants at least 2 s whatever is asked.)
        await store.writeHandover({ to: target, until: clock.wallNow() + ctx.holdMs }, Math.max(2, Math.ceil(ctx.holdMs / 1000)), OTHER_CALL_TIMEOUT_MS);
        await holder.release('handover', 'vip.released', `handed the VIP over to ${target}`);
        pollNow();
        loop.schedule(0);
      });
    },
    update(next) {
      ctx.cfg = { ...next };
      pollNow();
      loop.schedule(0);
    },
    healthChanged() {
      const s = ctx.state;
      if (s.role === 'holder' && !opts.health.healthy()) {
        // Do not wait for a heartbeat in flight: stop renewals and drop the address now; the step
        // that follows deletes the holder key (after this removal, by the address queue's order).
        guard.suppress();
        s.resignPending = true;
        void guard.remove('health check fails');
      }
      pollNow();
      loop.schedule(0);
    },
    status,
  };
}

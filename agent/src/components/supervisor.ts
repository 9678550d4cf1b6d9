import type { Logger } from 'pino';
import { messageOf } from '../../../shared/src/errors.js';
import type { HealthCheck } from '../health.js';
import { createPollLoop } from '../poll-loop.js';
import type { EventSender } from '../session.js';
import type { SystemdPort } from '../host/ports.js';
import type { ProbeResult, SupervisedUnit, SupervisedUnitSource } from './supervised-unit.js';

/** When to probe and how hard to push a failing unit. */
export interface RepairPolicy {
  /** Probe interval for components that name none. */
  intervalMs: number;
  /** Consecutive probe failures of an active unit before it is restarted (an inactive unit needs none). */
  failureThreshold: number;
  /** First delay between restarts; doubles with every restart that did not bring the component back. */
  backoffInitialMs: number;
  /** The delay never grows beyond this. */
  backoffMaxMs: number;
  /** A probe that has not answered by then has failed. */
  probeTimeoutMs: number;
}

/** Defaults: a dead unit is restarted within ~10 s, a hung one within ~30 s, and at most every 5 min once it keeps failing. */
export const DEFAULT_REPAIR_POLICY: RepairPolicy = {
  intervalMs: 10_000,
  failureThreshold: 3,
  backoffInitialMs: 5_000,
  backoffMaxMs: 300_000,
  probeTimeoutMs: 10_000,
};

/** Options of {@link createUnitSupervisor}. */
export interface UnitSupervisorOptions {
  source: SupervisedUnitSource;
  systemd: SystemdPort;
  events: EventSender;
  log: Logger;
  policy?: Partial<RepairPolicy>;
  /** Wall or monotonic ms; injectable for tests. Default `performance.now`. */
  now?: () => number;
  /** While true, components are probed and reported but not restarted (a task run may be stopping units on purpose). */
  paused?: () => boolean;
  /** How often the loop wakes to see what is due; default 1 s. */
  tickMs?: number;
}

/** One supervised unit as the supervisor sees it. */
export interface SupervisedUnitStatus {
  name: string;
  unit: string;
  /** Null until first probed. */
  last: ProbeResult | null;
  consecutiveFailures: number;
  /** Restarts since it was last healthy. */
  restarts: number;
}

/** Keeps installed components healthy; see {@link createUnitSupervisor}. */
export interface UnitSupervisor {
  /** Starts the probe loop; returns at once. */
  start(): void;
  /** Stops the loop and waits for a tick in progress. */
  stop(): Promise<void>;
  /** One pass: probes every component that is due and repairs what needs it. The loop calls this; so do tests. */
  tick(): Promise<void>;
  /** Lists the components again and forgets those no longer installed (no probe, no restart): after a run removed some. */
  forgetRemoved(): Promise<void>;
  /** `component:<name>` checks for health snapshots: the latest probe of every supervised component. */
  checks(): HealthCheck[];
  status(): SupervisedUnitStatus[];
}

interface Watch extends SupervisedUnitStatus {
  component: SupervisedUnit;
  nextProbeAt: number;
  nextRestartAt: number;
}

/**
 * For every component whose unit is enabled (a role installed it), probes it on its interval; a
 * unit that is not active, or whose probe failed `failureThreshold` times in a row, is restarted
 * with exponential backoff. Each restart is reported as a `component.failed` event, and recovery
 * after restarts as `component.repaired`. A disabled unit is not ours to run: it is left alone.
 * Works with the controller away: events are simply dropped while disconnected.
 */
export function createUnitSupervisor(opts: UnitSupervisorOptions): UnitSupervisor {
  const policy = { ...DEFAULT_REPAIR_POLICY, ...opts.policy };
  const now = opts.now ?? (() => performance.now());
  const log = opts.log.child({ component: 'supervisor' });
  const watches = new Map<string, Watch>();

  async function tick(): Promise<void> {
    let components: SupervisedUnit[];
    try {
      components = await opts.source();
    } catch (err) {
      log.warn({ err: messageOf(err) }, 'failed to list components; keeping the previous list');
      components = [...watches.values()].map((w) => w.component);
    }
    const seen = new Set(components.map((c) => c.name));
    for (const name of watches.keys()) if (!seen.has(name)) watches.delete(name);
    const t = now();
    await Promise.all(
      components.map((component) => {
        let watch = watches.get(component.name);
        if (watch === undefined || watch.unit !== component.unit) {
          watch = { name: component.name, unit: component.unit, component, last: null, consecutiveFailures: 0, restarts: 0, nextProbeAt: t, nextRestartAt: t };
          watches.set(component.name, watch);
        }
        watch.component = component;
        if (t < watch.nextProbeAt) return undefined;
        watch.nextProbeAt = t + (component.intervalMs ?? policy.intervalMs);
        return ensureHealthy(watch).catch((err: unknown) => log.error({ err: messageOf(err), name: component.name }, 'failed to check a component'));
      }),
    );
  }

  /** Probes one component and restarts its unit when due (the converge step of the loop). */
  async function ensureHealthy(watch: Watch): Promise<void> {
    const { unit, name } = watch;
    if (!(await opts.systemd.isEnabled(unit))) {
      // Not installed, or disabled on purpose: not ours to run, and not reported as a check.
      Object.assign(watch, { last: null, consecutiveFailures: 0, restarts: 0 });
      return;
    }
    const state = await opts.systemd.activeState(unit);
    if (state === 'deactivating') {
      // Someone is stopping it (a task, an operator): a restart now would cancel that stop job and
      // bring the unit back behind its back. Once it is down it is judged like any stopped unit.
      watch.last = { ok: false, message: `${unit} is stopping` };
      return;
    }
    const active = state === 'active' || state === 'reloading' || state === 'activating';
    const result = active ? await boundedProbe(watch.component) : { ok: false, message: `${unit} is not active` };
    // One slow or failed probe of a running unit is not yet a verdict: a loaded host answers late
    // now and then, and reporting it at once would flap the host to degraded (and block operations
    // that require healthy hosts). It is reported from the second failure in a row, or at once when
    // the unit is down or has already needed a restart.
    const firstBlip = !result.ok && active && watch.consecutiveFailures === 0 && watch.restarts === 0;
    watch.last = firstBlip ? { ok: true, message: `${result.message} (one failed probe; checking again)` } : result;
    if (result.ok) {
      if (watch.restarts > 0) {
        const message = `${name} is healthy again after ${watch.restarts} restart${watch.restarts === 1 ? '' : 's'}: ${result.message}`;
        log.info({ name, unit, restarts: watch.restarts }, message);
        opts.events.sendEvent('component.repaired', message, { component: name, unit, restarts: watch.restarts });
      }
      Object.assign(watch, { consecutiveFailures: 0, restarts: 0, nextRestartAt: 0 });
      return;
    }
    watch.consecutiveFailures += 1;
    const due = !active || watch.consecutiveFailures >= policy.failureThreshold;
    const t = now();
    if (!due || t < watch.nextRestartAt || opts.paused?.() === true) return;
    watch.restarts += 1;
    const delay = Math.min(policy.backoffMaxMs, policy.backoffInitialMs * 2 ** (watch.restarts - 1));
    watch.nextRestartAt = t + delay;
    // A restarted unit gets `failureThreshold` fresh probes to come up before the next verdict.
    watch.consecutiveFailures = 0;
    let restartError: string | null = null;
    try {
      await opts.systemd.restart(unit);
    } catch (err) {
      restartError = messageOf(err);
    }
    const outcome = restartError === null ? `restarted ${unit}` : `failed to restart ${unit}: ${restartError}`;
    const message = `${name} unhealthy (${result.message}); ${outcome} (attempt ${watch.restarts}, next no sooner than ${Math.round(delay / 1000)} s)`;
    log.warn({ name, unit, attempt: watch.restarts, nextInMs: delay, restartError }, message);
    opts.events.sendEvent('component.failed', message, {
      component: name,
      unit,
      reason: result.message,
      attempt: watch.restarts,
      restarted: restartError === null,
      nextAttemptInMs: delay,
    });
  }

  async function boundedProbe(component: SupervisedUnit): Promise<ProbeResult> {
    let guard: NodeJS.Timeout | undefined;
    const timeout = new Promise<ProbeResult>((resolve) => {
      guard = setTimeout(() => resolve({ ok: false, message: `probe gave no answer within ${policy.probeTimeoutMs} ms` }), policy.probeTimeoutMs);
    });
    try {
      const result = await Promise.race([component.probe().catch((err: unknown) => ({ ok: false, message: messageOf(err) })), timeout]);
      return { ok: result.ok === true, message: String(result.message) };
    } finally {
      clearTimeout(guard);
    }
  }

  const poll = createPollLoop(
    () => tick().catch((err: unknown) => log.error({ err: messageOf(err) }, 'supervisor tick failed')),
    () => opts.tickMs ?? 1_000,
  );

  return {
    start: () => poll.start(),
    stop: () => poll.stop(),
    tick,
    async forgetRemoved() {
      const seen = new Set((await opts.source()).map((c) => c.name));
      for (const name of watches.keys()) if (!seen.has(name)) watches.delete(name);
    },
    checks() {
      return [...watches.values()]
        .filter((w) => w.last !== null)
        // Read at run time, so a snapshot taken later sees the latest probe, not the one at listing time.
        .map((w) => ({ name: `component:${w.name}`, run: async () => w.last ?? { ok: false, message: `${w.unit} is no longer supervised` } }));
    },
    status() {
      return [...watches.values()].map(({ name, unit, last, consecutiveFailures, restarts }) => ({ name, unit, last, consecutiveFailures, restarts }));
    },
  };
}

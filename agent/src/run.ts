import type { Logger } from 'pino';
import { ServiceManager } from '../../shared/src/lifecycle/manager.js';
import { defineService } from '../../shared/src/lifecycle/service.js';
import { systemdNotifyServices } from '../../shared/src/lifecycle/systemd.js';
import { PACKAGE_VERSION } from '../../shared/src/version.js';
import { createArtifactSource } from './artifact-source.js';
import { createBackoff } from './backoff.js';
import { supervisedUnitsFromDir } from './components/config.js';
import { createUnitSupervisor } from './components/supervisor.js';
import { createClockOffsetEstimator } from './clock.js';
import { loadAgentCredentials } from './config.js';
import { createChildFactsCollector, selfCommand } from './facts-child.js';
import { collectHealth, diskSpaceCheck, healthChanged, memoryCheck } from './health.js';
import { createNotifier } from '../../shared/src/sdnotify.js';
import { ControllerSession, type EventSender } from './session.js';
import { createExec } from './host/exec.js';
import { createLazyTaskEngine } from './tasks/lazy-engine.js';
import { createSystemctl } from './host/systemctl.js';
import { createVipManager } from './vip/manager.js';
import { createEtcdMaintenance } from './etcd/maintenance.js';
import { removeExcludedIfReason, VIP_EXCLUDED_PATH, writeExcluded } from './vip/exclusion.js';
import { isTakenOut, removePodsWithCrictl, standDown } from './stand-down.js';
import { createEtcdQuorumProbe } from './etcd/quorum-probe.js';
import { createSelfFence, DEFAULT_SELF_FENCE_DEADLINE_MS, SELF_FENCE_ACTION_BOUND_MS } from './self-fence.js';
import { access } from 'node:fs/promises';
import { ETCD_ENV_PATH } from './etcd/member-config.js';

/** Options of `ballast-agent run`. */
export interface RunOptions {
  dataDir: string;
  log: Logger;
  diskCheckPath: string;
  minFreeDiskPercent: number;
  minAvailableMemoryPercent: number;
}

/** A running agent; `stop()` stops its services in reverse start order. */
export interface RunningAgent {
  stop(): Promise<void>;
}

/**
 * Starts the daemon: loads credentials, connects to the controller and keeps systemd informed
 * (READY once connected or retrying, STATUS on every change, WATCHDOG from the event loop so that a
 * wedged loop gets the agent killed and restarted). Its long-running parts are services, started
 * in the order listed below and stopped in reverse.
 */
export async function runAgent(opts: RunOptions): Promise<RunningAgent> {
  const creds = await loadAgentCredentials(opts.dataDir);
  const log = opts.log.child({ host: creds.config.name });
  const notifier = createNotifier(process.env, { onError: (err) => log.warn({ err: err.message }, 'sd_notify failed') });
  const clock = createClockOffsetEstimator();
  const checks = [
    diskSpaceCheck({ path: opts.diskCheckPath, minFreePercent: opts.minFreeDiskPercent }),
    memoryCheck({ minAvailablePercent: opts.minAvailableMemoryPercent }),
  ];
  // The host's hands: the task engine (runs the controller sends) and the component supervisor
  // (keeps installed components healthy on its own, with or without the controller).
  const exec = createExec();
  const systemd = createSystemctl({ exec });
  const artifacts = createArtifactSource({ server: creds.config.server, credentials: creds });
  // Loaded on the first run: an idle agent does not pay for the engine and its modules (lazy-engine.ts).
  const engine = createLazyTaskEngine(async () => {
    const [{ createTaskEngine }, { createModuleRegistry }, { createCommandModule, DEFAULT_COMMAND_ALLOW_LIST }, { artifactModule, downloadAhead, ARTIFACT_WORK_DIR }, { imageModule }] = await Promise.all([
      import('./tasks/engine.js'),
      import('./tasks/registry.js'),
      import('./tasks/modules/command.js'),
      import('./tasks/modules/artifact.js'),
      import('./tasks/modules/image.js'),
    ]);
    const registry = createModuleRegistry([createCommandModule({ allow: DEFAULT_COMMAND_ALLOW_LIST }), artifactModule, imageModule]);
    log.info('task engine loaded');
    return createTaskEngine({
      registry,
      log,
      ctxBase: { root: '/', log, exec, systemd, artifacts, snapshots: artifacts },
      // The next tasks' artifacts stream in while a task runs, verified as any download (prefetch.ts).
      prefetch: { workDir: ARTIFACT_WORK_DIR, download: downloadAhead },
    });
  });
  // The session, once built: the supervisor and the VIP manager report through it when connected.
  let eventSink: EventSender | null = null;
  // Set once the controller said this host was replaced or removed (stand-down.ts); survives restarts as a marker.
  let takenOut = await isTakenOut(opts.dataDir);
  // Set while self-fenced (self-fence.ts): the supervisor restarts nothing meanwhile.
  let selfFenced = false;
  const standDownPorts = {
    dataDir: opts.dataDir,
    systemd,
    pauseSupervisor: () => undefined, // `paused` reads takenOut and selfFenced
    excludeVip: (why: string) => writeExcluded(VIP_EXCLUDED_PATH, { host: creds.config.name, at: Date.now(), reason: why }),
    removePods: () => removePodsWithCrictl(exec),
    log,
  };
  const standDownNow = (reason: string) => {
    takenOut = true;
    return standDown(standDownPorts, reason);
  };
  const supervisor = createUnitSupervisor({
    source: supervisedUnitsFromDir({ root: '/', log }),
    systemd,
    events: { sendEvent: (kind, message, data) => eventSink?.sendEvent(kind, message, data) },
    log,
    // A run may stop and restart units on purpose: do not fight it. A taken-out host restarts nothing.
    paused: () => takenOut || selfFenced || engine.currentRunId !== null,
  });
  // The VIP election (idle until a VIP role writes /etc/ballast/vip.yaml); like the supervisor it
  // runs with or without the controller.
  const vip = createVipManager({
    root: '/',
    host: creds.config.name,
    exec,
    log,
    onEvent: (kind, message, data) => eventSink?.sendEvent(kind, message, data),
  });
  const selfFenceMs = (creds.config.selfFenceDeadlineSeconds ?? DEFAULT_SELF_FENCE_DEADLINE_MS / 1000) * 1000;
  const SELF_FENCE_INTERVAL_MS = 2000;
  const collectFacts = createChildFactsCollector({ exec, self: selfCommand(), log });
  /** Advertised only by an etcd member with self-fencing on: only it fences itself (self-fence.ts). */
  const selfFenceFacts = async () => {
    if (selfFenceMs === 0) return {};
    try {
      await access(ETCD_ENV_PATH);
    } catch {
      return {}; // not an etcd member: no self-fencing to advertise
    }
    return { selfFence: { deadlineMs: selfFenceMs, actionBoundMs: SELF_FENCE_ACTION_BOUND_MS, intervalMs: SELF_FENCE_INTERVAL_MS } };
  };
  let announced = false;
  const session = new ControllerSession({
    creds,
    log,
    agentVersion: PACKAGE_VERSION,
    backoff: createBackoff(),
    clock,
    // The self-fence deadline rides with the facts, so a controller that lost this host knows it.
    collectFacts: async () => ({ ...(await collectFacts()), ...(await selfFenceFacts()) }),
    // Components come and go at run time, so their checks are asked for on every snapshot.
    collectHealth: () => collectHealth({ checks: [...checks, ...supervisor.checks(), ...vip.checks()], clockOffsetMs: () => clock.offsetMs() }),
    runner: engine,
    vip,
    // Snapshot, status and defrag of this host's etcd member, if it has one (refused otherwise).
    etcd: createEtcdMaintenance({ root: '/', creds }),
    healthChanged,
    afterRun: () => supervisor.forgetRemoved(),
    onTakenOut: (message) => {
      if (!takenOut) void standDownNow(message);
    },
    onState: (state, detail) => {
      notifier.status(detail);
      if (!announced && (state === 'connected' || state === 'waiting')) {
        announced = true;
        notifier.ready();
      }
    },
  });
  eventSink = session;
  const selfFence = createSelfFence({
    dataDir: opts.dataDir,
    deadlineMs: selfFenceMs,
    intervalMs: SELF_FENCE_INTERVAL_MS,
    now: () => performance.now(),
    lastContactAt: () => session.lastContactAt(),
    connected: () => session.connected(),
    quorum: createEtcdQuorumProbe({ root: '/' }),
    fence: (reason) => {
      selfFenced = true;
      return standDown(standDownPorts, `self-fence: ${reason}`, 'self-fence');
    },
    unfence: async () => {
      const failed: string[] = [];
      // etcd first: the API server of the static pods needs it.
      for (const unit of ['etcd.service', 'kubelet.service']) {
        try {
          await systemd.start(unit);
        } catch (err) {
          failed.push(`start ${unit}: ${err instanceof Error ? err.message : String(err)}`);
        }
      }
      try {
        await removeExcludedIfReason(VIP_EXCLUDED_PATH, 'self-fence:');
      } catch (err) {
        failed.push(`vip include: ${err instanceof Error ? err.message : String(err)}`);
      }
      if (failed.length === 0) selfFenced = false;
      return failed;
    },
    log: log.child({ component: 'self-fence' }),
  });
  const sd = systemdNotifyServices(notifier);
  // Start order; stopped in reverse. The session is the event sink of the VIP manager and the
  // supervisor, so it starts before them and stops after them: what they report while stopping
  // (the VIP released) still reaches the controller.
  const services = new ServiceManager(
    [
      sd.flush,
      // Used by the task runs the session receives.
      defineService('artifacts', { stop: () => artifacts.close() }),
      // Connects, then keeps heartbeats, facts and health flowing and answers requests.
      defineService('session', { start: () => session.start(), stop: () => session.stop() }),
      // Before the VIP and the supervisor: a host fenced before this start (its marker) fences
      // again before they start anything. Off with selfFenceDeadlineSeconds: 0.
      ...(selfFenceMs === 0 ? [] : [defineService('self-fence', { start: () => selfFence.start(), stop: () => selfFence.stop() })]),
      // Stopping releases the address first, then the lease (inside); ExecStopPost covers the case
      // where the agent never gets there.
      defineService('vip', { start: () => vip.start(), stop: () => vip.stop() }),
      defineService('supervisor', { start: () => supervisor.start(), stop: () => supervisor.stop() }),
      sd.watchdog,
    ],
    { name: 'ballast-agent', log },
  );
  log.info({ server: creds.config.server, hostId: creds.config.hostId, watchdogMs: notifier.watchdogIntervalMs }, 'agent starting');
  await services.start();
  // Taken out before this start (the marker): converge again, with or without a controller.
  if (takenOut) void standDownNow('taken out of the cluster earlier (marker in the data dir)');
  return services;
}

import type { Logger } from 'pino';
import { PACKAGE_VERSION } from '../../shared/src/version.js';
import { createBackoff } from './backoff.js';
import { createClockOffsetEstimator } from './clock.js';
import { loadAgentCredentials } from './config.js';
import { collectFacts } from './facts.js';
import { collectHealth, diskSpaceCheck, healthChanged, memoryCheck } from './health.js';
import { createNotifier } from './sdnotify.js';
import { ControllerSession } from './session.js';

/** Options of `ballast-agent run`. */
export interface RunOptions {
  dataDir: string;
  log: Logger;
  diskCheckPath: string;
  minFreeDiskPercent: number;
  minAvailableMemoryPercent: number;
}

/** A running agent; `stop()` shuts it down in order. */
export interface RunningAgent {
  stop(): Promise<void>;
}

/**
 * Starts the daemon: loads credentials, connects to the controller and keeps systemd informed
 * (READY once connected or retrying, STATUS on every change, WATCHDOG from the event loop so that a
 * wedged loop gets the agent killed and restarted).
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
  let announced = false;
  const session = new ControllerSession({
    creds,
    log,
    agentVersion: PACKAGE_VERSION,
    backoff: createBackoff(),
    clock,
    collectFacts: () => collectFacts({ logger: log }),
    collectHealth: () => collectHealth({ checks, clockOffsetMs: () => clock.offsetMs() }),
    healthChanged,
    onState: (state, detail) => {
      notifier.status(detail);
      if (!announced && (state === 'connected' || state === 'waiting')) {
        announced = true;
        notifier.ready();
      }
    },
  });
  let watchdogTimer: NodeJS.Timeout | null = null;
  if (notifier.watchdogIntervalMs !== null) {
    watchdogTimer = setInterval(() => notifier.watchdog(), notifier.watchdogIntervalMs);
  }
  log.info({ server: creds.config.server, hostId: creds.config.hostId, watchdogMs: notifier.watchdogIntervalMs }, 'agent starting');
  session.start();
  return {
    async stop() {
      notifier.stopping();
      if (watchdogTimer !== null) clearInterval(watchdogTimer);
      await session.stop();
      await notifier.idle();
    },
  };
}

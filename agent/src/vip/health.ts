/**
 * The local health check that gates the election: by default kube-apiserver's /readyz. A host
 * becomes healthy after `rise` consecutive passes and unhealthy after `fall` consecutive
 * failures (it starts unhealthy: a freshly started agent must prove its apiserver first).
 */
import type { Logger } from 'pino';
import { messageOf } from '../../../shared/src/errors.js';
import type { ProbeResult } from '../components/supervised-unit.js';
import { probeHttp, probeTcp } from '../components/http-probe.js';
import { createPollLoop } from '../poll-loop.js';
import type { VipHealthConfig } from './config.js';
import type { HealthSignal } from './ports.js';

/** One probe of the configured endpoint. */
export type HealthProbe = () => Promise<ProbeResult>;

/** The real probe for a config (certificate files are read on every probe, so rotation is picked up). */
export function createHealthProbe(cfg: VipHealthConfig): HealthProbe {
  if (cfg.kind === 'none') return async () => ({ ok: true, message: 'no health check configured (kind none): always healthy' });
  if (cfg.kind === 'tcp') return () => probeTcp({ host: cfg.host, port: cfg.port, timeoutMs: cfg.timeoutMs });
  return () => probeHttp({ url: cfg.url, timeoutMs: cfg.timeoutMs, caFile: cfg.caFile, certFile: cfg.certFile, keyFile: cfg.keyFile });
}

/** Rise/fall over probe results; see {@link createHealthMonitor}. */
export interface HealthMonitor extends HealthSignal {
  start(): void;
  stop(): Promise<void>;
  /** One probe now (the loop calls this; so do tests). */
  tick(): Promise<void>;
  /** New probe and thresholds; the current verdict and counters are kept. */
  update(probe: HealthProbe, cfg: Pick<VipHealthConfig, 'intervalMs' | 'timeoutMs' | 'rise' | 'fall'>): void;
  /** The last probe's message. */
  lastMessage(): string;
}

/** Options of {@link createHealthMonitor}. */
export interface HealthMonitorOptions {
  probe: HealthProbe;
  cfg: Pick<VipHealthConfig, 'intervalMs' | 'timeoutMs' | 'rise' | 'fall'>;
  log: Logger;
  /** Called when the verdict flips (the elector reacts at once: a failing holder resigns). */
  onChange: (healthy: boolean) => void;
}

/** Probes on an interval, one probe at a time, each bounded by its timeout. */
export function createHealthMonitor(opts: HealthMonitorOptions): HealthMonitor {
  let probe = opts.probe;
  let cfg = opts.cfg;
  let healthy = false;
  let passes = 0;
  let failures = 0;
  let message = 'not probed yet';

  async function bounded(): Promise<ProbeResult> {
    let guard: NodeJS.Timeout | undefined;
    const timeout = new Promise<ProbeResult>((resolve) => {
      // The probes bound themselves; this is the backstop for one that does not.
      guard = setTimeout(() => resolve({ ok: false, message: `no answer within ${cfg.timeoutMs} ms` }), cfg.timeoutMs + 50);
    });
    try {
      return await Promise.race([probe().catch((err: unknown) => ({ ok: false, message: messageOf(err) })), timeout]);
    } finally {
      clearTimeout(guard);
    }
  }

  async function tick(): Promise<void> {
    const r = await bounded();
    message = r.message;
    if (r.ok) {
      passes += 1;
      failures = 0;
    } else {
      failures += 1;
      passes = 0;
    }
    const next = healthy ? failures < cfg.fall : passes >= cfg.rise;
    if (next !== healthy) {
      healthy = next;
      opts.log.info({ healthy, message }, healthy ? 'VIP health check passes' : 'VIP health check fails');
      opts.onChange(healthy);
    }
  }

  // The interval is from the start of one probe to the start of the next.
  const poll = createPollLoop(tick, (elapsedMs) => Math.max(0, cfg.intervalMs - elapsedMs));

  return {
    healthy: () => healthy,
    lastMessage: () => message,
    tick,
    start: () => poll.start(),
    stop: () => poll.stop(),
    update(p, c) {
      probe = p;
      cfg = c;
    },
  };
}

/**
 * The reconnect storm (issue 15): with N simulated agents connected to the controller, stop it
 * (SIGKILL: a crash, or SIGTERM: an upgrade), start it again on the same data dir and port, and
 * measure how the fleet comes back — every agent reconnecting with the real agent's backoff
 * (sim-fleet.ts). Figures: time to all connected and all healthy, hosts ever seen unreachable (the
 * gauge, every 500 ms) and `state → unreachable` rows written (both must be 0: no host is falsely
 * marked unreachable), rows the event log grew by (bounded: connection events are coalesced), and
 * the restarted controller's RSS and CPU over the storm.
 */
import type { BenchController } from './controller.js';
import { sleep } from './proc.js';
import { parseValue } from './prom.js';
import { ProcessSampler } from './sampler.js';

/** How to run the storm. */
export interface StormSettings {
  signal: 'SIGKILL' | 'SIGTERM';
  /** Give up waiting for all agents healthy after this long (s). */
  deadlineSeconds: number;
}

/** What the storm did. */
export interface StormResult {
  signal: StormSettings['signal'];
  agents: number;
  /** Stop signal → restarted controller ready (/readyz). */
  restartSeconds: number;
  /** Ready → all N agents connected / all N hosts healthy; null when not within the deadline. */
  allConnectedSeconds: number | null;
  allHealthySeconds: number | null;
  /** Most hosts in state unreachable at any poll, and `state → unreachable` events written. */
  maxUnreachable: number;
  unreachableEvents: number;
  /** Rows the event log grew by from before the stop to the end (all kinds). */
  eventRows: number;
  /** Of those, per-host connected/disconnected rows and coalesced summary rows. */
  connectionRows: number;
  summaryRows: number;
  rssMbPeak: number;
  rssMbEnd: number;
  cpuPercent: number;
  problems: string[];
}

interface EventJson {
  id: number;
  host: string | null;
  kind: string;
  data: { to?: string; coalesced?: number };
}

/** Runs the storm; `restart` stops the controller with the signal and starts it again (same port and data dir). */
export async function runStorm(o: {
  controller: BenchController;
  restart: (signal: StormSettings['signal']) => Promise<BenchController>;
  agents: number;
  settings: StormSettings;
  deadline: number;
}): Promise<StormResult> {
  const problems: string[] = [];
  const lastId = async (c: BenchController) => ((await c.api.json('GET', '/v1/events?limit=1')) as { last?: number }).last ?? 0;
  const mark = await lastId(o.controller);
  const stoppedAt = Date.now();
  const c = await o.restart(o.settings.signal);
  const readyAt = Date.now();
  const sampler = new ProcessSampler(c.child.pid, 1000);
  const end = Math.min(o.deadline, readyAt + o.settings.deadlineSeconds * 1000);
  let allConnectedSeconds: number | null = null;
  let allHealthySeconds: number | null = null;
  let maxUnreachable = 0;
  while (Date.now() < end && allHealthySeconds === null) {
    await sleep(500);
    const text = await c.api.call('GET', '/metrics').then(
      (r) => r.text,
      (err: unknown) => {
        problems.push(`/metrics: ${err instanceof Error ? err.message : String(err)}`);
        return '';
      },
    );
    const connected = parseValue(text, 'ballast_agents_connected') ?? 0;
    const healthy = parseValue(text, 'ballast_hosts{state="healthy"}') ?? 0;
    maxUnreachable = Math.max(maxUnreachable, parseValue(text, 'ballast_hosts{state="unreachable"}') ?? 0);
    const t = Math.round((Date.now() - readyAt) / 100) / 10;
    if (allConnectedSeconds === null && connected >= o.agents) allConnectedSeconds = t;
    if (connected >= o.agents && healthy >= o.agents) allHealthySeconds = t;
  }
  // A few seconds more: a late false `unreachable` would show up here.
  await sleep(Math.min(5000, Math.max(0, o.deadline - Date.now())));
  const w = sampler.stop();
  let unreachableEvents = 0;
  let connectionRows = 0;
  let summaryRows = 0;
  let after = mark;
  // Bounded: at most 200 pages of 1,000 rows.
  for (let page = 0; page < 200; page++) {
    const body = (await c.api.json('GET', `/v1/events?after=${after}&limit=1000`)) as { items?: EventJson[]; last?: number };
    const items = body.items ?? [];
    if (items.length === 0) break;
    for (const e of items) {
      if (e.kind === 'state' && e.data.to === 'unreachable') unreachableEvents += 1;
      if ((e.kind === 'connected' || e.kind === 'disconnected') && e.host !== null) connectionRows += 1;
      if (e.host === null && typeof e.data.coalesced === 'number') summaryRows += 1;
      after = Math.max(after, e.id);
    }
  }
  return {
    signal: o.settings.signal,
    agents: o.agents,
    restartSeconds: Math.round((readyAt - stoppedAt) / 100) / 10,
    allConnectedSeconds,
    allHealthySeconds,
    maxUnreachable,
    unreachableEvents,
    eventRows: (await lastId(c)) - mark,
    connectionRows,
    summaryRows,
    rssMbPeak: w.rssMbPeak,
    rssMbEnd: w.rssMbEnd,
    cpuPercent: w.cpuPercent,
    problems,
  };
}

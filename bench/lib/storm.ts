/**
 * The reconnect storm (issue 15): with N simulated agents connected to the controller, stop it
 * (SIGKILL: a crash, or SIGTERM: an upgrade), start it again on the same data dir and port, and
 * measure how the fleet comes back — every agent reconnecting with the real agent's backoff
 * (sim-fleet.ts). Figures: time to all connected and all healthy, hosts ever seen unreachable (the
 * gauge, every 500 ms) and `state → unreachable` rows written (both must be 0: no host is falsely
 * marked unreachable), rows the event log grew by (bounded: connection events are coalesced), and
 * the restarted controller's RSS and CPU over the storm. The event rows are read from the store
 * through a read-only SQLite connection (WAL lets it read beside the controller), not the API: a
 * controller busy absorbing 10,000 handshakes may not answer an API call in time, and the figure
 * must not depend on that.
 */
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
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
  /** Up to 10 names of hosts marked unreachable, for the eye. */
  unreachableSample: string[];
  /** Seconds after ready of the first and the last `→ unreachable` row (null: none). */
  unreachableFromSeconds: number | null;
  unreachableToSeconds: number | null;
  /** Most hosts still awaited by the restart grace at any poll (`ballast_restart_grace_awaiting_hosts`). */
  maxAwaiting: number;
  /** /metrics polls that failed (the controller did not answer in time). */
  failedPolls: number;
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

interface EventRow {
  id: number;
  ts: number;
  host_name: string | null;
  kind: string;
  data_json: string;
}

/** Reads the store's event log beside the running controller (read-only). */
function withEvents<T>(dataDir: string, f: (db: BetterSqlite3.Database) => T): T {
  const db = new BetterSqlite3(join(dataDir, 'ballast.db'), { readonly: true, fileMustExist: true });
  try {
    return f(db);
  } finally {
    db.close();
  }
}

const lastEventId = (dataDir: string): number => withEvents(dataDir, (db) => db.prepare<[], number>('SELECT COALESCE(MAX(id), 0) FROM events').pluck().get() ?? 0);

/** Runs the storm; `restart` stops the controller with the signal and starts it again (same port and data dir). */
export async function runStorm(o: {
  controller: BenchController;
  restart: (signal: StormSettings['signal']) => Promise<BenchController>;
  agents: number;
  settings: StormSettings;
  deadline: number;
}): Promise<StormResult> {
  const problems: string[] = [];
  const mark = lastEventId(o.controller.dataDir);
  const stoppedAt = Date.now();
  const c = await o.restart(o.settings.signal);
  const readyAt = Date.now();
  const sampler = new ProcessSampler(c.child.pid, 1000);
  const end = Math.min(o.deadline, readyAt + o.settings.deadlineSeconds * 1000);
  let allConnectedSeconds: number | null = null;
  let allHealthySeconds: number | null = null;
  let maxUnreachable = 0;
  let maxAwaiting = 0;
  let failedPolls = 0;
  while (Date.now() < end && allHealthySeconds === null) {
    await sleep(500);
    const text = await c.api.call('GET', '/metrics').then(
      (r) => r.text,
      (err: unknown) => {
        failedPolls += 1;
        if (failedPolls === 1) problems.push(`/metrics: ${err instanceof Error ? err.message : String(err)}`);
        return '';
      },
    );
    if (text === '') continue;
    maxAwaiting = Math.max(maxAwaiting, parseValue(text, 'ballast_restart_grace_awaiting_hosts') ?? 0);
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
  const unreachableSample: string[] = [];
  const unreachableAt: number[] = [];
  const rows = withEvents(c.dataDir, (db) => db.prepare<[number], EventRow>('SELECT id, ts, host_name, kind, data_json FROM events WHERE id > ? ORDER BY id').all(mark));
  for (const e of rows) {
    const data = JSON.parse(e.data_json) as { to?: unknown; coalesced?: unknown };
    if (e.kind === 'state' && data.to === 'unreachable') {
      unreachableEvents += 1;
      unreachableAt.push(Math.round((e.ts - readyAt) / 100) / 10);
      if (unreachableSample.length < 10 && e.host_name !== null) unreachableSample.push(e.host_name);
    }
    if ((e.kind === 'connected' || e.kind === 'disconnected') && e.host_name !== null) connectionRows += 1;
    if (e.host_name === null && typeof data.coalesced === 'number') summaryRows += 1;
  }
  return {
    signal: o.settings.signal,
    agents: o.agents,
    restartSeconds: Math.round((readyAt - stoppedAt) / 100) / 10,
    allConnectedSeconds,
    allHealthySeconds,
    maxUnreachable,
    unreachableEvents,
    unreachableSample,
    unreachableFromSeconds: unreachableAt.length === 0 ? null : Math.min(...unreachableAt),
    unreachableToSeconds: unreachableAt.length === 0 ? null : Math.max(...unreachableAt),
    maxAwaiting,
    failedPolls,
    eventRows: rows.length,
    connectionRows,
    summaryRows,
    rssMbPeak: w.rssMbPeak,
    rssMbEnd: w.rssMbEnd,
    cpuPercent: w.cpuPercent,
    problems,
  };
}

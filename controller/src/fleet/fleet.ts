/**
 * Builds the fleet: one event bus, the tracker (live state) committing its transitions to the
 * store, the directory over both, and the session reports. The composition root (controller.ts)
 * calls it once and hands the tracker to the hub and API, the directory to everything else.
 */
import type { Logger } from 'pino';
import { HostTracker } from '../hub/host-tracker.js';
import type { Store } from '../store/store.js';
import { type HostDirectory, StoreHostDirectory } from './directory.js';
import { type HostEvent, HostEventBus } from './events.js';
import { HEALTH_REFRESH_MS, ReportMemo } from './report-memo.js';
import { createHostReports, type HostReports } from './reports.js';

/** Options of {@link createFleet}. */
export interface FleetOptions {
  store: Pick<Store, 'db' | 'hosts' | 'healthSamples'>;
  log: Logger;
  /** Silence before a host is unreachable (the tracker's default when absent). */
  unreachableAfterMs?: number;
  now?: () => number;
  /** Receives what a host-event subscriber threw (see HostEventBusOptions). */
  onListenerError?: (err: unknown, event: HostEvent) => void;
  /** Unchanged health is stored at most this often; default {@link HEALTH_REFRESH_MS}. */
  healthRefreshMs?: number;
}

/** The parts {@link createFleet} builds. */
export interface Fleet {
  /** Live state; the hub feeds it, the API reads counts from it. */
  readonly tracker: HostTracker;
  readonly directory: HostDirectory;
  /** The host writes of the sessions' store port. */
  readonly reports: HostReports;
  /** What the reports know is stored; seed it with the stored hosts at start. */
  readonly memo: ReportMemo;
}

/** Builds the fleet over the store; the tracker is not started or loaded (the composition root does both). */
export function createFleet(opts: FleetOptions): Fleet {
  const events = new HostEventBus({ onListenerError: opts.onListenerError });
  const tracker = new HostTracker({
    log: opts.log.child({ component: 'tracker' }),
    now: opts.now,
    unreachableAfterMs: opts.unreachableAfterMs,
    events,
    // The commit only; metrics and the event log subscribe to host.state-changed (journal.ts).
    sink: { transition: (change) => opts.store.hosts.setState(change.hostId, change.to, change.at) },
  });
  const memo = new ReportMemo({ healthRefreshMs: opts.healthRefreshMs ?? HEALTH_REFRESH_MS });
  events.on('host.removed', (e) => memo.forget(e.host.id));
  return {
    tracker,
    directory: new StoreHostDirectory({ inventory: opts.store.hosts, live: tracker, events }),
    reports: createHostReports({ store: opts.store, live: tracker, events, memo }),
    memo,
  };
}

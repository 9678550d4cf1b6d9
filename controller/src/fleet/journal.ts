/**
 * The state-change subscriber: every transition is counted and written to the event log
 * (README "Host states": every transition is an event, `ballastctl events`).
 */
import type { ControllerMetrics } from '../metrics.js';
import type { NewEvent } from '../store/events.js';
import type { HostEventSource } from './events.js';

/** What {@link recordTransitions} writes to. */
export interface TransitionRecordOptions {
  metrics: Pick<ControllerMetrics, 'hostTransitions'>;
  /** The event log (store.events). */
  journal: { append(event: NewEvent): unknown };
}

/** Subscribes the metric and the event log to `host.state-changed`; returns the unsubscribe. */
export function recordTransitions(source: HostEventSource, opts: TransitionRecordOptions): () => void {
  return source.on('host.state-changed', (change) => {
    opts.metrics.hostTransitions.inc({ to: change.to });
    opts.journal.append({
      host: change.host.name,
      kind: 'state',
      message: `${change.from} → ${change.to}: ${change.reason}`,
      data: { from: change.from, to: change.to },
    });
  });
}

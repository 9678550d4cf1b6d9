/**
 * The controller's alerting metrics, wired once by the composition root (controller.ts): the
 * scrape-time gauges (collectors.ts) and the counters of the agents' own component events. What
 * each alert in controller/prometheus/ballast-rules.yaml reads is listed in that file.
 */
import { Counter, type Registry } from 'prom-client';
import type { LiveHost } from '../hub/host-tracker.js';
import type { Database } from '../store/db.js';
import type { EventListener } from '../store/events.js';
import { type OwnCertificate, registerCollectors } from './collectors.js';
import { Membership } from './membership.js';
import { MonitoringReadModel } from './read-model.js';

/** The event log's subscription (store.events). */
export interface MonitoringEventsPort {
  onAppend(listener: EventListener): () => void;
}

/** Options of {@link installMonitoring}. */
export interface MonitoringOptions {
  registry: Registry;
  db: Database;
  events: MonitoringEventsPort;
  hosts: () => Iterable<LiveHost>;
  ownCertificates: readonly OwnCertificate[];
  /** Where a failed gauge's error goes (the gauge is left empty for that scrape). */
  onError: (err: unknown, metric: string) => void;
  now?: () => number;
}

/** The installed monitoring; `close` stops counting events. */
export interface Monitoring {
  close(): void;
}

/** A component name as agents send it (components.d file names): bounded so a label cannot grow without limit. */
const COMPONENT = /^[a-z0-9][a-z0-9._-]{0,62}$/;

/** Registers the gauges and starts counting component events. */
export function installMonitoring(options: MonitoringOptions): Monitoring {
  const now = options.now ?? Date.now;
  const queries = new MonitoringReadModel(options.db);
  const membership = new Membership({ source: queries, now });
  registerCollectors({
    registry: options.registry,
    queries,
    membership,
    hosts: options.hosts,
    ownCertificates: options.ownCertificates,
    now,
    onError: options.onError,
  });

  const registers = [options.registry];
  const labelNames = ['cluster', 'host', 'component'] as const;
  const repairs = new Counter({
    name: 'ballast_component_repairs_total',
    help: 'Components an agent found broken and brought back by restarting them (agent component.repaired events)',
    labelNames,
    registers,
  });
  const failures = new Counter({
    name: 'ballast_component_failures_total',
    help: 'Failed component probes an agent answered with a restart (agent component.failed events)',
    labelNames,
    registers,
  });
  const unsubscribe = options.events.onAppend((e) => {
    const counter = e.kind === 'agent.component.repaired' ? repairs : e.kind === 'agent.component.failed' ? failures : null;
    if (counter === null || e.host === null) return;
    const component = e.data.component;
    if (typeof component !== 'string' || !COMPONENT.test(component)) return;
    // The membership query can fail like any store read; the event still counts, without its cluster.
    let cluster = '';
    try {
      cluster = membership.clusterOf(e.host);
    } catch (err) {
      options.onError(err, 'ballast_component_repairs_total');
    }
    counter.inc({ cluster, host: e.host, component });
  });
  return { close: unsubscribe };
}

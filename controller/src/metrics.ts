import type { AutoReplaceState } from './membership/auto-replacer.js';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * The controller's Prometheus metrics, on a registry of its own (not prom-client's global) so that
 * several controllers can live in one test process.
 */
export interface ControllerMetrics {
  registry: Registry;
  agentsConnected: Gauge;
  hostsByState: Gauge<'state'>;
  heartbeatLag: Gauge;
  heartbeatStoreSeconds: Histogram;
  heartbeatBatchRows: Histogram;
  messages: Counter<'type'>;
  framesRejected: Counter<'reason'>;
  authRejected: Counter<'reason'>;
  enrolments: Counter<'outcome'>;
  hostTransitions: Counter<'to'>;
  /** JSON refused for nesting deeper than MAX_JSON_DEPTH, before it was parsed (`channel`: http or ws). */
  jsonTooDeep: Counter<'channel'>;
  /** Agent `event` frames dropped (`reason`: rate — over the per-session token bucket). */
  agentEventsDropped: Counter<'reason'>;
  /** Hosts that entered the identity-conflict flag (two live agents with one certificate). */
  identityConflicts: Counter;
  /** Hosts flagged `conflict` now (set when /metrics is scraped). */
  hostsInConflict: Gauge;
  /** Hosts loaded at start whose agent has not reconnected while the restart grace lasts (set when scraped). */
  restartGraceAwaiting: Gauge;
  /** List responses cut at their byte budget (`route`). */
  listTruncated: Counter<'route'>;
  /** 1 on the VIP's holder, 0 on its other candidates (refreshed by the VIP poll, vip/service.ts). */
  vipHolder: Gauge<'vip' | 'host'>;
  /** Acquisitions, counted from the agents' `vip.acquired` events as they arrive. */
  vipTransitions: Counter<'vip'>;
  /** Automatic node replacements: started, refused (by a gate), held (too much of a cluster down). */
  replacements: Counter<'outcome'>;
  autoReplaceDecision: Gauge<'cluster' | 'decision'>;
  autoReplaceHostsDown: Gauge<'cluster'>;
  autoReplaceSparesUsable: Gauge<'cluster'>;
  /** The agents' own lease renewal round trips (p50/p99 over their last renewals). */
  vipRenewRtt: Gauge<'vip' | 'host' | 'quantile'>;
  /** Reachable hosts whose own report says they hold the VIP (the alert wants exactly 1; refreshed by the VIP poll). */
  vipHolders: Gauge<'vip'>;
  /** The holder's term (fencing token: the holder key's etcd create_revision); a change is a new holding. */
  vipTerm: Gauge<'vip'>;
}

/** Creates the metrics. `collectProcess` adds prom-client's default process metrics (CPU, RSS …). */
export function createMetrics(options: { collectProcess?: boolean } = {}): ControllerMetrics {
  const registry = new Registry();
  if (options.collectProcess !== false) collectDefaultMetrics({ register: registry, prefix: 'ballast_controller_' });
  const registers = [registry];
  return {
    registry,
    agentsConnected: new Gauge({ name: 'ballast_agents_connected', help: 'Authenticated agent sessions open now', registers }),
    hostsByState: new Gauge({ name: 'ballast_hosts', help: 'Enrolled hosts by state', labelNames: ['state'], registers }),
    heartbeatLag: new Gauge({
      name: 'ballast_heartbeat_lag_seconds',
      help: 'Age of the oldest last heartbeat among connected agents',
      registers,
    }),
    heartbeatStoreSeconds: new Histogram({
      name: 'ballast_heartbeat_store_seconds',
      help: 'Time from a heartbeat frame arriving to its batch being committed to the store',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers,
    }),
    heartbeatBatchRows: new Histogram({
      name: 'ballast_heartbeat_batch_rows',
      help: 'Rows written per heartbeat batch transaction',
      buckets: [1, 10, 100, 500, 1000, 2500, 5000, 10000],
      registers,
    }),
    messages: new Counter({ name: 'ballast_messages_total', help: 'Agent frames accepted, by type', labelNames: ['type'], registers }),
    framesRejected: new Counter({
      name: 'ballast_frames_rejected_total',
      help: 'Agent frames rejected, by reason (error code)',
      labelNames: ['reason'],
      registers,
    }),
    authRejected: new Counter({
      name: 'ballast_auth_rejected_total',
      help: 'Refused agent connections and API calls, by reason',
      labelNames: ['reason'],
      registers,
    }),
    enrolments: new Counter({ name: 'ballast_enrolments_total', help: 'Join attempts by outcome', labelNames: ['outcome'], registers }),
    hostTransitions: new Counter({
      name: 'ballast_host_transitions_total',
      help: 'Host state transitions, by new state',
      labelNames: ['to'],
      registers,
    }),
    jsonTooDeep: new Counter({
      name: 'ballast_json_too_deep_total',
      help: 'JSON documents refused for nesting deeper than the limit, by channel (http, ws)',
      labelNames: ['channel'],
      registers,
    }),
    agentEventsDropped: new Counter({
      name: 'ballast_agent_events_dropped_total',
      help: 'Agent event frames dropped, by reason (rate: over the per-session bound)',
      labelNames: ['reason'],
      registers,
    }),
    identityConflicts: new Counter({
      name: 'ballast_identity_conflicts_total',
      help: 'Times a host was flagged conflict: two live agents with one certificate replacing each other',
      registers,
    }),
    hostsInConflict: new Gauge({ name: 'ballast_hosts_in_conflict', help: 'Hosts flagged conflict now', registers }),
    restartGraceAwaiting: new Gauge({
      name: 'ballast_restart_grace_awaiting_hosts',
      help: 'Hosts loaded at start whose agent has not reconnected yet while the restart grace lasts (0 once it is over)',
      registers,
    }),
    listTruncated: new Counter({
      name: 'ballast_list_truncated_total',
      help: 'List responses cut at their byte budget, by route',
      labelNames: ['route'],
      registers,
    }),
    vipHolder: new Gauge({ name: 'ballast_vip_holder', help: 'VIP holder: 1 on the holding host, 0 on the other candidates', labelNames: ['vip', 'host'], registers }),
    vipTransitions: new Counter({ name: 'ballast_vip_transitions_total', help: 'VIP acquisitions reported by agents (failovers and handovers)', labelNames: ['vip'], registers }),
    replacements: new Counter({ name: 'ballast_replacements_total', help: 'Automatic node replacements by outcome (started, refused, held)', labelNames: ['outcome'], registers }),
    autoReplaceDecision: new Gauge({
      name: 'ballast_autoreplace_decision',
      help: "Automatic replacement's current decision per cluster with a policy: 1 on the decision in force (none, wait, hold, replace), 0 on the others",
      labelNames: ['cluster', 'decision'],
      registers,
    }),
    autoReplaceHostsDown: new Gauge({ name: 'ballast_autoreplace_hosts_down', help: 'Hosts of a cluster with an automatic replacement policy that are down (unreachable) now', labelNames: ['cluster'], registers }),
    autoReplaceSparesUsable: new Gauge({ name: 'ballast_autoreplace_spares_usable', help: "Spares of a cluster's automatic replacement policy that are usable now (enrolled, connected, in no cluster)", labelNames: ['cluster'], registers }),
    vipRenewRtt: new Gauge({
      name: 'ballast_vip_renew_rtt_seconds',
      help: "VIP lease renewal round trip as the agent measured it, quantile over its last renewals (0.5, 0.99)",
      labelNames: ['vip', 'host', 'quantile'],
      registers,
    }),
    vipHolders: new Gauge({
      name: 'ballast_vip_holders',
      help: 'Reachable hosts that report holding the VIP themselves (1 is right; 0 or 2+ is an outage or split brain)',
      labelNames: ['vip'],
      registers,
    }),
    vipTerm: new Gauge({ name: 'ballast_vip_term', help: "The VIP holder's term (etcd create_revision of its holder key)", labelNames: ['vip'], registers }),
  };
}

const AUTO_DECISIONS = ['none', 'wait', 'hold', 'replace'] as const;

/** Sets the `ballast_autoreplace_*` gauges from a tick's states; clusters no longer reported lose their series. */
export function reportAutoReplace(metrics: Pick<ControllerMetrics, 'autoReplaceDecision' | 'autoReplaceHostsDown' | 'autoReplaceSparesUsable'>, states: readonly AutoReplaceState[]): void {
  metrics.autoReplaceDecision.reset();
  metrics.autoReplaceHostsDown.reset();
  metrics.autoReplaceSparesUsable.reset();
  for (const s of states) {
    for (const d of AUTO_DECISIONS) metrics.autoReplaceDecision.set({ cluster: s.cluster, decision: d }, d === s.decision ? 1 : 0);
    metrics.autoReplaceHostsDown.set({ cluster: s.cluster }, s.hostsDown);
    metrics.autoReplaceSparesUsable.set({ cluster: s.cluster }, s.sparesUsable);
  }
}

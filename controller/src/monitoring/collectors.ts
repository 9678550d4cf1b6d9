/**
 * Scrape-time gauges for alerting (controller/prometheus/ballast-rules.yaml): per-host state and
 * heartbeat age with their cluster, failing checks, each cluster's etcd members as the agents see
 * them, operation state by kind, and the expiry of every certificate Ballast issued. Each gauge
 * is filled in its prom-client `collect`, so the figures are as fresh as the scrape and nothing
 * runs between scrapes. Series whose labels vanish (a removed host, a finished operation) are
 * dropped because every collect starts from `reset()`.
 */
import { X509Certificate } from 'node:crypto';
import { Gauge, type Registry } from 'prom-client';
import type { HostState } from '../../../shared/src/api.js';
import type { LiveHost } from '../hub/host-tracker.js';
import type { Membership } from './membership.js';
import type { ExpiryRow, LatestOperationRow, OperationCountRow } from './read-model.js';

/** The store queries the collectors need (MonitoringReadModel). */
export interface MonitoringQueries {
  latestOperations(): LatestOperationRow[];
  operationCounts(): OperationCountRow[];
  expiries(): ExpiryRow[];
}

/** A certificate the controller holds itself (its CA, its serving certificate), as PEM. */
export interface OwnCertificate {
  /** The `cert` label, e.g. `controller-ca`. */
  name: string;
  kind: 'ca' | 'cert';
  pem: string;
}

/** Options of {@link registerCollectors}. */
export interface CollectorOptions {
  registry: Registry;
  queries: MonitoringQueries;
  membership: Membership;
  /** The live hosts (HostTracker.all). */
  hosts: () => Iterable<LiveHost>;
  ownCertificates: readonly OwnCertificate[];
  now: () => number;
  /**
   * A gauge whose source failed (e.g. the store is busy or damaged): it is left empty for this
   * scrape and the error reported here, so one broken query never fails the whole /metrics.
   */
  onError: (err: unknown, metric: string) => void;
}

const STATES: readonly HostState[] = ['pending', 'healthy', 'degraded', 'unreachable'];

/** The supervised-component check whose failure means a host's etcd member is down (agent/src/components). */
export const ETCD_CHECK = 'component:etcd';

/** `etcd-server:etcd-1` → cert `etcd-server`, host `etcd-1`; a CA or cluster-wide item has no host. */
export function splitPkiName(name: string): { cert: string; host: string } {
  const at = name.indexOf(':');
  return at < 0 ? { cert: name, host: '' } : { cert: name.slice(0, at), host: name.slice(at + 1) };
}

/** A gauge refilled from scratch at every scrape by `fill`; a throwing `fill` leaves it empty (see onError). */
function scrapeGauge<L extends string>(
  options: Pick<CollectorOptions, 'registry' | 'onError'>,
  config: { name: string; help: string; labelNames: readonly L[] },
  fill: (gauge: Gauge<L>) => void,
): Gauge<L> {
  const gauge: Gauge<L> = new Gauge<L>({
    ...config,
    registers: [options.registry],
    collect() {
      gauge.reset();
      try {
        fill(gauge);
      } catch (err) {
        gauge.reset();
        options.onError(err, config.name);
      }
    },
  });
  return gauge;
}

/** Registers the gauges; they read through `options` at every scrape. */
export function registerCollectors(options: CollectorOptions): void {
  const { queries, membership, now } = options;
  const own = options.ownCertificates.map((c) => ({ ...c, notAfter: Date.parse(new X509Certificate(c.pem).validTo) }));

  scrapeGauge(
    options,
    { name: 'ballast_host_cluster_info', help: 'Always 1: the cluster whose spec lists the host (for joins in dashboards)', labelNames: ['cluster', 'host'] },
    (g) => {
      for (const m of membership.rows()) g.set({ cluster: m.cluster, host: m.host }, 1);
    },
  );
  scrapeGauge(
    options,
    {
      name: 'ballast_host_state',
      help: "1 for the host's current state (pending, healthy, degraded, unreachable), 0 for the others",
      labelNames: ['cluster', 'host', 'state'],
    },
    (g) => {
      for (const h of options.hosts()) {
        const cluster = membership.clusterOf(h.name);
        for (const state of STATES) g.set({ cluster, host: h.name, state }, h.state === state ? 1 : 0);
      }
    },
  );
  scrapeGauge(
    options,
    { name: 'ballast_host_heartbeat_age_seconds', help: 'Seconds since the host last sent a heartbeat (hosts that ever sent one)', labelNames: ['cluster', 'host'] },
    (g) => {
      const t = now();
      for (const h of options.hosts()) {
        if (h.lastHeartbeatAt !== null) g.set({ cluster: membership.clusterOf(h.name), host: h.name }, Math.max(0, t - h.lastHeartbeatAt) / 1000);
      }
    },
  );
  scrapeGauge(
    options,
    {
      name: 'ballast_host_check_failing',
      help: "1 for every check failing in the host's latest health snapshot (component:etcd, vip, disk-space:/ …)",
      labelNames: ['cluster', 'host', 'check'],
    },
    (g) => {
      for (const h of options.hosts()) {
        for (const check of h.failingChecks) g.set({ cluster: membership.clusterOf(h.name), host: h.name, check }, 1);
      }
    },
  );
  registerEtcdGauges(options);
  scrapeGauge(options, { name: 'ballast_operations', help: 'Operations (not check mode) by kind and state', labelNames: ['kind', 'state'] }, (g) => {
    for (const r of queries.operationCounts()) g.set({ kind: r.kind, state: r.state }, r.n);
  });
  scrapeGauge(
    options,
    {
      name: 'ballast_operation_latest',
      help: 'Always 1: the newest operation of each cluster and kind, with its state (a later success clears a failure)',
      labelNames: ['cluster', 'kind', 'operation', 'state'],
    },
    (g) => {
      for (const r of queries.latestOperations()) g.set({ cluster: r.cluster ?? '', kind: r.kind, operation: r.id, state: r.state }, 1);
    },
  );
  scrapeGauge(
    options,
    {
      name: 'ballast_certificate_expiry_timestamp_seconds',
      help: 'When a certificate or CA Ballast issued expires (Unix seconds): cluster PKI, agent and controller certificates',
      labelNames: ['cluster', 'host', 'cert', 'kind'],
    },
    (g) => {
      for (const r of queries.expiries()) {
        const at = r.notAfter / 1000;
        if (r.kind === 'agent') g.set({ cluster: membership.clusterOf(r.name), host: r.name, cert: 'agent-client', kind: 'cert' }, at);
        else {
          const { cert, host } = splitPkiName(r.name);
          g.set({ cluster: r.cluster ?? '', host, cert, kind: r.kind }, at);
        }
      }
      for (const c of own) g.set({ cluster: '', host: '', cert: c.name, kind: c.kind }, c.notAfter / 1000);
    },
  );
}

/**
 * Each cluster's etcd members as the agents report them: a member is healthy while its host
 * heartbeats (healthy or degraded) and its agent does not report the etcd component failing. This
 * is Ballast's view, available without scraping etcd; etcd's own metrics (scraped from the
 * members) back the etcd* alerts that need the leader, the DB size or fsync latency.
 */
function registerEtcdGauges(options: CollectorOptions): void {
  const { membership } = options;
  const healthyOf = () => {
    const live = new Map<string, LiveHost>();
    for (const h of options.hosts()) live.set(h.name, h);
    return (host: string) => {
      const h = live.get(host);
      return h !== undefined && (h.state === 'healthy' || h.state === 'degraded') && !h.failingChecks.includes(ETCD_CHECK);
    };
  };
  scrapeGauge(options, { name: 'ballast_etcd_members', help: "etcd members the cluster's spec lists (hosts with the etcd role)", labelNames: ['cluster'] }, (g) => {
    for (const m of membership.rows()) if (m.etcd) g.inc({ cluster: m.cluster });
  });
  scrapeGauge(
    options,
    {
      name: 'ballast_etcd_members_healthy',
      help: 'etcd members whose host heartbeats and whose agent does not report the etcd component failing',
      labelNames: ['cluster'],
    },
    (g) => {
      const ok = healthyOf();
      for (const m of membership.rows()) if (m.etcd) g.inc({ cluster: m.cluster }, ok(m.host) ? 1 : 0);
    },
  );
  scrapeGauge(
    options,
    {
      name: 'ballast_etcd_member_healthy',
      help: '1 while the etcd member on this host is healthy as its agent reports it (see ballast_etcd_members_healthy), else 0',
      labelNames: ['cluster', 'host'],
    },
    (g) => {
      const ok = healthyOf();
      for (const m of membership.rows()) if (m.etcd) g.set({ cluster: m.cluster, host: m.host }, ok(m.host) ? 1 : 0);
    },
  );
}

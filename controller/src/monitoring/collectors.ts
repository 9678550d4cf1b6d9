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
}

const STATES: readonly HostState[] = ['pending', 'healthy', 'degraded', 'unreachable'];

/** The supervised-component check whose failure means a host's etcd member is down (agent/src/components). */
export const ETCD_CHECK = 'component:etcd';

/** `etcd-server:etcd-1` → cert `etcd-server`, host `etcd-1`; a CA or cluster-wide item has no host. */
export function splitPkiName(name: string): { cert: string; host: string } {
  const at = name.indexOf(':');
  return at < 0 ? { cert: name, host: '' } : { cert: name.slice(0, at), host: name.slice(at + 1) };
}

/** Registers the gauges; they read through `options` at every scrape. */
export function registerCollectors(options: CollectorOptions): void {
  const { registry, queries, membership, now } = options;
  const registers = [registry];
  const own = options.ownCertificates.map((c) => ({ ...c, notAfter: Date.parse(new X509Certificate(c.pem).validTo) }));

  const clusterInfo = new Gauge({
    name: 'ballast_host_cluster_info',
    help: 'Always 1: the cluster whose spec lists the host (for joins in dashboards)',
    labelNames: ['cluster', 'host'],
    registers,
    collect() {
      clusterInfo.reset();
      for (const m of membership.rows()) clusterInfo.set({ cluster: m.cluster, host: m.host }, 1);
    },
  });

  const hostState = new Gauge({
    name: 'ballast_host_state',
    help: "1 for the host's current state (pending, healthy, degraded, unreachable), 0 for the others",
    labelNames: ['cluster', 'host', 'state'],
    registers,
    collect() {
      hostState.reset();
      for (const h of options.hosts()) {
        const cluster = membership.clusterOf(h.name);
        for (const state of STATES) hostState.set({ cluster, host: h.name, state }, h.state === state ? 1 : 0);
      }
    },
  });

  const heartbeatAge = new Gauge({
    name: 'ballast_host_heartbeat_age_seconds',
    help: 'Seconds since the host last sent a heartbeat (hosts that ever sent one)',
    labelNames: ['cluster', 'host'],
    registers,
    collect() {
      heartbeatAge.reset();
      const t = now();
      for (const h of options.hosts()) {
        if (h.lastHeartbeatAt !== null) heartbeatAge.set({ cluster: membership.clusterOf(h.name), host: h.name }, Math.max(0, t - h.lastHeartbeatAt) / 1000);
      }
    },
  });

  const checkFailing = new Gauge({
    name: 'ballast_host_check_failing',
    help: "1 for every check failing in the host's latest health snapshot (component:etcd, vip, disk-space:/ …)",
    labelNames: ['cluster', 'host', 'check'],
    registers,
    collect() {
      checkFailing.reset();
      for (const h of options.hosts()) {
        for (const check of h.failingChecks) checkFailing.set({ cluster: membership.clusterOf(h.name), host: h.name, check }, 1);
      }
    },
  });

  registerEtcdGauges(options, registers);

  const opCounts = new Gauge({
    name: 'ballast_operations',
    help: 'Operations (not check mode) by kind and state',
    labelNames: ['kind', 'state'],
    registers,
    collect() {
      opCounts.reset();
      for (const r of queries.operationCounts()) opCounts.set({ kind: r.kind, state: r.state }, r.n);
    },
  });

  const opLatest = new Gauge({
    name: 'ballast_operation_latest',
    help: 'Always 1: the newest operation of each cluster and kind, with its state (a later success clears a failure)',
    labelNames: ['cluster', 'kind', 'operation', 'state'],
    registers,
    collect() {
      opLatest.reset();
      for (const r of queries.latestOperations()) opLatest.set({ cluster: r.cluster ?? '', kind: r.kind, operation: r.id, state: r.state }, 1);
    },
  });

  const expiry = new Gauge({
    name: 'ballast_certificate_expiry_timestamp_seconds',
    help: 'When a certificate or CA Ballast issued expires (Unix seconds): cluster PKI, agent and controller certificates',
    labelNames: ['cluster', 'host', 'cert', 'kind'],
    registers,
    collect() {
      expiry.reset();
      for (const r of queries.expiries()) {
        const at = r.notAfter / 1000;
        if (r.kind === 'agent') expiry.set({ cluster: membership.clusterOf(r.name), host: r.name, cert: 'agent-client', kind: 'cert' }, at);
        else {
          const { cert, host } = splitPkiName(r.name);
          expiry.set({ cluster: r.cluster ?? '', host, cert, kind: r.kind }, at);
        }
      }
      for (const c of own) expiry.set({ cluster: '', host: '', cert: c.name, kind: c.kind }, c.notAfter / 1000);
    },
  });
}

/**
 * Each cluster's etcd members as the agents report them: a member is healthy while its host
 * heartbeats (healthy or degraded) and its agent does not report the etcd component failing. This
 * is Ballast's view, available without scraping etcd; etcd's own metrics (scraped from the
 * members) back the etcd* alerts that need the leader, the DB size or fsync latency.
 */
function registerEtcdGauges(options: CollectorOptions, registers: Registry[]): void {
  const { membership } = options;
  const healthyOf = () => {
    const live = new Map<string, LiveHost>();
    for (const h of options.hosts()) live.set(h.name, h);
    return (host: string) => {
      const h = live.get(host);
      return h !== undefined && (h.state === 'healthy' || h.state === 'degraded') && !h.failingChecks.includes(ETCD_CHECK);
    };
  };
  const expected = new Gauge({
    name: 'ballast_etcd_members',
    help: "etcd members the cluster's spec lists (hosts with the etcd role)",
    labelNames: ['cluster'],
    registers,
    collect() {
      expected.reset();
      for (const m of membership.rows()) if (m.etcd) expected.inc({ cluster: m.cluster });
    },
  });
  const healthy = new Gauge({
    name: 'ballast_etcd_members_healthy',
    help: 'etcd members whose host heartbeats and whose agent does not report the etcd component failing',
    labelNames: ['cluster'],
    registers,
    collect() {
      healthy.reset();
      const ok = healthyOf();
      for (const m of membership.rows()) if (m.etcd) healthy.inc({ cluster: m.cluster }, ok(m.host) ? 1 : 0);
    },
  });
  const member = new Gauge({
    name: 'ballast_etcd_member_healthy',
    help: '1 while the etcd member on this host is healthy as its agent reports it (see ballast_etcd_members_healthy), else 0',
    labelNames: ['cluster', 'host'],
    registers,
    collect() {
      member.reset();
      const ok = healthyOf();
      for (const m of membership.rows()) if (m.etcd) member.set({ cluster: m.cluster, host: m.host }, ok(m.host) ? 1 : 0);
    },
  });
}

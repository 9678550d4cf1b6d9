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

/** The supervised-component check whose failure means a host's etcd member is down (agent/src/components). */
export const ETCD_CHECK = 'component:etcd';

/** `etcd-server:etcd-1` → cert `etcd-server`, host `etcd-1`; a CA or cluster-wide item has no host. */
export function splitPkiName(name: string): { cert: string; host: string } {
  const at = name.indexOf(':');
  return at < 0 ? { cert: name, host: '' } : { cert: name.slice(0, at), host: name.slice(at + 1) };
}

/** One sample of a scrape-time gauge. */
interface Row<L extends string> {
  labels: Partial<Record<L, string | number>>;
  value: number;
}

/**
 * A gauge whose samples are computed at every scrape by `rows`, handed to prom-client as they are:
 * no per-sample `set` (prom-client hashes the labels of each one, ~16 µs: 0.65 s for the 40,000
 * host-state samples of 10,000 hosts, on the event loop the heartbeats share). A throwing `rows`
 * leaves the gauge empty for that scrape and goes to onError.
 */
class ScrapeGauge<L extends string> extends Gauge<L> {
  readonly #rows: () => Row<L>[];
  readonly #onError: (err: unknown) => void;

  constructor(config: { name: string; help: string; labelNames: readonly L[]; registry: Registry }, rows: () => Row<L>[], onError: (err: unknown) => void) {
    super({ name: config.name, help: config.help, labelNames: config.labelNames, registers: [config.registry] });
    this.#rows = rows;
    this.#onError = onError;
  }

  override async get() {
    const base = await super.get(); // name, help and type as prom-client spells them; its own values are empty
    try {
      return { ...base, values: this.#rows() };
    } catch (err) {
      this.#onError(err);
      return base;
    }
  }
}

function scrapeGauge<L extends string>(
  options: Pick<CollectorOptions, 'registry' | 'onError'>,
  config: { name: string; help: string; labelNames: readonly L[] },
  rows: () => Row<L>[],
): void {
  new ScrapeGauge<L>({ ...config, registry: options.registry }, rows, (err) => options.onError(err, config.name));
}

/** Counts per key as rows (`inc` without prom-client's per-call hashing). */
function counted<L extends string>(keys: Iterable<{ labels: Partial<Record<L, string>>; key: string; by: number }>): Row<L>[] {
  const out = new Map<string, Row<L>>();
  for (const k of keys) {
    const row = out.get(k.key);
    if (row === undefined) out.set(k.key, { labels: k.labels, value: k.by });
    else row.value += k.by;
  }
  return [...out.values()];
}

/** Registers the gauges; they read through `options` at every scrape. */
export function registerCollectors(options: CollectorOptions): void {
  const { queries, membership, now } = options;
  const own = options.ownCertificates.map((c) => ({ ...c, notAfter: Date.parse(new X509Certificate(c.pem).validTo) }));

  scrapeGauge(
    options,
    { name: 'ballast_host_cluster_info', help: 'Always 1: the cluster whose spec lists the host (for joins in dashboards)', labelNames: ['cluster', 'host'] },
    () => membership.rows().map((m) => ({ labels: { cluster: m.cluster, host: m.host }, value: 1 })),
  );
  scrapeGauge(
    options,
    {
      name: 'ballast_host_state',
      help: "Always 1, labelled with the host's current state (pending, healthy, degraded, unreachable)",
      labelNames: ['cluster', 'host', 'state'],
    },
    // One series per host, not one per state: 10,000 hosts cost 10,000 samples a scrape, not 40,000.
    () => {
      const rows: Row<'cluster' | 'host' | 'state'>[] = [];
      for (const h of options.hosts()) rows.push({ labels: { cluster: membership.clusterOf(h.name), host: h.name, state: h.state }, value: 1 });
      return rows;
    },
  );
  scrapeGauge(
    options,
    { name: 'ballast_host_heartbeat_age_seconds', help: 'Seconds since the host last sent a heartbeat (hosts that ever sent one)', labelNames: ['cluster', 'host'] },
    () => {
      const t = now();
      const rows: Row<'cluster' | 'host'>[] = [];
      for (const h of options.hosts()) {
        if (h.lastHeartbeatAt !== null) rows.push({ labels: { cluster: membership.clusterOf(h.name), host: h.name }, value: Math.max(0, t - h.lastHeartbeatAt) / 1000 });
      }
      return rows;
    },
  );
  scrapeGauge(
    options,
    {
      name: 'ballast_host_check_failing',
      help: "1 for every check failing in the host's latest health snapshot (component:etcd, vip, disk-space:/ …)",
      labelNames: ['cluster', 'host', 'check'],
    },
    () => {
      const rows: Row<'cluster' | 'host' | 'check'>[] = [];
      for (const h of options.hosts()) {
        for (const check of new Set(h.failingChecks)) rows.push({ labels: { cluster: membership.clusterOf(h.name), host: h.name, check }, value: 1 });
      }
      return rows;
    },
  );
  registerEtcdGauges(options);
  scrapeGauge(options, { name: 'ballast_operations', help: 'Operations (not check mode) by kind and state', labelNames: ['kind', 'state'] }, () =>
    queries.operationCounts().map((r) => ({ labels: { kind: r.kind, state: r.state }, value: r.n })),
  );
  scrapeGauge(
    options,
    {
      name: 'ballast_operation_latest',
      help: 'Always 1: the newest operation of each cluster and kind, with its state (a later success clears a failure)',
      labelNames: ['cluster', 'kind', 'operation', 'state'],
    },
    () => queries.latestOperations().map((r) => ({ labels: { cluster: r.cluster ?? '', kind: r.kind, operation: r.id, state: r.state }, value: 1 })),
  );
  scrapeGauge(
    options,
    {
      name: 'ballast_certificate_expiry_timestamp_seconds',
      help: 'When a certificate or CA Ballast issued expires (Unix seconds): cluster PKI, agent and controller certificates',
      labelNames: ['cluster', 'host', 'cert', 'kind'],
    },
    () => {
      const rows: Row<'cluster' | 'host' | 'cert' | 'kind'>[] = queries.expiries().map((r) => {
        const value = r.notAfter / 1000;
        if (r.kind === 'agent') return { labels: { cluster: membership.clusterOf(r.name), host: r.name, cert: 'agent-client', kind: 'cert' }, value };
        const { cert, host } = splitPkiName(r.name);
        return { labels: { cluster: r.cluster ?? '', host, cert, kind: r.kind }, value };
      });
      for (const c of own) rows.push({ labels: { cluster: '', host: '', cert: c.name, kind: c.kind }, value: c.notAfter / 1000 });
      return rows;
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
  scrapeGauge(options, { name: 'ballast_etcd_members', help: "etcd members the cluster's spec lists (hosts with the etcd role)", labelNames: ['cluster'] }, () =>
    counted(membership.rows().flatMap((m) => (m.etcd ? [{ labels: { cluster: m.cluster }, key: m.cluster, by: 1 }] : []))),
  );
  scrapeGauge(
    options,
    {
      name: 'ballast_etcd_members_healthy',
      help: 'etcd members whose host heartbeats and whose agent does not report the etcd component failing',
      labelNames: ['cluster'],
    },
    () => {
      const ok = healthyOf();
      return counted(membership.rows().flatMap((m) => (m.etcd ? [{ labels: { cluster: m.cluster }, key: m.cluster, by: ok(m.host) ? 1 : 0 }] : [])));
    },
  );
  scrapeGauge(
    options,
    {
      name: 'ballast_etcd_member_healthy',
      help: '1 while the etcd member on this host is healthy as its agent reports it (see ballast_etcd_members_healthy), else 0',
      labelNames: ['cluster', 'host'],
    },
    () => {
      const ok = healthyOf();
      return membership.rows().flatMap((m) => (m.etcd ? [{ labels: { cluster: m.cluster, host: m.host }, value: ok(m.host) ? 1 : 0 }] : []));
    },
  );
}

#!/usr/bin/env node
// Writes controller/prometheus/ballast-dashboard.json, the Grafana dashboard the controller package
// ships (README "Monitoring"). The panels are listed here as data, one line each, and laid out on a
// 3-column grid; edit this file and run it rather than editing the JSON by hand.
//   node scripts/grafana-dashboard.mjs          write the JSON
//   node scripts/grafana-dashboard.mjs --check  exit 1 when the committed JSON differs (a test runs this)
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const OUT = join(dirname(fileURLToPath(import.meta.url)), '..', 'controller', 'prometheus', 'ballast-dashboard.json');
// Grafana's variable syntax, not a JavaScript template: the data source picked at import.
const DS = { type: 'prometheus', uid: '$' + '{datasource}' };
const C = 'cluster=~"$cluster"';
const E = 'job=~".*etcd.*", cluster=~"$cluster"';
const VIP = 'vip=~"$cluster"'; // a Ballast VIP is named after its cluster

/** [type, title, [[expr, legend], …], unit, description] per panel, by row. */
const ROWS = [
  ['Fleet health', [
    ['stat', 'Hosts by state', [[`count by (state) (ballast_host_state{${C}})`, '{{state}}']], 'none', 'Hosts per state now (pending, healthy, degraded, unreachable).'],
    ['table', 'Hosts not healthy', [[`ballast_host_state{${C}, state=~"unreachable|degraded|pending"} == 1`, '{{host}} {{state}}']], 'none', 'Hosts unreachable, degraded or still pending; `ballastctl host NAME` says why.'],
    ['stat', 'Agents connected', [['ballast_agents_connected', 'connected']], 'none', 'Authenticated agent sessions open now.'],
    ['timeseries', 'Heartbeat age per host', [[`ballast_host_heartbeat_age_seconds{${C}}`, '{{host}}']], 's', "Seconds since each host's last heartbeat (sent every 1 s; unreachable after 3 s)."],
    ['timeseries', 'Host state changes', [['sum by (to) (increase(ballast_host_transitions_total[$__rate_interval]))', 'to {{to}}']], 'none', 'Host state transitions, by the state entered.'],
    ['table', 'Failing checks', [[`ballast_host_check_failing{${C}} == 1`, '{{host}} {{check}}']], 'none', "Checks failing in each host's latest health snapshot."],
    ['timeseries', 'Component repairs (1 h)', [[`sum by (cluster, host, component) (increase(ballast_component_repairs_total{${C}}[1h]))`, '{{host}} {{component}}']], 'none', 'Components the agents restarted back to health.'],
    ['timeseries', 'Controller heartbeat lag and store p99', [
      ['ballast_heartbeat_lag_seconds', 'oldest heartbeat of a connected agent'],
      ['histogram_quantile(0.99, sum by (le) (rate(ballast_heartbeat_store_seconds_bucket[$__rate_interval])))', 'store p99'],
    ], 's', 'How late the controller hears and stores heartbeats.'],
  ]],
  ['VIP', [
    ['timeseries', 'VIP holder', [[`ballast_vip_holder{${VIP}}`, '{{vip}} {{host}}']], 'none', '1 on the host that holds the VIP (a VIP is named after its cluster).'],
    ['stat', 'Hosts holding the VIP (want 1)', [[`ballast_vip_holders{${VIP}}`, '{{vip}}']], 'none', 'Reachable hosts that report holding it: 0 is an outage, 2+ a split brain.'],
    ['timeseries', 'VIP term', [[`ballast_vip_term{${VIP}}`, '{{vip}}']], 'none', "The holder's fencing term; a step is a new holding."],
    ['timeseries', 'VIP transitions (15 m)', [[`increase(ballast_vip_transitions_total{${VIP}}[15m])`, '{{vip}}']], 'none', 'Acquisitions reported by the agents.'],
    ['timeseries', 'VIP renew round trip', [[`ballast_vip_renew_rtt_seconds{${VIP}}`, '{{host}} p{{quantile}}']], 's', 'Lease renewal round trip per candidate (renewals above maxRenewRttMs, 500 ms, are refused).'],
  ]],
  ['etcd', [
    ['stat', 'Members healthy / listed (Ballast)', [[`ballast_etcd_members_healthy{${C}}`, '{{cluster}} healthy'], [`ballast_etcd_members{${C}}`, '{{cluster}} listed']], 'none', "etcd members as the agents report them, against the spec's member count."],
    ['timeseries', 'Members up (scraped)', [[`up{${E}}`, '{{cluster}} {{host}}']], 'none', "Prometheus reaches each member's metrics endpoint."],
    ['timeseries', 'Has leader', [[`etcd_server_has_leader{${E}}`, '{{cluster}} {{host}}']], 'none', '1 while the member knows a leader.'],
    ['timeseries', 'Leader changes (1 h)', [[`increase(etcd_server_leader_changes_seen_total{${E}}[1h])`, '{{cluster}} {{host}}']], 'none', 'Leader changes each member saw.'],
    ['timeseries', 'DB size and quota', [[`etcd_mvcc_db_total_size_in_bytes{${E}}`, '{{host}} size'], [`etcd_server_quota_backend_bytes{${E}}`, '{{host}} quota']], 'bytes', 'Alerts at 80 % (warning) and 95 % (critical) of the quota.'],
    ['timeseries', 'WAL fsync p99', [[`histogram_quantile(0.99, sum by (cluster, host, le) (rate(etcd_disk_wal_fsync_duration_seconds_bucket{${E}}[$__rate_interval])))`, '{{cluster}} {{host}}']], 's', 'Above 0.5 s etcd suffers; above 1 s leader elections follow.'],
  ]],
  ['Operations', [
    ['table', 'Latest operation per cluster and kind', [[`ballast_operation_latest{${C}}`, '{{cluster}} {{kind}} {{operation}} {{state}}']], 'none', 'The newest operation of each cluster and kind, with its state.'],
    ['timeseries', 'Operations by state', [['sum by (kind, state) (ballast_operations)', '{{kind}} {{state}}']], 'none', 'All operations (not check mode) by kind and state.'],
  ]],
  ['Certificates', [
    ['table', 'Days left, soonest first', [[`sort((ballast_certificate_expiry_timestamp_seconds{${C}} - time()) / 86400)`, '{{cluster}} {{host}} {{cert}}']], 'd', 'Every certificate and CA Ballast issued: cluster PKI, agents, the controller. Alerts below 30 and 7 days.'],
  ]],
];

/** The dashboard as Grafana's JSON model (schemaVersion 39), rows stacked, 3 panels of 8×8 per line. */
export function dashboard() {
  const panels = [];
  let id = 1;
  let y = 0;
  for (const [rowTitle, items] of ROWS) {
    panels.push({ id: id++, type: 'row', title: rowTitle, collapsed: false, gridPos: { h: 1, w: 24, x: 0, y }, panels: [] });
    y += 1;
    let x = 0;
    for (const [type, title, targets, unit, description] of items) {
      if (x + 8 > 24) {
        x = 0;
        y += 8;
      }
      const defaults = { unit };
      if (title.startsWith('Days left')) {
        defaults.thresholds = { mode: 'absolute', steps: [{ color: 'red', value: null }, { color: 'orange', value: 7 }, { color: 'green', value: 30 }] };
      }
      panels.push({
        id: id++,
        type,
        title,
        description,
        datasource: DS,
        gridPos: { h: 8, w: 8, x, y },
        fieldConfig: { defaults, overrides: [] },
        options: {},
        targets: targets.map(([expr, legendFormat], i) => ({
          refId: String.fromCharCode(65 + i),
          datasource: DS,
          expr,
          legendFormat,
          ...(type === 'table' ? { format: 'table', instant: true } : {}),
        })),
      });
      x += 8;
    }
    y += 8;
  }
  return {
    title: 'Ballast',
    uid: 'ballast-overview',
    description: 'Ballast fleet, VIP, etcd, operations and certificates (controller/prometheus/ballast-dashboard.json; README "Monitoring").',
    tags: ['ballast', 'kubernetes', 'etcd'],
    schemaVersion: 39,
    version: 1,
    editable: true,
    graphTooltip: 1,
    time: { from: 'now-6h', to: 'now' },
    refresh: '30s',
    templating: {
      list: [
        { name: 'datasource', label: 'Prometheus', type: 'datasource', query: 'prometheus', current: {}, hide: 0 },
        {
          name: 'cluster',
          label: 'Cluster',
          type: 'query',
          datasource: DS,
          query: { query: 'label_values(ballast_host_cluster_info, cluster)', refId: 'cluster' },
          definition: 'label_values(ballast_host_cluster_info, cluster)',
          refresh: 2,
          includeAll: true,
          allValue: '.*',
          multi: true,
          current: { selected: true, text: ['All'], value: ['$__all'] },
          sort: 1,
          hide: 0,
        },
      ],
    },
    annotations: { list: [] },
    panels,
  };
}

const text = `${JSON.stringify(dashboard(), null, 2)}\n`;
if (process.argv.includes('--check')) {
  if (readFileSync(OUT, 'utf8') !== text) {
    console.error(`${OUT} is not what scripts/grafana-dashboard.mjs generates: run node scripts/grafana-dashboard.mjs`);
    process.exit(1);
  }
} else {
  writeFileSync(`${OUT}.tmp`, text);
  renameSync(`${OUT}.tmp`, OUT);
}

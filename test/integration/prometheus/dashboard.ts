/**
 * The shipped Grafana dashboard's panels and their evaluation against a real Prometheus, shared by
 * the integration test (instant queries against a controller with two agents) and the lab test
 * (range queries over the lab run, which feeds the panels this setup cannot: {@link NO_DATA_HERE}).
 */
import { readFile } from 'node:fs/promises';
import { DASHBOARD_FILE } from './files.js';
import type { RangeWindow, TestPrometheus } from './server.js';

/** One panel as the dashboard JSON has it (rows have no targets). */
export interface DashboardPanel {
  type: string;
  title: string;
  targets?: Array<{ expr: string }>;
}

/**
 * Panels the integration test's setup cannot feed, and why: it has no VIP election, no cluster (so
 * no cluster spec, etcd member list or operation) and no component the agents had to repair. Their
 * queries must still be valid there; the lab test (test/lab/prometheus.test.ts) feeds them all.
 */
export const NO_DATA_HERE: ReadonlyMap<string, string> = new Map([
  ['Failing checks', 'the test agents may have no failing check'],
  ['Component repairs (1 h)', 'no component was repaired'],
  ['VIP holder', 'no VIP election'],
  ['Hosts holding the VIP (want 1)', 'no VIP election'],
  ['VIP term', 'no VIP election'],
  ['VIP transitions (15 m)', 'no VIP election'],
  ['VIP renew round trip', 'no VIP election'],
  ['Members healthy / listed (Ballast)', 'no cluster has been created'],
  ['Latest operation per cluster and kind', 'no operation has run'],
  ['Operations by state', 'no operation has run'],
]);

/** Grafana's variables as they render for "All" over a 1 s scrape. */
export const renderExpr = (expr: string): string => expr.replaceAll('$cluster', '.*').replaceAll('$__rate_interval', '1m');

/** The dashboard's panels, rows left out. */
export async function dashboardPanels(): Promise<DashboardPanel[]> {
  const dashboard = JSON.parse(await readFile(DASHBOARD_FILE, 'utf8')) as { panels: DashboardPanel[] };
  return dashboard.panels.filter((p) => p.type !== 'row');
}

/** One panel query's outcome. */
export interface PanelResult {
  panel: string;
  expr: string;
  /** The API's error for an invalid query, else null. */
  error: string | null;
  /** Series returned (instant: at the query time; range: with any sample in the window). */
  series: number;
}

/**
 * Evaluates every target of every panel, rendered as Grafana would for "All": as an instant query,
 * or, with `window`, as a range query over it (what a dashboard over that time range shows).
 */
export async function evaluatePanels(prom: TestPrometheus, panels: readonly DashboardPanel[], window?: RangeWindow): Promise<PanelResult[]> {
  const results: PanelResult[] = [];
  for (const panel of panels) {
    for (const target of panel.targets ?? []) {
      const expr = renderExpr(target.expr);
      const reply = window === undefined ? await prom.queryRaw(expr) : await prom.queryRangeRaw(expr, window);
      const ok = reply.status === 'success';
      results.push({ panel: panel.title, expr: target.expr, error: ok ? null : `${reply.errorType}: ${reply.error}`, series: ok ? reply.data.result.length : 0 });
    }
  }
  return results;
}

/**
 * The shipped monitoring files and Debian's Prometheus binaries, for the tests that use them.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from '../harness.js';

/** The shipped alert rules. */
export const RULES_FILE = join(ROOT, 'controller/prometheus/ballast-rules.yaml');
/** The shipped Grafana dashboard. */
export const DASHBOARD_FILE = join(ROOT, 'controller/prometheus/ballast-dashboard.json');

/** Debian's promtool, or null when the `prometheus` package is not installed. */
export const PROMTOOL = (): string | null => (existsSync('/usr/bin/promtool') ? '/usr/bin/promtool' : null);
/** Debian's prometheus server binary, or null. */
export const PROMETHEUS = (): string | null => (existsSync('/usr/bin/prometheus') ? '/usr/bin/prometheus' : null);

/** One alerting rule as the rules file spells it. */
export interface AlertRule {
  alert: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

/** The rules file's shape (recording rules have `record` instead of `alert`). */
export interface RulesFile {
  groups: Array<{ name: string; rules: Array<AlertRule | { record: string; expr: string }> }>;
}

/** Every alerting rule of the file, in order. */
export function alertRules(file: RulesFile): AlertRule[] {
  return file.groups.flatMap((g) => g.rules.filter((r): r is AlertRule => 'alert' in r));
}

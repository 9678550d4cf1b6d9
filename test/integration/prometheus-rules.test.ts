/**
 * The shipped alert rules (controller/prometheus/ballast-rules.yaml) checked and unit-tested by
 * Debian's promtool (package `prometheus`; scripts/install-lab-deps.sh installs it): `promtool
 * check rules`, then `promtool test rules` on prometheus/ballast-rules.test.yaml, which must hold a
 * firing and a silent case for every alert. Skipped, saying why, where promtool is not installed.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { ROOT } from './harness.js';
import { PROMTOOL, RULES_FILE, type RulesFile, alertRules } from './prometheus/files.js';

const TESTS_FILE = join(ROOT, 'test/integration/prometheus/ballast-rules.test.yaml');

interface RuleTests {
  rule_files: string[];
  tests: Array<{ alert_rule_test?: Array<{ alertname: string; exp_alerts: unknown[] }> }>;
}

const promtool = PROMTOOL();
if (promtool === null) console.log('prometheus-rules: skipped: /usr/bin/promtool is missing (apt-get install prometheus)');

function run(args: string[], cwd = ROOT) {
  const r = spawnSync(promtool ?? 'promtool', args, { cwd, encoding: 'utf8', timeout: 60_000 });
  return { code: r.status, out: `${r.stdout}${r.stderr}` };
}

describe.skipIf(promtool === null)('shipped alert rules under promtool', () => {
  const rules = parse(readFileSync(RULES_FILE, 'utf8')) as RulesFile;
  const names = [...new Set(alertRules(rules).map((r) => r.alert))];

  it('pass `promtool check rules`', () => {
    const r = run(['check', 'rules', RULES_FILE]);
    expect(r.code, r.out).toBe(0);
    expect(r.out).toMatch(/SUCCESS: \d+ rules found/);
  });

  it('pass `promtool test rules`, with a firing and a silent case for every alert', () => {
    const r = run(['test', 'rules', TESTS_FILE]);
    expect(r.code, r.out).toBe(0);
    const tests = parse(readFileSync(TESTS_FILE, 'utf8')) as RuleTests;
    const cases = tests.tests.flatMap((t) => t.alert_rule_test ?? []);
    const missing = names.flatMap((name) => {
      const mine = cases.filter((c) => c.alertname === name);
      return [
        ...(mine.some((c) => c.exp_alerts.length > 0) ? [] : [`${name}: no firing case`]),
        ...(mine.some((c) => c.exp_alerts.length === 0) ? [] : [`${name}: no silent case`]),
      ];
    });
    expect(missing).toEqual([]);
    expect(names.length).toBeGreaterThanOrEqual(20);
  });

  it('give every alert a severity and a one-line summary', () => {
    for (const rule of alertRules(rules)) {
      expect(['warning', 'critical'], rule.alert).toContain(rule.labels?.severity);
      const summary = rule.annotations?.summary ?? '';
      expect(summary.length, rule.alert).toBeGreaterThan(20);
      expect(summary, rule.alert).not.toContain('\n');
    }
  });

  it('fail `promtool test rules` when a rule is wrong (the tests can fail)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ballast-rules-'));
    try {
      // BallastHostUnreachable waiting 10 minutes instead of 30 s must break its firing case.
      const broken = readFileSync(RULES_FILE, 'utf8').replace(/(alert: BallastHostUnreachable\n\s+expr: .*\n\s+for: )30s/, '$110m');
      expect(broken).not.toBe(readFileSync(RULES_FILE, 'utf8'));
      writeFileSync(join(dir, 'rules.yaml'), broken);
      const tests = readFileSync(TESTS_FILE, 'utf8').replace('../../../controller/prometheus/ballast-rules.yaml', 'rules.yaml');
      writeFileSync(join(dir, 'tests.yaml'), tests);
      const r = run(['test', 'rules', 'tests.yaml'], dir);
      expect(r.code).not.toBe(0);
      expect(r.out).toContain('alertname: BallastHostUnreachable');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

/**
 * The shipped Grafana dashboard is what scripts/grafana-dashboard.mjs generates, and is well formed:
 * unique panel ids, a query on every panel, no two panels on one grid cell. Its queries are run
 * against a real Prometheus in test/integration/prometheus.test.ts.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '../..');

interface Panel {
  id: number;
  type: string;
  title: string;
  gridPos: { h: number; w: number; x: number; y: number };
  datasource?: { uid: string };
  targets?: Array<{ expr: string; refId: string }>;
}

describe('the shipped Grafana dashboard', () => {
  const dashboard = JSON.parse(readFileSync(join(ROOT, 'controller/prometheus/ballast-dashboard.json'), 'utf8')) as {
    uid: string;
    panels: Panel[];
    templating: { list: Array<{ name: string }> };
  };

  it('is exactly what scripts/grafana-dashboard.mjs generates', () => {
    const r = spawnSync(process.execPath, [join(ROOT, 'scripts/grafana-dashboard.mjs'), '--check'], { encoding: 'utf8', timeout: 30_000 });
    expect(r.status, r.stderr).toBe(0);
  });

  it('has unique ids, a query and the picked data source on every panel, and no overlapping panels', () => {
    const ids = dashboard.panels.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    const cells = new Set<string>();
    for (const p of dashboard.panels) {
      for (let dx = 0; dx < p.gridPos.w; dx += 1) {
        for (let dy = 0; dy < p.gridPos.h; dy += 1) {
          const cell = `${p.gridPos.x + dx},${p.gridPos.y + dy}`;
          expect(cells.has(cell), `${p.title} overlaps at ${cell}`).toBe(false);
          cells.add(cell);
        }
      }
      if (p.type === 'row') continue;
      expect(p.gridPos.x + p.gridPos.w, p.title).toBeLessThanOrEqual(24);
      expect(p.datasource?.uid, p.title).toBe('$' + '{datasource}'); // Grafana's variable, picked at import
      expect(p.targets?.length ?? 0, p.title).toBeGreaterThan(0);
      for (const t of p.targets ?? []) expect(t.expr.length, p.title).toBeGreaterThan(0);
    }
    expect(dashboard.templating.list.map((v) => v.name)).toEqual(['datasource', 'cluster']);
  });
});

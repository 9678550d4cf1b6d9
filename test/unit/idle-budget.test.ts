import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { baselineKey, checkIdleBudget, parseBaselineFile } from '../../bench/lib/idle-budget.js';

const file = parseBaselineFile(JSON.parse(readFileSync(join(import.meta.dirname, '../../bench/baselines/agent-idle.json'), 'utf8')));

describe('agent idle memory budget', () => {
  it('the committed baseline has the packaged runtime and a 10% tolerance', () => {
    expect(file.tolerance).toBe(0.1);
    expect(Object.keys(file.baselines)).toContain('packaged-node22');
  });

  it('passes at the baseline and up to +10%, fails above, and fails for a runtime without a baseline', () => {
    const base = file.baselines['packaged-node22']?.rssMbMedian ?? 0;
    const runtime = { kind: 'packaged', version: 'v22.23.5' };
    expect(baselineKey(runtime)).toBe('packaged-node22');
    expect(checkIdleBudget({ runtime, rssMbMedian: base }, file).ok).toBe(true);
    expect(checkIdleBudget({ runtime, rssMbMedian: Math.floor(base * 1.1 * 10) / 10 }, file).ok).toBe(true);
    const over = checkIdleBudget({ runtime, rssMbMedian: base * 1.12 }, file);
    expect(over.ok).toBe(false);
    expect(over.message).toMatch(/a regression/);
    const unknown = checkIdleBudget({ runtime: { kind: 'packaged', version: 'v26.0.0' }, rssMbMedian: 1 }, file);
    expect(unknown.ok).toBe(false);
    expect(unknown.message).toMatch(/no idle RSS baseline for runtime packaged-node26/);
  });

  it('refuses a malformed baseline file, naming the path', () => {
    expect(() => parseBaselineFile({ tolerance: 0.1, baselines: { x: { rssMbMedian: -1 } } })).toThrow(/\/baselines\/x/);
  });
});

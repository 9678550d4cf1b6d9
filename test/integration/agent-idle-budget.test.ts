/**
 * The CI guard of the agent's idle memory (issue 15): the real bench (a controller, `ballast-agent
 * join`, `ballast-agent run` of the shipped bundle dist/agent-bundle with the packaged runtime —
 * node 22 — and the unit's flags when the build cache has it, else this node: `--runtime auto`)
 * with an 8 s window, against the committed baseline + 10%. RSS of an idle agent is flat
 * after a few seconds (the 60 s bench's median and max differ by < 0.5 MB), so 8 s measure what
 * 60 s do at a sixth of the cost; CPU is not guarded here (this machine is shared and noisy).
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkIdleBudget, type IdleMeasurement, parseBaselineFile } from '../../bench/lib/idle-budget.js';
import { ROOT, requireBuild } from './harness.js';

describe('agent idle memory budget (CI guard)', () => {
  it('an idle, connected agent stays within 10% of the committed RSS baseline', () => {
    requireBuild();
    const started = Date.now();
    const r = spawnSync(process.execPath, [join(ROOT, 'dist/bench/agent-idle.js'), '--runtime', 'auto', '--window', '8', '--settle', '2', '--max-seconds', '90'], {
      encoding: 'utf8',
      timeout: 100_000,
    });
    expect(r.status, r.stderr).toBe(0);
    const m = JSON.parse(r.stdout) as IdleMeasurement & { hostStateAtEnd: string };
    expect(m.hostStateAtEnd).toBe('healthy');
    const verdict = checkIdleBudget(m, parseBaselineFile(JSON.parse(readFileSync(join(ROOT, 'bench/baselines/agent-idle.json'), 'utf8'))));
    console.log(`[measure] ${verdict.message} (${((Date.now() - started) / 1000).toFixed(1)} s)`);
    expect(verdict.ok, verdict.message).toBe(true);
  }, 110_000);
});

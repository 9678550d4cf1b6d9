/**
 * Every benchmark entry point in dist/bench answers `--help` with its usage (exit 0) and refuses an
 * unknown flag with the mistake and the usage (exit 2) — without starting anything (no etcd, no
 * lab, no controller): both are decided before the bench's work begins (bench/lib/args.ts).
 */
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT, requireBuild } from './harness.js';

/** The benches a user runs (workers and libraries are started by them, not by hand). */
const ENTRY_POINTS = ['agent-idle', 'bootstrap', 'fanin', 'kube-bootstrap', 'profile-summary', 'recover-rto', 'recover-rto-fill', 'report', 'snapshot', 'vip-failover'];

function run(name: string, args: string[]) {
  return spawnSync(process.execPath, [join(ROOT, 'dist/bench', `${name}.js`), ...args], { encoding: 'utf8', timeout: 30_000 });
}

describe('bench command lines', () => {
  it('lists every entry point of bench/ (a new bench is added here)', () => {
    const helpers = new Set(['fanin-worker', 'floor-server', 'snapshot-agent-worker']);
    const found = readdirSync(join(ROOT, 'bench'))
      .filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts'))
      .map((f) => f.slice(0, -3))
      .filter((f) => !helpers.has(f))
      .sort();
    expect(found).toEqual([...ENTRY_POINTS].sort());
  });

  it.each(ENTRY_POINTS)('%s --help prints its usage and exits 0; an unknown flag exits 2 with the usage', (name) => {
    requireBuild();
    const help = run(name, ['--help']);
    expect(help.status, help.stderr).toBe(0);
    expect(help.stdout).toMatch(new RegExp(`^usage: .*dist/bench/${name}\\.js`));
    const wrong = run(name, ['--no-such-flag']);
    expect(wrong.status).toBe(2);
    expect(wrong.stderr).toContain("Unknown option '--no-such-flag'");
    expect(wrong.stderr).toContain('usage:');
    expect(wrong.stdout).toBe('');
  });
});

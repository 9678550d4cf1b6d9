/**
 * Turns fan-in JSON documents (from `fanin.js --out`) into the markdown tables of bench/RESULTS.md:
 *   node dist/bench/report.js FILE.json [FILE.json …]
 * A phase (controller or floor) of the same N in a later file replaces the earlier one; ratios are
 * recomputed from the phases shown.
 */
import { readFileSync } from 'node:fs';
import { benchArgs, usageError } from './lib/args.js';
import type { PhaseResult } from './lib/phase.js';

interface Run {
  agents: number;
  controller: PhaseResult | null;
  floor: PhaseResult | null;
  ratio: Record<string, number> | null;
  noisyAttempts?: Array<{ target: string; otherPercent: number }>;
  problems: string[];
}

const USAGE = `usage: node dist/bench/report.js FILE.json [FILE.json …]

The markdown tables of bench/RESULTS.md from fan-in JSON documents (fanin.js --out); a phase of the
same agent count in a later file replaces the earlier one.`;
const files = benchArgs(USAGE, { options: {}, allowPositionals: true }).positionals;
if (files.length === 0) usageError('name at least one fan-in JSON file');
const byN = new Map<number, Run>();
for (const file of files) {
  const doc = JSON.parse(readFileSync(file, 'utf8')) as { runs: Run[] };
  for (const run of doc.runs) {
    const seen = byN.get(run.agents);
    if (seen === undefined) {
      byN.set(run.agents, { ...run, problems: [...run.problems] });
      continue;
    }
    if (run.controller !== null) seen.controller = run.controller;
    if (run.floor !== null) seen.floor = run.floor;
    seen.problems = [...seen.problems.filter((p) => !(run.controller !== null && p.startsWith('controller'))), ...run.problems];
  }
}
const div = (a: number, b: number) => (b > 0 ? a / b : 0);
for (const r of byN.values()) {
  const c = r.controller;
  const fl = r.floor;
  r.ratio =
    c === null || fl === null
      ? null
      : {
          cpuPercent: div(c.process.cpuPercent, fl.process.cpuPercent),
          cpuPerHeartbeat: div(c.cpuUsPerHeartbeat, fl.cpuUsPerHeartbeat),
          rttP99: div(c.window.rttMs.p99, fl.window.rttMs.p99),
          rssEnd: div(c.process.rssMbEnd, fl.process.rssMbEnd),
        };
}
const runs = [...byN.values()].sort((a, b) => a.agents - b.agents);
const f = (v: number | undefined, digits = 1) => (v === undefined ? '–' : v.toFixed(digits));
const out: string[] = [];

out.push('| N | controller CPU % | controller RSS MB (end / peak) | controller RTT p50 / p99 / max ms | store p50 / p99 ms (own histogram) | floor CPU % | floor RSS MB | floor RTT p50 / p99 ms | CPU ratio | CPU/hb ratio | RTT p99 ratio | RSS ratio |');
out.push('|---|---|---|---|---|---|---|---|---|---|---|---|');
for (const r of runs) {
  const c = r.controller;
  const fl = r.floor;
  out.push(
    `| ${r.agents.toLocaleString('en')} | ${f(c?.process.cpuPercent)} | ${f(c?.process.rssMbEnd, 0)} / ${f(c?.process.rssMbPeak, 0)} | ${f(c?.window.rttMs.p50)} / ${f(c?.window.rttMs.p99)} / ${f(c?.window.rttMs.max, 0)} | ${f(c?.controller?.storeMs.p50)} / ${f(c?.controller?.storeMs.p99)} | ${f(fl?.process.cpuPercent)} | ${f(fl?.process.rssMbEnd, 0)} | ${f(fl?.window.rttMs.p50, 2)} / ${f(fl?.window.rttMs.p99)} | ${f(r.ratio?.cpuPercent, 2)} | ${f(r.ratio?.cpuPerHeartbeat, 2)} | ${f(r.ratio?.rttP99, 2)} | ${f(r.ratio?.rssEnd, 2)} |`,
  );
}
out.push('');
out.push('| N | target | connected / N | connect wall s | connect p50 / p99 ms | hb sent | ack ratio | disconnects | µs CPU per hb | load-gen CPU % | other processes CPU % | steal % |');
out.push('|---|---|---|---|---|---|---|---|---|---|---|---|');
for (const r of runs) {
  for (const p of [r.controller, r.floor]) {
    if (p === null) continue;
    out.push(
      `| ${r.agents.toLocaleString('en')} | ${p.target} | ${p.connect.connected} / ${p.connect.agents} | ${f(p.connect.wallSeconds)} | ${p.connect.ms.count === 0 ? '–' : `${f(p.connect.ms.p50, 0)} / ${f(p.connect.ms.p99, 0)}`} | ${p.window.heartbeatsSent} | ${f(p.window.ackRatio, 4)} | ${p.window.disconnects} | ${f(p.cpuUsPerHeartbeat)} | ${f(p.loadGenerators.cpuPercent)} | ${f(p.machine.otherPercent)} | ${f(p.machine.stealPercent)} |`,
    );
  }
}
const problems = runs.flatMap((r) => r.problems.map((p) => `- N=${r.agents}: ${p.split('\n')[0]}`));
if (problems.length > 0) out.push('', 'Problems:', ...problems);
process.stdout.write(`${out.join('\n')}\n`);

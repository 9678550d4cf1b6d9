#!/usr/bin/env node
// Runs vitest with a JSON report as well as the normal output, then prints the plain closing line
// "N passed, N failed, N skipped" that CI reads, and exits with vitest's own exit code.
import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';

const report = '.vitest-report.json';
rmSync(report, { force: true });
const run = spawnSync('npx', ['vitest', 'run', '--reporter=default', '--reporter=json', `--outputFile=${report}`, ...process.argv.slice(2)], {
  stdio: 'inherit',
});
let summary = 'vitest: no report written';
try {
  const r = JSON.parse(readFileSync(report, 'utf8'));
  const skipped = (r.numPendingTests ?? 0) + (r.numTodoTests ?? 0);
  summary = `${r.numPassedTests} passed, ${r.numFailedTests} failed, ${skipped} skipped`;
} catch (err) {
  summary = `vitest: could not read ${report}: ${err.message}`;
}
console.log(`\n${summary}`);
process.exit(run.status ?? 1);

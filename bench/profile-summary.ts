/**
 * Prints the summary of a V8 .cpuprofile as JSON (see lib/cpuprofile.ts):
 *   node dist/bench/profile-summary.js FILE.cpuprofile [--top 25]
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { summariseProfile } from './lib/cpuprofile.js';

const { values, positionals } = parseArgs({ options: { top: { type: 'string', default: '25' } }, allowPositionals: true });
const file = positionals[0];
if (file === undefined) {
  process.stderr.write('usage: profile-summary FILE.cpuprofile [--top N]\n');
  process.exit(2);
}
const summary = summariseProfile(JSON.parse(readFileSync(file, 'utf8')), Number(values.top));
process.stdout.write(`${JSON.stringify({ file, ...summary }, null, 2)}\n`);

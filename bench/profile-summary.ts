/**
 * Prints the summary of a V8 .cpuprofile as JSON (see lib/cpuprofile.ts):
 *   node dist/bench/profile-summary.js FILE.cpuprofile [--top 25]
 */
import { readFileSync } from 'node:fs';
import { benchArgs, usageError } from './lib/args.js';
import { summariseProfile } from './lib/cpuprofile.js';

const USAGE = `usage: node dist/bench/profile-summary.js FILE.cpuprofile [--top N]

The summary of a V8 CPU profile (fanin.js --profile writes them) as JSON: busy time, and the top N
functions by self time with their total time (default 25).`;
const { values, positionals } = benchArgs(USAGE, { options: { top: { type: 'string', default: '25' } }, allowPositionals: true });
const file = positionals[0];
if (file === undefined) usageError('name a .cpuprofile file');
const summary = summariseProfile(JSON.parse(readFileSync(file, 'utf8')), Number(values.top));
process.stdout.write(`${JSON.stringify({ file, ...summary }, null, 2)}\n`);

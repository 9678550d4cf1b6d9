import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/**
 * The package version, read once from package.json. Compiled code lives in dist/<same layout>, so
 * package.json is found by walking up from this file in both the source and the dist tree.
 */
export const PACKAGE_VERSION: string = findVersion();

function findVersion(): string {
  let dir = new URL('.', import.meta.url);
  for (let i = 0; i < 6; i++) {
    try {
      const pkg = JSON.parse(readFileSync(fileURLToPath(new URL('package.json', dir)), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'ballast' && typeof pkg.version === 'string') return pkg.version;
    } catch {
      // not here: keep walking up
    }
    dir = new URL('..', dir);
  }
  return '0.0.0-unknown';
}

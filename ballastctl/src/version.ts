/**
 * The ballastctl version, read from the repository's package.json at runtime so that it is
 * correct both from source (controller/src/ctl) and from the build (dist/controller/src/ctl).
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

let cached: string | undefined;

/** The `version` of the nearest package.json named "ballast" above this module, or "unknown". */
export function ctlVersion(): string {
  if (cached !== undefined) return cached;
  cached = findVersion(dirname(fileURLToPath(import.meta.url))) ?? 'unknown';
  return cached;
}

function findVersion(start: string): string | undefined {
  // Walk upwards rather than hard-coding "../../.." because src and dist sit at different depths.
  let dir = start;
  for (let i = 0; i < 8; i++) {
    try {
      const pkg: unknown = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
      if (typeof pkg === 'object' && pkg !== null && 'name' in pkg && pkg.name === 'ballast' && 'version' in pkg) {
        return typeof pkg.version === 'string' ? pkg.version : undefined;
      }
    } catch {
      // No (readable) package.json here: keep walking.
    }
    const parent = dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  return undefined;
}

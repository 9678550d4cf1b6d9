import type { PathRule } from '../../../shared/src/tasks/safety.js';
import { readFileOrNull } from './attrs.js';
import { ensureManagedFile, hasManagedMarker, type ManagedFileOutcome } from './managed-file.js';
import { hostPath, type ModuleContext } from './module.js';

/** One line of a managed multi-entry file (sysctl.d, modules-load.d), identified by `matches`. */
export interface ManagedLineSpec {
  /** Absolute host path of the file. */
  path: string;
  /** True for lines that hold this entry (comments never match: callers parse the line). */
  matches: (line: string) => boolean;
  /** The entry's line, or null to remove it. */
  line: string | null;
  /** Where this file may be (the module's own fixed directory). */
  allowed: readonly PathRule[];
}

/**
 * Converges one entry of a file that holds several, leaving the other lines alone, so that one task
 * per key can share a file (ip_forward and bridge-nf-call in the same 99-ballast.conf). The first
 * matching line is replaced, later duplicates are dropped (the last one would win at boot), and a
 * missing entry is appended. The file is a managed file: it carries the header, and one someone
 * else wrote is refused.
 */
export async function ensureManagedLine(ctx: ModuleContext, spec: ManagedLineSpec): Promise<ManagedFileOutcome> {
  const existing = await readFileOrNull(hostPath(ctx, spec.path));
  if (existing === null && spec.line === null) return { changed: false, contentChanged: false, message: `${spec.path} is absent` };
  const lines = (existing ?? '').split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  const body: string[] = [];
  let placed = false;
  for (const line of lines) {
    // Our header is re-added by ensureManagedFile; someone else's file keeps its lines and is refused there.
    if (existing !== null && hasManagedMarker(line)) continue;
    if (!spec.matches(line)) {
      body.push(line);
    } else if (!placed && spec.line !== null) {
      body.push(spec.line);
      placed = true;
    }
  }
  if (!placed && spec.line !== null) body.push(spec.line);
  return ensureManagedFile(ctx, { path: spec.path, content: body.length === 0 ? '' : `${body.join('\n')}\n`, mode: '0644', allowed: spec.allowed });
}

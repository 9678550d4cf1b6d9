import { realpath } from 'node:fs/promises';
import { dirname, relative, sep } from 'node:path';
import { BallastError } from '../../../shared/src/errors.js';
import { describeRules, type PathRule, pathAllowed } from '../../../shared/src/tasks/safety.js';
import { lstatOrNull } from './attrs.js';
import { hostPath, type ModuleContext } from './module.js';

/**
 * Resolves a path a module is about to write or remove, refusing (BALLAST_ERR_UNSAFE_PATH) unless:
 * it is canonical ({@link hostPath}), it lies inside `rules`, and its deepest existing ancestor
 * resolves (realpath) to a place that keeps it inside `rules`. The last rule is what stops a symlink
 * escape: /etc/kubernetes/pki → /root/.ssh makes /etc/kubernetes/pki/authorized_keys resolve to
 * /root/.ssh/authorized_keys, which no rule allows. The path itself is not followed: modules lstat
 * it and refuse anything that is not the regular file or directory they manage.
 */
export async function safePath(ctx: Pick<ModuleContext, 'root'>, path: string, rules: readonly PathRule[], what: string): Promise<string> {
  const full = hostPath(ctx, path);
  if (!pathAllowed(path, rules)) {
    throw new BallastError('BALLAST_ERR_UNSAFE_PATH', `failed to ${what} ${path}: outside the places this module may touch (${describeRules(rules)})`, {
      path: '/args/path',
    });
  }
  const resolved = await resolvedHostPath(ctx.root, full);
  if (resolved === null || !pathAllowed(resolved, rules)) {
    throw new BallastError(
      'BALLAST_ERR_UNSAFE_PATH',
      `failed to ${what} ${path}: a symlink on the way leads to ${resolved ?? 'outside the host root'}, outside the places this module may touch`,
      { path: '/args/path' },
    );
  }
  return full;
}

/**
 * The host path `full` really names: its deepest existing ancestor (the path itself excluded)
 * resolved with realpath, plus the not-yet-existing rest. Null when that resolves outside the root.
 */
async function resolvedHostPath(root: string, full: string): Promise<string | null> {
  const realRoot = await realpath(root);
  const rest: string[] = [full.slice(dirname(full).length + 1)];
  let at = dirname(full);
  // Climb to an existing ancestor; the root itself always exists.
  while ((await lstatOrNull(at)) === null && at !== dirname(at)) {
    rest.unshift(at.slice(dirname(at).length + 1));
    at = dirname(at);
  }
  let real: string;
  try {
    real = await realpath(at);
  } catch (err) {
    // A dangling or looping symlink on the way (`→ /root/.ssh` where that does not exist yet): where it
    // leads cannot be checked, so it is refused like an escape rather than failing uncoded.
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ELOOP' || code === 'ENOTDIR') return null;
    throw err;
  }
  const rel = relative(realRoot, real);
  if (rel === '..' || rel.startsWith(`..${sep}`) || rel.startsWith(sep)) return null;
  const parts = [...(rel === '' ? [] : rel.split(sep)), ...rest];
  return `/${parts.join('/')}`;
}

import type { Stats } from 'node:fs';
import { lstat, mkdir, readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { BallastError } from '../../../../shared/src/errors.js';
import { CONFIG_PATHS, REMOVABLE_PATHS } from '../../../../shared/src/tasks/safety.js';
import { attrDrift, ensureAttrs, loadIdNames, lstatOrNull, parseMode, resolveOwnership, type WantedAttrs } from '../attrs.js';
import type { Module, ModuleContext, ModuleOutcome } from '../module.js';
import { safePath } from '../safe-path.js';

/** Fewer path segments than this cannot be removed: `state: absent` on /etc or /var is never intended. */
const MIN_REMOVABLE_DEPTH = 2;

/** `directory`: exists with mode/owner (parents created 0755), or is removed recursively. */
export const directoryModule: Module<'directory'> = {
  name: 'directory',
  async run(args, ctx) {
    const absent = args.state === 'absent';
    // Canonical, inside the allow-list, no symlink escape: all checked before anything else looks at the path.
    const full = await safePath(ctx, args.path, absent ? REMOVABLE_PATHS : CONFIG_PATHS, absent ? 'remove directory' : 'ensure directory');
    const stat = await lstatOrNull(full);
    if (stat !== null && !stat.isDirectory()) {
      throw new BallastError('BALLAST_ERR_FILE_UNMANAGED', `failed to ensure directory ${args.path}: it exists and is not a directory`, {
        path: '/args/path',
      });
    }
    if (absent) return ensureDirectoryAbsent(ctx, args.path, full, stat);
    const wanted: WantedAttrs = { ...(await resolveOwnership(ctx, args)) };
    if (args.mode !== undefined) wanted.mode = parseMode(args.mode);
    if (stat === null) {
      const diff = ctx.diff ? `directory absent → present\n` : undefined;
      if (ctx.check) return { changed: true, message: `would create directory ${args.path}`, diff };
      await mkdir(full, { recursive: true, mode: 0o755 });
      // mkdir's mode is filtered by the umask; set the wanted one exactly.
      await ensureAttrs(full, await lstat(full), { mode: 0o755, ...wanted });
      return { changed: true, message: `created directory ${args.path}`, diff };
    }
    const drift = attrDrift(stat, wanted, await loadIdNames(ctx));
    if (drift.length === 0) return { changed: false, message: `directory ${args.path} is up to date` };
    const diff = ctx.diff ? drift.map((line) => `${line}\n`).join('') : undefined;
    const detail = drift.map((line) => line.split(' ')[0]).join(', ');
    if (ctx.check) return { changed: true, message: `would update directory ${args.path} (${detail})`, diff };
    await ensureAttrs(full, stat, wanted);
    return { changed: true, message: `updated directory ${args.path} (${detail})`, diff };
  },
};

async function ensureDirectoryAbsent(ctx: ModuleContext, path: string, full: string, stat: Stats | null): Promise<ModuleOutcome> {
  if (stat === null) return { changed: false, message: `directory ${path} is absent` };
  // `path` is canonical here (safePath), so counting its segments counts real directories.
  if (path.split('/').filter(Boolean).length < MIN_REMOVABLE_DEPTH) {
    throw new BallastError('BALLAST_ERR_UNSAFE_PATH', `failed to remove directory ${path}: refusing to remove a top-level directory`, {
      path: '/args/path',
    });
  }
  if (await isMountPoint(full)) {
    // A directory with a filesystem mounted on it (a dedicated disk for /var/lib/containerd, say)
    // cannot be removed (EBUSY) and must not be unmounted behind the admin's back: "absent" means
    // its contents are gone, the mount point stays.
    const entries = await readdir(full);
    if (entries.length === 0) return { changed: false, message: `directory ${path} is a mount point and empty` };
    const diff = ctx.diff ? `mount point ${path}: ${entries.length} entries → empty\n` : undefined;
    if (ctx.check) return { changed: true, message: `would empty directory ${path} (a mount point: the directory stays)`, diff };
    for (const entry of entries) await rm(join(full, entry), { recursive: true, force: true });
    return { changed: true, message: `emptied directory ${path} (a mount point: the directory stays)`, diff };
  }
  const diff = ctx.diff ? `directory present → absent\n` : undefined;
  if (ctx.check) return { changed: true, message: `would remove directory ${path}`, diff };
  await rm(full, { recursive: true, force: true });
  return { changed: true, message: `removed directory ${path}`, diff };
}

/** Whether something is mounted on `full` (this process's mount namespace: the host's). */
async function isMountPoint(full: string): Promise<boolean> {
  const text = await readFile('/proc/self/mountinfo', 'utf8').catch(() => '');
  // Field 5 is the mount point, with spaces and the like octal-escaped (\040).
  const decode = (p: string) => p.replace(/\\([0-7]{3})/g, (_m, oct: string) => String.fromCharCode(Number.parseInt(oct, 8)));
  return text.split('\n').some((line) => {
    const point = line.split(' ')[4];
    return point !== undefined && decode(point) === full;
  });
}

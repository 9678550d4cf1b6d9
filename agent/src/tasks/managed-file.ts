import type { Stats } from 'node:fs';
import { lstat, readFile, rm } from 'node:fs/promises';
import { createTwoFilesPatch, FILE_HEADERS_ONLY } from 'diff';
import { BallastError } from '../../../shared/src/errors.js';
import { writeFileAtomic } from '../../../shared/src/atomic-file.js';
import { CONFIG_PATHS, type PathRule, REMOVABLE_PATHS } from '../../../shared/src/tasks/safety.js';
import { attrDrift, ensureAttrs, formatMode, loadIdNames, parseMode, resolveOwnership, type WantedAttrs } from './attrs.js';
import type { ModuleContext, ModuleOutcome } from './module.js';
import { safePath } from './safe-path.js';

/** The words that mark a file as ours; found anywhere in its first lines. */
export const MANAGED_MARKER = 'Managed by Ballast';

/** How many leading lines are searched for the marker (a shebang may come first). */
const MARKER_SEARCH_LINES = 3;

/** The managed-by header line for a comment syntax. */
export function headerLine(comment: string): string {
  return `${comment} ${MANAGED_MARKER} — changes here are overwritten`;
}

/** True when `text` carries the managed-by marker in its first lines. */
export function hasManagedMarker(text: string): boolean {
  return text.split('\n', MARKER_SEARCH_LINES).some((line) => line.includes(MANAGED_MARKER));
}

/**
 * Puts the header line on top of `content` (after a `#!` line, so scripts still run). Content that
 * already carries the marker is left alone, so rendering a file twice never stacks headers.
 */
export function withHeader(content: string, comment: string | null): string {
  if (comment === null || hasManagedMarker(content)) return content;
  const header = `${headerLine(comment)}\n`;
  if (content.startsWith('#!')) {
    const eol = content.indexOf('\n');
    return eol === -1 ? `${content}\n${header}` : `${content.slice(0, eol + 1)}${header}${content.slice(eol + 1)}`;
  }
  return header + content;
}

/** A file as the `file` and `template` modules (and others that write files) want it. */
export interface ManagedFileSpec {
  /** Absolute host path (resolved under ctx.root). */
  path: string;
  /** Content without the header. */
  content: string;
  mode?: string;
  owner?: string;
  group?: string;
  /** '#' when absent; null writes no header (formats without comments, e.g. JSON). */
  headerComment?: string | null;
  force?: boolean;
  state?: 'present' | 'absent';
  /**
   * Where the caller may write (default {@link CONFIG_PATHS}; removal: {@link REMOVABLE_PATHS}).
   * Not a task argument: each module passes its own fixed list.
   */
  allowed?: readonly PathRule[];
}

/** A module outcome plus whether the bytes changed (systemd daemon-reloads only then). */
export interface ManagedFileOutcome extends ModuleOutcome {
  contentChanged: boolean;
}

/**
 * Converges one file: atomic write of header + content, then mode and ownership; or removal.
 * Refuses to overwrite or remove an existing file that lacks the managed-by marker unless `force`
 * (k0s's rule: a file someone else wrote is theirs). A file written with `headerComment: null`
 * cannot carry the marker, so changing it later needs `force` too.
 */
export async function ensureManagedFile(ctx: ModuleContext, spec: ManagedFileSpec): Promise<ManagedFileOutcome> {
  const absent = spec.state === 'absent';
  const allowed = spec.allowed ?? (absent ? REMOVABLE_PATHS : CONFIG_PATHS);
  const full = await safePath(ctx, spec.path, allowed, absent ? 'remove' : 'write');
  if (absent) return ensureAbsent(ctx, spec, full, await statRegularFile(full, spec.path));
  const current = await readRegularFile(full, spec.path);
  const comment = spec.headerComment === undefined ? '#' : spec.headerComment;

  const wanted: WantedAttrs = { ...(await resolveOwnership(ctx, spec)) };
  if (spec.mode !== undefined) wanted.mode = parseMode(spec.mode);
  const content = withHeader(spec.content, comment);
  const contentChanged = current === null || current.text !== content;
  if (current !== null && contentChanged) assertManaged(spec, current.text);
  const drift = current === null ? [] : attrDrift(current.stat, wanted, await loadIdNames(ctx));
  if (!contentChanged && drift.length === 0) {
    return { changed: false, contentChanged: false, message: `${spec.path} is up to date` };
  }
  const mode = wanted.mode ?? (current === null ? 0o644 : current.stat.mode & 0o7777);
  // Task content is configuration, never a program (issue 16): no role writes an executable through
  // here, and one in /opt/cni/bin, or a forced rewrite of an installed binary keeping its 0755, runs as root.
  if ((mode & 0o7111) !== 0) {
    throw new BallastError(
      'BALLAST_ERR_UNSAFE_VALUE',
      `failed to ${current === null ? 'create' : 'update'} ${spec.path}: mode ${formatMode(mode)} has an execute, setuid, setgid or sticky bit; ` +
        'files written from task content are never executable (binaries come from artifacts)',
      { path: spec.mode === undefined ? '/args/path' : '/args/mode' },
    );
  }
  const diff = ctx.diff ? fileDiff(spec.path, current?.text ?? null, content, mode, drift) : undefined;
  const what = current === null ? 'create' : 'update';
  const parts = [contentChanged && current !== null ? 'content' : '', ...drift.map((d) => d.split(' ')[0])].filter(Boolean);
  const detail = current === null ? '' : ` (${parts.join(', ')})`;
  if (ctx.check) {
    return { changed: true, contentChanged, message: `would ${what} ${spec.path}${detail}`, diff };
  }
  if (contentChanged) {
    await writeFileAtomic(full, content, mode);
    // The rename made a new inode owned by us: carry the old owner over unless another is wanted.
    const owner: WantedAttrs = { uid: wanted.uid ?? current?.stat.uid, gid: wanted.gid ?? current?.stat.gid, mode };
    await ensureAttrs(full, await lstat(full), owner);
  } else if (current !== null) {
    await ensureAttrs(full, current.stat, wanted);
  }
  ctx.log.info({ path: spec.path, what, parts }, `${what}d file`);
  return { changed: true, contentChanged, message: `${what}d ${spec.path}${detail}`, diff };
}

/**
 * Removes the file. Its content is read only when something needs it — the marker check (no
 * `force`) or a diff: reset removes ~600 MB of binaries with `force`, and decoding each one as
 * text took about a second apiece on a lab host.
 */
async function ensureAbsent(ctx: ModuleContext, spec: ManagedFileSpec, full: string, stat: Stats | null): Promise<ManagedFileOutcome> {
  if (stat === null) return { changed: false, contentChanged: false, message: `${spec.path} is absent` };
  const text = spec.force === true && !ctx.diff ? null : await readFile(full, 'utf8');
  if (text !== null) assertManaged(spec, text);
  const diff = ctx.diff && text !== null ? fileDiff(spec.path, text, null, stat.mode, []) : undefined;
  if (ctx.check) return { changed: true, contentChanged: true, message: `would remove ${spec.path}`, diff };
  await rm(full, { force: true });
  ctx.log.info({ path: spec.path }, 'removed file');
  return { changed: true, contentChanged: true, message: `removed ${spec.path}`, diff };
}

function assertManaged(spec: ManagedFileSpec, text: string): void {
  if (spec.force === true || hasManagedMarker(text)) return;
  throw new BallastError(
    'BALLAST_ERR_FILE_UNMANAGED',
    `failed to write ${spec.path}: it exists without the "${MANAGED_MARKER}" header, so it is not ours to change; set force: true to take it over`,
    { path: '/args/path' },
  );
}

/** The file's text and stat, or null when it does not exist. Anything but a regular file is refused. */
async function readRegularFile(full: string, path: string): Promise<{ text: string; stat: Stats } | null> {
  const stat = await statRegularFile(full, path);
  return stat === null ? null : { text: await readFile(full, 'utf8'), stat };
}

/** The file's lstat, null when it does not exist; refuses anything but a regular file. */
async function statRegularFile(full: string, path: string): Promise<Stats | null> {
  let stat: Stats;
  try {
    stat = await lstat(full);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
  if (!stat.isFile()) {
    throw new BallastError('BALLAST_ERR_FILE_UNMANAGED', `failed to write ${path}: it exists and is not a regular file`, {
      path: '/args/path',
    });
  }
  return stat;
}

/**
 * A unified diff of the content plus attribute lines. Content of files others may not read
 * (mode without group/other read bits: keys, kubeconfigs) is never shown: diffs travel to the
 * controller and end up in terminals and logs.
 */
export function fileDiff(path: string, before: string | null, after: string | null, mode: number, attrLines: string[]): string {
  const out: string[] = [];
  if (before !== after) {
    if ((mode & 0o044) === 0) {
      out.push(`--- ${before === null ? '/dev/null' : path}\n+++ ${after === null ? '/dev/null' : path}\n(content hidden: mode ${formatMode(mode)})\n`);
    } else {
      out.push(unifiedDiff(before === null ? '/dev/null' : path, after === null ? '/dev/null' : path, before ?? '', after ?? ''));
    }
  }
  out.push(...attrLines.map((line) => `${line}\n`));
  return out.join('');
}

/** A plain unified diff (`--- a`, `+++ b`, hunks with 3 lines of context), as `diff -u` prints it. */
export function unifiedDiff(oldName: string, newName: string, before: string, after: string): string {
  return createTwoFilesPatch(oldName, newName, before, after, undefined, undefined, { context: 3, headerOptions: FILE_HEADERS_ONLY });
}

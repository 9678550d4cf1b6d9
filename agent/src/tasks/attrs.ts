import type { Stats } from 'node:fs';
import { chmod, chown, lstat, readFile } from 'node:fs/promises';
import { BallastError } from '../../../shared/src/errors.js';
import { hostPath, type ModuleContext } from './module.js';

/** Wanted mode and ownership; an absent field is left as it is. */
export interface WantedAttrs {
  mode?: number;
  uid?: number;
  gid?: number;
}

/** Maps ids to names and back, from the root's own /etc/passwd and /etc/group. */
export interface IdNames {
  userName(uid: number): string;
  groupName(gid: number): string;
}

/** Parses an octal mode string from task arguments ("644", "0644", "1777"). */
export function parseMode(mode: string): number {
  return Number.parseInt(mode, 8);
}

/** Formats a mode as four octal digits, the way `stat -c %a` users read it in a diff. */
export function formatMode(mode: number): string {
  return (mode & 0o7777).toString(8).padStart(4, '0');
}

/**
 * Resolves `owner`/`group` (names or numeric ids) to ids. Names are looked up in the root's
 * /etc/passwd and /etc/group, not through NSS: the agent manages local system users (etcd, …) and
 * must not hang on a directory service; and tests resolve against their temp root.
 */
export async function resolveOwnership(
  ctx: Pick<ModuleContext, 'root'>,
  args: { owner?: string; group?: string },
): Promise<{ uid?: number; gid?: number }> {
  const out: { uid?: number; gid?: number } = {};
  if (args.owner !== undefined) out.uid = await resolveId(ctx, '/etc/passwd', args.owner, 'user');
  if (args.group !== undefined) out.gid = await resolveId(ctx, '/etc/group', args.group, 'group');
  return out;
}

/** Id → name lookups for diff lines; unknown ids print as numbers. */
export async function loadIdNames(ctx: Pick<ModuleContext, 'root'>): Promise<IdNames> {
  const users = await readIdTable(ctx, '/etc/passwd');
  const groups = await readIdTable(ctx, '/etc/group');
  const invert = (table: Map<string, number>) => new Map([...table].reverse().map(([name, id]) => [id, name]));
  const uidNames = invert(users);
  const gidNames = invert(groups);
  return {
    userName: (uid) => uidNames.get(uid) ?? String(uid),
    groupName: (gid) => gidNames.get(gid) ?? String(gid),
  };
}

async function resolveId(ctx: Pick<ModuleContext, 'root'>, file: string, name: string, kind: string): Promise<number> {
  if (/^[0-9]+$/.test(name)) return Number(name);
  const id = (await readIdTable(ctx, file)).get(name);
  if (id === undefined) {
    throw new BallastError('BALLAST_ERR_NOT_FOUND', `failed to resolve ${kind} "${name}": not in ${file}`);
  }
  return id;
}

/** name → id from a passwd/group style file (name in field 1, id in field 3); empty if absent. */
async function readIdTable(ctx: Pick<ModuleContext, 'root'>, file: string): Promise<Map<string, number>> {
  let text: string;
  try {
    text = await readFile(hostPath(ctx, file), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return new Map();
    throw err;
  }
  const table = new Map<string, number>();
  for (const line of text.split('\n')) {
    const fields = line.split(':');
    const id = fields[2];
    if (fields[0] && id !== undefined && /^[0-9]+$/.test(id) && !table.has(fields[0])) table.set(fields[0], Number(id));
  }
  return table;
}

/** The `mode 0600 → 0644` / `owner root → etcd` lines between what is and what is wanted; empty when equal. */
export function attrDrift(stat: Stats, wanted: WantedAttrs, names: IdNames): string[] {
  const lines: string[] = [];
  if (wanted.mode !== undefined && (stat.mode & 0o7777) !== wanted.mode) {
    lines.push(`mode ${formatMode(stat.mode)} → ${formatMode(wanted.mode)}`);
  }
  if (wanted.uid !== undefined && stat.uid !== wanted.uid) {
    lines.push(`owner ${names.userName(stat.uid)} → ${names.userName(wanted.uid)}`);
  }
  if (wanted.gid !== undefined && stat.gid !== wanted.gid) {
    lines.push(`group ${names.groupName(stat.gid)} → ${names.groupName(wanted.gid)}`);
  }
  return lines;
}

/**
 * Brings an existing path's mode and ownership to `wanted`, touching only what differs.
 * Ownership goes first: chown clears setuid/setgid bits, so chmod must come after it.
 */
export async function ensureAttrs(path: string, stat: Stats, wanted: WantedAttrs): Promise<void> {
  const uid = wanted.uid ?? stat.uid;
  const gid = wanted.gid ?? stat.gid;
  if (uid !== stat.uid || gid !== stat.gid) await chown(path, uid, gid);
  if (wanted.mode !== undefined && ((stat.mode & 0o7777) !== wanted.mode || uid !== stat.uid || gid !== stat.gid)) {
    await chmod(path, wanted.mode);
  }
}

/** lstat, or null when the path does not exist. */
export async function lstatOrNull(path: string): Promise<Stats | null> {
  try {
    return await lstat(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

/** The file's text, or null when it does not exist. */
export async function readFileOrNull(path: string): Promise<string | null> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

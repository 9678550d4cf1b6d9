/**
 * `artifact`: installs files from an artifact of the controller's mirror. The download is hashed
 * while it streams into a temp file and used only if it matches the pinned sha256 (fail closed:
 * the temp file is removed and nothing is installed); archives are unpacked with the system tar;
 * each file is installed atomically (temp file in the destination dir, chmod, fsync, rename).
 * A small state file remembers what was installed, so a converged host is checked without
 * downloading anything (rancher system-agent remembers its applied checksum the same way).
 */
import { randomBytes } from 'node:crypto';
import { constants, type Stats } from 'node:fs';
import { chmod, copyFile, link, lstat, mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { artifactLabel } from '../../../../shared/src/artifacts-api.js';
import { extractTar, gunzipToFile, listTar, normalizeMember, sniffArchive, writeStreamToFile } from '../../../../shared/src/artifacts-archive.js';
import { hashFile } from '../../../../shared/src/hashing.js';
import { BallastError, isBallastError, messageOf } from '../../../../shared/src/errors.js';
import { writeFileAtomic } from '../../../../shared/src/atomic-file.js';
import type { ModuleArgs } from '../../../../shared/src/tasks/modules.js';
import { BINARY_PATHS } from '../../../../shared/src/tasks/safety.js';
import { formatMode, lstatOrNull, parseMode } from '../attrs.js';
import { hostPath, type Module, type ModuleContext, type ModuleOutcome } from '../module.js';
import type { PrefetchDownload } from '../prefetch.js';
import { safePath } from '../safe-path.js';

/** Where downloads, unpacking and the state file live (under the context root). */
export const ARTIFACT_WORK_DIR = '/var/lib/ballast/artifacts';
const STATE_FILE = 'state.json';
/** Installed binaries are executable unless the task says otherwise. */
const DEFAULT_MODE = 0o755;

type Args = ModuleArgs<'artifact'>;

/** One `install[]` entry, resolved. */
interface Target {
  index: number;
  from: string;
  to: string;
  full: string;
  mode: number;
}

/** What the state file remembers per artifact: its sha256 and the files installed from it. */
interface ArtifactState {
  sha256: string;
  files: Record<string, { sha256: string; mode: number }>;
}
type StateFile = Record<string, ArtifactState>;

/** See the module comment. */
export const artifactModule: Module<'artifact'> = {
  name: 'artifact',
  async run(args, ctx) {
    const label = artifactLabel(args);
    const targets = await resolveTargets(args, ctx);
    const workDir = hostPath(ctx, ARTIFACT_WORK_DIR);
    const state = await readState(workDir, ctx);
    const key = `${args.name}/${args.version}/${args.arch}`;
    const recorded = state[key]?.sha256 === args.sha256 ? state[key] : undefined;

    // Without downloading: which targets are current, which only need a chmod, which need content.
    const drift = await Promise.all(targets.map((t) => knownDrift(t, recorded)));
    const needContent = targets.filter((_t, i) => drift[i] === 'content');
    const needMode = targets.filter((_t, i) => drift[i] === 'mode');
    const files = `${targets.length} file${targets.length === 1 ? '' : 's'}`;
    if (needContent.length === 0 && needMode.length === 0) return { changed: false, message: `${label}: ${files} up to date` };

    const diffOf = (lines: string[]) => (ctx.diff ? lines.map((l) => `${l}\n`).join('') : undefined);
    if (needContent.length === 0) {
      const lines = await Promise.all(needMode.map(async (t) => `${t.to}: mode ${formatMode((await lstat(t.full)).mode)} → ${formatMode(t.mode)}`));
      if (ctx.check) return { changed: true, message: `would fix the mode of ${needMode.length} of ${files} from ${label}`, diff: diffOf(lines) };
      for (const t of needMode) await chmod(t.full, t.mode);
      return { changed: true, message: `fixed the mode of ${needMode.length} of ${files} from ${label}`, diff: diffOf(lines) };
    }
    if (ctx.check) {
      const lines = await Promise.all(
        targets.map(async (t) => {
          const exists = (await lstatOrNull(t.full)) !== null;
          const foreign = exists && !installedByUs(state, t.to) ? '; not installed by Ballast: refused unless identical' : '';
          return `${exists ? '~' : '+'} ${t.to} (${t.from}, mode ${formatMode(t.mode)}${foreign})`;
        }),
      );
      return { changed: true, message: `would install ${files} from ${label}`, diff: diffOf(lines) };
    }
    return install(args, ctx, { targets, workDir, state, key, label });
  },
  // Read-only: the same judgement `run` makes first; a download is needed when some target's content is.
  async prefetch(args, ctx) {
    const targets = await resolveTargets(args, ctx);
    const state = await readState(hostPath(ctx, ARTIFACT_WORK_DIR), ctx);
    const recorded = state[`${args.name}/${args.version}/${args.arch}`];
    const drift = await Promise.all(targets.map((t) => knownDrift(t, recorded?.sha256 === args.sha256 ? recorded : undefined)));
    return drift.includes('content') ? { name: args.name, version: args.version, arch: args.arch, sha256: args.sha256 } : null;
  },
};

/** Downloads, verifies, unpacks and installs; the work files are removed whatever happens. */
async function install(
  args: Args,
  ctx: ModuleContext,
  plan: { targets: Target[]; workDir: string; state: StateFile; key: string; label: string },
): Promise<ModuleOutcome> {
  const { targets, workDir, label } = plan;
  await mkdir(workDir, { recursive: true, mode: 0o700 });
  const stem = `.${args.name}-${args.version}-${args.arch}.${randomBytes(6).toString('hex')}`;
  const download = join(workDir, `${stem}.download`);
  const unpackDir = join(workDir, `${stem}.unpack`);
  try {
    await fetchVerified(args, ctx, download, label);
    const sources = await unpack(download, unpackDir, targets, label, ctx.signal);
    const lines: string[] = [];
    const installed: ArtifactState['files'] = {};
    // Every target is judged before any is written, so a refused one leaves the others untouched too.
    const judged: { t: Target; src: string; want: string; before: Stats | null; same: boolean }[] = [];
    for (const t of targets) {
      const src = sources.get(t.from)!;
      // A single-file artifact is the download itself, whose sha256 was just verified.
      const want = src === download ? args.sha256 : await hashFile(src, ctx.signal);
      const before = await lstatOrNull(t.full);
      const same = before?.isFile() === true && (await hashFile(t.full, ctx.signal)) === want;
      assertOurs(plan.state, t, before, same, label);
      judged.push({ t, src, want, before, same });
    }
    for (const { t, src, want, before, same } of judged) {
      installed[t.to] = { sha256: want, mode: t.mode };
      if (same && before !== null && (before.mode & 0o7777) === t.mode) continue;
      if (same && before !== null) {
        await chmod(t.full, t.mode);
        lines.push(`${t.to}: mode ${formatMode(before.mode)} → ${formatMode(t.mode)}`);
        continue;
      }
      await installFile(src, t.full, t.mode, targets.filter((o) => o.from === t.from).length === 1);
      lines.push(`${before === null ? '+' : '~'} ${t.to} (${t.from}, sha256 ${want.slice(0, 12)}…, mode ${formatMode(t.mode)})`);
    }
    const merged = plan.state[plan.key]?.sha256 === args.sha256 ? plan.state[plan.key]!.files : {};
    plan.state[plan.key] = { sha256: args.sha256, files: { ...merged, ...installed } };
    await writeFileAtomic(join(workDir, STATE_FILE), `${JSON.stringify(plan.state, null, 2)}\n`, 0o600);
    const files = `${targets.length} file${targets.length === 1 ? '' : 's'}`;
    if (lines.length === 0) return { changed: false, message: `${label}: ${files} up to date` };
    return { changed: true, message: `installed ${lines.length} of ${files} from ${label}`, ...(ctx.diff ? { diff: lines.map((l) => `${l}\n`).join('') } : {}) };
  } finally {
    await rm(download, { force: true });
    await rm(`${download}.tar`, { force: true });
    await rm(unpackDir, { recursive: true, force: true });
  }
}

/**
 * Streams the artifact into `dest` and fails closed (removing it) unless it hashes to `args.sha256`.
 * With `maxBytes`, a larger artifact is refused (BALLAST_ERR_TOO_LARGE) before or while it streams.
 */
export async function fetchVerified(
  args: { name: string; version: string; arch: string; sha256: string },
  ctx: ModuleContext,
  dest: string,
  label: string,
  maxBytes?: number,
): Promise<void> {
  if (ctx.artifacts === undefined) {
    throw new BallastError('BALLAST_ERR_UNSUPPORTED', `failed to fetch artifact ${label}: this agent has no artifact source (controller mirror)`);
  }
  // Downloaded ahead while earlier tasks ran, and verified against this same sha256 (prefetch.ts).
  const ahead = await ctx.prefetched?.take({ name: args.name, version: args.version, arch: args.arch, sha256: args.sha256 });
  if (ahead !== null && ahead !== undefined) {
    await rename(ahead, dest);
    return;
  }
  try {
    const { stream, size } = await ctx.artifacts.open({ name: args.name, version: args.version, arch: args.arch });
    if (maxBytes !== undefined && size !== null && size > maxBytes) {
      // Not read at all: let the connection go.
      (stream as NodeJS.ReadableStream & { destroy?: () => void }).destroy?.();
      throw new BallastError('BALLAST_ERR_TOO_LARGE', `failed to fetch artifact ${label}: it is ${size} bytes, more than the ${maxBytes} accepted`);
    }
    const bound = Math.min(size ?? Number.POSITIVE_INFINITY, maxBytes ?? Number.POSITIVE_INFINITY);
    // A work file: installed from (each installed file is fsynced) or imported, then removed; never synced itself.
    const got = await writeStreamToFile(stream, dest, { signal: ctx.signal, what: `artifact ${label}`, fsync: false, ...(bound === Number.POSITIVE_INFINITY ? {} : { maxBytes: bound }) });
    if (size !== null && got.size !== size) {
      throw new BallastError('BALLAST_ERR_CONNECT', `failed to fetch artifact ${label}: the download ended after ${got.size} of ${size} bytes`);
    }
    if (got.sha256 !== args.sha256) {
      throw new BallastError(
        'BALLAST_ERR_CHECKSUM_MISMATCH',
        `failed to verify artifact ${label}: expected sha256 ${args.sha256}, got ${got.sha256}; nothing was installed`,
      );
    }
  } catch (err) {
    await rm(dest, { force: true });
    if (isBallastError(err)) throw err;
    if (ctx.signal.aborted) throw new BallastError('BALLAST_ERR_CANCELLED', `failed to fetch artifact ${label}: cancelled`, { cause: err });
    throw new BallastError('BALLAST_ERR_CONNECT', `failed to fetch artifact ${label}: ${messageOf(err)}`, { cause: err });
  }
}

/** The engine's download-ahead (prefetch.ts): the same verified download a task makes. */
export const downloadAhead: PrefetchDownload = (ref, dest, ctx) => fetchVerified(ref, ctx, dest, artifactLabel(ref), ref.maxBytes);

/** Maps each `from` to a file on disk: the download itself for a single-file artifact, else unpacked members. */
async function unpack(download: string, dir: string, targets: Target[], label: string, signal: AbortSignal): Promise<Map<string, string>> {
  const kind = await sniffArchive(download);
  if (kind === 'file') {
    const nested = targets.find((t) => t.from.includes('/'));
    if (nested !== undefined) {
      throw new BallastError('BALLAST_ERR_VALIDATION', `failed to install artifact ${label}: it is a single file, not an archive; install[${nested.index}].from cannot be a path inside it`, {
        path: `/args/install/${nested.index}/from`,
      });
    }
    return new Map(targets.map((t) => [t.from, download]));
  }
  const tarOpts = { what: `artifact ${label}`, code: 'BALLAST_ERR_IO' as const, signal };
  // One gzip pass (the CPU of unpacking): the listing and the extraction read the plain tar.
  let tar = download;
  if (kind === 'tar.gz') {
    tar = `${download}.tar`;
    await gunzipToFile(download, tar, tarOpts);
  }
  const members = new Map<string, string>();
  for (const stored of await listTar(tar, 'tar', tarOpts)) members.set(normalizeMember(stored), stored);
  const missing = targets.find((t) => !members.has(t.from));
  if (missing !== undefined) {
    throw new BallastError('BALLAST_ERR_NOT_FOUND', `failed to install artifact ${label}: the archive has no ${missing.from}`, {
      path: `/args/install/${missing.index}/from`,
    });
  }
  await mkdir(dir, { mode: 0o700 });
  await extractTar(tar, 'tar', dir, [...new Set(targets.map((t) => members.get(t.from)!))], tarOpts);
  const sources = new Map<string, string>();
  for (const t of targets) {
    const path = join(dir, members.get(t.from)!);
    if (!(await lstat(path)).isFile()) {
      throw new BallastError('BALLAST_ERR_VALIDATION', `failed to install artifact ${label}: ${t.from} is not a regular file in the archive`, {
        path: `/args/install/${t.index}/from`,
      });
    }
    sources.set(t.from, path);
  }
  return sources;
}

/**
 * Puts `src`'s bytes next to `dest`, sets the mode, fsyncs, and renames it over `dest`. A work file
 * used by this target only is hard-linked instead of copied when it is on the same filesystem (its
 * bytes are written to disk once, by this fsync); otherwise, or across filesystems, it is copied.
 */
async function installFile(src: string, dest: string, mode: number, soleUse: boolean): Promise<void> {
  const dir = dirname(dest);
  await mkdir(dir, { recursive: true, mode: 0o755 });
  const tmp = join(dir, `.${basename(dest)}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    const linked = soleUse && (await link(src, tmp).then(() => true, () => false));
    if (!linked) await copyFile(src, tmp, constants.COPYFILE_EXCL);
    await chmod(tmp, mode);
    await fsync(tmp);
    await rename(tmp, dest);
  } catch (err) {
    await rm(tmp, { force: true });
    throw new BallastError('BALLAST_ERR_IO', `failed to install ${dest}: ${messageOf(err)}`, { cause: err });
  }
  await fsync(dir);
}

async function fsync(path: string): Promise<void> {
  const handle = await open(path, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * Resolves destinations: `from` must be a plain relative path, `to` unique and one of the places
 * binaries go ({@link BINARY_PATHS}: known names only, no symlink escape).
 */
async function resolveTargets(args: Args, ctx: ModuleContext): Promise<Target[]> {
  const seen = new Set<string>();
  const targets: Target[] = [];
  for (const [index, entry] of args.install.entries()) {
    const from = normalizeMember(entry.from);
    if (from === '' || entry.from.startsWith('/') || from.split('/').some((s) => s === '..' || s === '.' || s === '')) {
      throw new BallastError('BALLAST_ERR_VALIDATION', `failed to install artifact ${artifactLabel(args)}: install[${index}].from must be a relative path inside the artifact`, {
        path: `/args/install/${index}/from`,
      });
    }
    if (seen.has(entry.to)) {
      throw new BallastError('BALLAST_ERR_VALIDATION', `failed to install artifact ${artifactLabel(args)}: ${entry.to} is installed twice`, {
        path: `/args/install/${index}/to`,
      });
    }
    seen.add(entry.to);
    let full: string;
    try {
      full = await safePath(ctx, entry.to, BINARY_PATHS, `install artifact ${artifactLabel(args)} to`);
    } catch (err) {
      // Same error, pointing at the entry rather than a `path` argument this module does not have.
      if (isBallastError(err)) throw new BallastError(err.code, err.message, { path: `/args/install/${index}/to`, cause: err });
      throw err;
    }
    targets.push({ index, from, to: entry.to, full, mode: entry.mode === undefined ? DEFAULT_MODE : parseMode(entry.mode) });
  }
  return targets;
}

/** True when some artifact's state records `to` as a file it installed. */
function installedByUs(state: StateFile, to: string): boolean {
  return Object.values(state).some((a) => Object.hasOwn(a.files, to));
}

/**
 * The artifact module's "not ours, refuse" guard (the managed-by marker of file/template, for
 * binaries that cannot carry one): an existing file is replaced only if the state file records that
 * we installed it. An identical file is adopted (nothing is overwritten); anything else that is
 * there — an unmanaged binary, `authorized_keys`, a symlink — is refused.
 */
function assertOurs(state: StateFile, t: Target, before: Stats | null, same: boolean, label: string): void {
  if (before === null || same) return;
  if (before.isFile() && installedByUs(state, t.to)) return;
  throw new BallastError(
    'BALLAST_ERR_FILE_UNMANAGED',
    `failed to install artifact ${label}: ${t.to} exists and was not installed by Ballast (${before.isFile() ? 'different content' : 'not a regular file'}); remove it first if it should be replaced`,
    { path: `/args/install/${t.index}/to` },
  );
}

/**
 * What a target needs, judged without the artifact: 'ok', a 'mode' fix, or 'content' (absent,
 * different from what we installed, or never recorded — only the download can tell then).
 */
async function knownDrift(t: Target, recorded: ArtifactState | undefined): Promise<'ok' | 'mode' | 'content'> {
  const want = recorded?.files[t.to];
  if (want === undefined) return 'content';
  const stat = await lstatOrNull(t.full);
  if (stat === null || !stat.isFile() || (await hashFile(t.full)) !== want.sha256) return 'content';
  return (stat.mode & 0o7777) === t.mode ? 'ok' : 'mode';
}

/** The state file, or an empty state when absent; a corrupt one is ignored (it only saves downloads). */
async function readState(workDir: string, ctx: Pick<ModuleContext, 'log'>): Promise<StateFile> {
  let text: string;
  try {
    text = await readFile(join(workDir, STATE_FILE), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw err;
  }
  try {
    const parsed = JSON.parse(text) as unknown;
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return {};
    // Keep only well-formed entries: a hand-edited file must not crash the module.
    const valid = Object.entries(parsed as Record<string, Partial<ArtifactState>>).filter(
      ([, v]) => typeof v?.sha256 === 'string' && typeof v.files === 'object' && v.files !== null,
    );
    return Object.fromEntries(valid) as StateFile;
  } catch (err) {
    // Worst case: one extra download, after which the file is rewritten whole.
    ctx.log.warn({ err, path: join(workDir, STATE_FILE) }, 'ignoring an unreadable artifact state file');
    return {};
  }
}

import { isAbsolute, join, normalize, relative, sep } from 'node:path';
import type { Logger } from 'pino';
import { BallastError } from '../../../shared/src/errors.js';
import type { ModuleArgs, ModuleName } from '../../../shared/src/tasks/modules.js';
import { pathProblem } from '../../../shared/src/tasks/safety.js';
import type { ExecPort, SystemdPort } from '../host/ports.js';

/** Identifies one artifact in the controller's mirror. */
export interface ArtifactRef {
  name: string;
  version: string;
  arch: string;
}

/** Where the `artifact` module downloads from (the controller's mirror, over mTLS). */
export interface ArtifactSource {
  /** Opens the artifact's bytes; `size` is null when the server did not say. */
  open(ref: ArtifactRef): Promise<{ stream: NodeJS.ReadableStream; size: number | null }>;
}

/** Identifies one etcd snapshot in the controller's snapshot store. */
export interface SnapshotRef {
  cluster: string;
  id: string;
}

/**
 * Where `etcd_restore` downloads a snapshot from (the controller, over mTLS, the same transport as
 * artifacts). The caller verifies the sha256 before using a byte of it.
 */
export interface SnapshotSource {
  openSnapshot(ref: SnapshotRef): Promise<{ stream: NodeJS.ReadableStream; size: number | null }>;
}

/** A download a task will need, found before the task runs without changing anything (see {@link Module.prefetch}). */
export interface PrefetchRef extends ArtifactRef {
  /** The pinned sha256: a prefetched file is handed out only to a task that pins the same one. */
  sha256: string;
  /** Largest download accepted (the module's own bound). */
  maxBytes?: number;
}

/** Downloads the engine started ahead of their tasks, while earlier tasks ran (prefetch.ts). */
export interface PrefetchedDownloads {
  /**
   * A file in the artifact work dir holding `ref`'s bytes, already verified against its sha256,
   * for the caller to keep (rename it; the run removes it otherwise); null: download it yourself.
   * Waits for a download of `ref` that is under way.
   */
  take(ref: PrefetchRef): Promise<string | null>;
}

/** Everything a module may touch. Modules reach the host only through these, so tests fake them all. */
export interface ModuleContext {
  /** '/' in production; tests pass a temp dir. Every absolute path is resolved under it with {@link hostPath}. */
  root: string;
  /** Report what would change, touch nothing. */
  check: boolean;
  /** Include diffs in the outcome. */
  diff: boolean;
  /** Aborted when the run is cancelled or its deadline passes. */
  signal: AbortSignal;
  log: Logger;
  exec: ExecPort;
  systemd: SystemdPort;
  artifacts?: ArtifactSource;
  /** Snapshots for `etcd_restore`; absent on agents without a controller connection. */
  snapshots?: SnapshotSource;
  /** Downloads started ahead of this task (runs that change things only). */
  prefetched?: PrefetchedDownloads;
}

/** What a module did (or, in check mode, would do). */
export interface ModuleOutcome {
  changed: boolean;
  /** One human line. */
  message: string;
  /** Unified diff and/or `property before → after` lines. */
  diff?: string;
  /** The module decided not to act (e.g. `command` in check mode). */
  skipped?: boolean;
}

/**
 * One idempotent operation. `run` converges the host to `args` and says whether anything changed;
 * it throws a coded {@link BallastError} on failure, which the engine turns into a `failed` result.
 * `args` have already been validated against the module's schema.
 */
export interface Module<M extends ModuleName> {
  readonly name: M;
  run(args: ModuleArgs<M>, ctx: ModuleContext): Promise<ModuleOutcome>;
  /**
   * The download `run` will need, judged now without changing anything, or null (nothing to
   * download, or it cannot tell yet). The engine calls it for the next tasks while an earlier one
   * runs and starts that download early; `run` must not rely on it (it takes the file if there).
   */
  prefetch?(args: ModuleArgs<M>, ctx: ModuleContext): Promise<PrefetchRef | null>;
}

/**
 * Resolves an absolute host path under `ctx.root`. The path must already be canonical (see
 * {@link pathProblem}): a `..` segment is refused as climbing out (BALLAST_ERR_PATH_OUTSIDE_ROOT),
 * and `.` segments, `//` or a trailing `/` as unsafe (BALLAST_ERR_UNSAFE_PATH), never normalised
 * away — every later check (allow-lists, "not a top-level directory") then sees the path that is
 * touched. Task arguments are data from the controller, and a path that needs normalising is a bug
 * or an attack either way. Symlinks are checked by `safePath` (safe-path.ts) for paths that are written.
 */
export function hostPath(ctx: Pick<ModuleContext, 'root'>, path: string): string {
  if (!isAbsolute(path)) {
    throw new BallastError('BALLAST_ERR_PATH_OUTSIDE_ROOT', `failed to resolve ${JSON.stringify(path)}: not an absolute path`);
  }
  if (path.split('/').includes('..')) {
    throw new BallastError('BALLAST_ERR_PATH_OUTSIDE_ROOT', `failed to resolve ${JSON.stringify(path)}: ".." is not allowed`);
  }
  const problem = pathProblem(path);
  if (problem !== null) throw new BallastError('BALLAST_ERR_UNSAFE_PATH', `failed to resolve ${JSON.stringify(path.slice(0, 256))}: ${problem}`);
  const root = normalize(ctx.root);
  const full = normalize(join(root, path));
  const rel = relative(root, full);
  if (rel.startsWith(`..${sep}`) || rel === '..' || isAbsolute(rel)) {
    throw new BallastError('BALLAST_ERR_PATH_OUTSIDE_ROOT', `failed to resolve ${JSON.stringify(path)}: escapes ${root}`);
  }
  return full;
}

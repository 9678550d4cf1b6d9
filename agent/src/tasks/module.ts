import { isAbsolute, join, normalize, relative, sep } from 'node:path';
import type { Logger } from 'pino';
import { BallastError } from '../../../shared/src/errors.js';
import type { ModuleArgs, ModuleName } from '../../../shared/src/tasks/modules.js';
import { pathProblem } from '../../../shared/src/tasks/safety.js';

/** Options of one {@link ExecPort} call. */
export interface ExecOptions {
  /** Kill the command (its whole process group) after this long; the call rejects with BALLAST_ERR_COMMAND_TIMEOUT. */
  timeoutMs?: number;
  /** Aborting kills the command; the call rejects with BALLAST_ERR_CANCELLED. */
  signal?: AbortSignal;
  /** Added to (and overriding) the agent's own environment. */
  env?: Record<string, string>;
}

/** How a command ended. `code` is the exit status (128 + signal number when killed by a signal). */
export interface ExecResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs a command given as argv (never a shell string). Resolves with the exit status whatever it
 * is, so callers decide what a non-zero exit means; rejects only when the command could not be
 * started (BALLAST_ERR_COMMAND_FAILED), timed out or was cancelled.
 */
export type ExecPort = (argv: string[], opts?: ExecOptions) => Promise<ExecResult>;

/** The systemd operations modules and the component supervisor need. Real one: `systemctl` via {@link ExecPort}. */
export interface SystemdPort {
  daemonReload(): Promise<void>;
  /** True for `enabled`, `enabled-runtime` and `alias` (what `systemctl is-enabled` prints). */
  isEnabled(unit: string): Promise<boolean>;
  enable(unit: string): Promise<void>;
  disable(unit: string): Promise<void>;
  /** True for `active`, `reloading` and `activating`: up, or on its way up (nothing to start). */
  isActive(unit: string): Promise<boolean>;
  start(unit: string): Promise<void>;
  stop(unit: string): Promise<void>;
  restart(unit: string): Promise<void>;
}

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

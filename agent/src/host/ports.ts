/**
 * The host's side-effect ports: running a command and driving systemd. The task modules, the unit
 * supervisor and the VIP all reach the host through these (STYLE.md §9), so each can be tested with
 * a fake; the real adapters are exec.ts and systemctl.ts beside this file.
 */

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

/** systemd's ActiveState words; `unknown` for anything else `systemctl is-active` prints. */
export type UnitActiveState = 'active' | 'reloading' | 'inactive' | 'failed' | 'activating' | 'deactivating' | 'unknown';

/** Settled down: nothing runs and nothing is queued to run (a stop has nothing left to do). */
export const STOPPED_STATES: ReadonlySet<UnitActiveState> = new Set(['inactive', 'failed']);

/** The systemd operations modules and the component supervisor need. Real one: `systemctl` via {@link ExecPort}. */
export interface SystemdPort {
  daemonReload(): Promise<void>;
  /** True for `enabled`, `enabled-runtime` and `alias` (what `systemctl is-enabled` prints). */
  isEnabled(unit: string): Promise<boolean>;
  enable(unit: string): Promise<void>;
  disable(unit: string): Promise<void>;
  /** True for `active`, `reloading` and `activating`: up, or on its way up (nothing to start). */
  isActive(unit: string): Promise<boolean>;
  /**
   * The state word `systemctl is-active` prints. Callers that stop units need more than
   * {@link isActive}: a `deactivating` unit is not up, but it is not down yet either — a start
   * queued meanwhile (the supervisor's) cancels the stop and brings it back.
   */
  activeState(unit: string): Promise<UnitActiveState>;
  start(unit: string): Promise<void>;
  stop(unit: string): Promise<void>;
  restart(unit: string): Promise<void>;
}

/**
 * Errors ballastctl reports to the operator. Every failure ends up as exactly one stderr line
 * `error: <message>`; the exit code tells scripts whether retrying can help (1) or the invocation
 * itself is wrong (2).
 */

/** Exit code for runtime failures: the controller refused, failed or could not be reached. */
export const EXIT_FAILURE = 1;
/** Exit code for usage and configuration problems: fix the command line or the config file. */
export const EXIT_USAGE = 2;
/** Exit code when the user interrupted a non-streaming command (128 + SIGINT, shell convention). */
export const EXIT_INTERRUPTED = 130;

/** A failure with a ready-to-print, one-line message and the exit code it maps to. */
export class CtlError extends Error {
  readonly exitCode: number;
  /** The controller's error code (e.g. `BALLAST_ERR_NOT_FOUND`) when the failure came from the API. */
  readonly code: string | undefined;

  constructor(message: string, exitCode: number, options: { code?: string; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'CtlError';
    this.exitCode = exitCode;
    this.code = options.code;
  }
}

/** A usage problem (bad flag value, bad name): exit 2. */
export function usageError(message: string): CtlError {
  return new CtlError(message, EXIT_USAGE);
}

/** A configuration problem (missing or invalid config file): exit 2. */
export function configError(message: string, cause?: unknown): CtlError {
  return new CtlError(message, EXIT_USAGE, { code: 'BALLAST_ERR_CONFIG', cause });
}

/** Thrown by the HTTP client when the caller's signal aborted a request (Ctrl-C). */
export class AbortedError extends Error {
  constructor() {
    super('aborted');
    this.name = 'AbortedError';
  }
}

/** Collapses any message to a single line, because scripts and log scrapers read stderr by line. */
export function oneLine(message: string): string {
  return message.replace(/\s*[\r\n]+\s*/g, ' ').trim();
}

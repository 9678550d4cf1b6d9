/**
 * Errors ballastctl reports to the operator. Every failure ends up as exactly one stderr line
 * `error: <message>`; the exit code tells scripts whether retrying can help (1) or the invocation
 * itself is wrong (2). A coded failure's exit code comes from the error table
 * (shared/src/errors.ts), like the controller's HTTP status does.
 */
import { EXIT_FAILURE, EXIT_USAGE, exitCodeOf } from '../../shared/src/errors.js';

export { EXIT_FAILURE, EXIT_USAGE, exitCodeOf };
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
  return new CtlError(message, exitCodeOf('BALLAST_ERR_CONFIG'), { code: 'BALLAST_ERR_CONFIG', cause });
}

/**
 * A refusal from the controller: `status` and its coded body (`code` is `HTTP_<status>` when the
 * body had none). 401 names the server, because a stale token and the wrong server look alike.
 */
export function apiError(options: { server: string; status: number; code: string; message: string }): CtlError {
  const { server, status, code, message } = options;
  const exitCode = exitCodeOf(code);
  if (status === 401) return new CtlError(`controller ${server}: unauthenticated: ${message}`, exitCode, { code });
  if (status === 403) return new CtlError(`forbidden: ${message}`, exitCode, { code });
  return new CtlError(`${code}: ${message}`, exitCode, { code });
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

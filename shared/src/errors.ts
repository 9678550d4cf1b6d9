/**
 * Every error Ballast reports, listed once with a stable code (fastify's lib/errors.js idea).
 * Messages follow "failed to <verb> <noun>: <why>"; the original error is kept as `cause`.
 */
export const ERROR_CODES = {
  BALLAST_ERR_FRAME_TOO_LARGE: 'a frame exceeded the size limit',
  BALLAST_ERR_FRAME_MALFORMED: 'a frame was not valid JSON',
  BALLAST_ERR_FRAME_UNKNOWN_TYPE: 'a frame had an unknown type',
  BALLAST_ERR_FRAME_INVALID: 'a frame did not match its schema',
  BALLAST_ERR_FRAME_UNEXPECTED: 'a frame arrived that is not allowed in this state',
  BALLAST_ERR_PROTOCOL_VERSION: 'the peers speak different protocol versions',
  BALLAST_ERR_DEADLINE_EXCEEDED: 'a request got no answer before its deadline',
  BALLAST_ERR_PEER_GONE: 'the peer disconnected before answering',
  BALLAST_ERR_UNAUTHENTICATED: 'no valid credentials were presented',
  BALLAST_ERR_FORBIDDEN: 'the caller may not do this',
  BALLAST_ERR_TOKEN_INVALID: 'the join token is unknown or malformed',
  BALLAST_ERR_TOKEN_EXPIRED: 'the join token has expired',
  BALLAST_ERR_TOKEN_EXHAUSTED: 'the join token has no uses left',
  BALLAST_ERR_TOKEN_REVOKED: 'the join token was revoked',
  BALLAST_ERR_CA_HASH_MISMATCH: "the controller's CA does not match the pinned hash",
  BALLAST_ERR_CERT_REVOKED: 'the host certificate was revoked',
  BALLAST_ERR_CSR_INVALID: 'the certificate signing request is invalid',
  BALLAST_ERR_HOST_EXISTS: 'a host with this name is already enrolled',
  BALLAST_ERR_NOT_FOUND: 'the object does not exist',
  BALLAST_ERR_VALIDATION: 'an input did not match its schema',
  BALLAST_ERR_CONFIG: 'the configuration is invalid',
  BALLAST_ERR_CONNECT: 'the server could not be reached',
  BALLAST_ERR_TLS: 'the TLS handshake failed',
  BALLAST_ERR_STORE: 'the store failed',
  BALLAST_ERR_UNSUPPORTED: 'the peer does not support this request',
  BALLAST_ERR_CHECKSUM_MISMATCH: 'an artifact did not match its pinned sha256',
  BALLAST_ERR_ARTIFACT_CONFLICT: 'an artifact with this name, version and arch exists with another sha256',
  BALLAST_ERR_INTERNAL: 'an internal error occurred',
  BALLAST_ERR_PATH_OUTSIDE_ROOT: 'a path escapes the host root',
  BALLAST_ERR_FILE_UNMANAGED: 'an existing file lacks the managed-by header and force was not set',
  BALLAST_ERR_TEMPLATE_VARIABLE: 'a template referenced an undefined variable',
  BALLAST_ERR_COMMAND_NOT_ALLOWED: "an executable is not in the agent's allow-list",
  BALLAST_ERR_COMMAND_FAILED: 'a command could not be run or exited non-zero',
  BALLAST_ERR_COMMAND_TIMEOUT: 'a command did not finish before its timeout',
  BALLAST_ERR_IO: 'a filesystem operation failed',
  BALLAST_ERR_RUN_BUSY: 'another task run is in progress on this host',
  BALLAST_ERR_CANCELLED: 'the operation was cancelled',
  BALLAST_ERR_PREFLIGHT: 'a host failed its preflight checks',
  BALLAST_ERR_ETCD_UNAVAILABLE: 'no etcd endpoint answered in time',
  BALLAST_ERR_ETCD_REFUSED: 'etcd refused a request',
  BALLAST_ERR_ETCD_MEMBER_CONFLICT: 'an etcd member has the peer URLs or the name of another host',
  BALLAST_ERR_QUORUM_GUARD: 'a membership change was refused because it could cost etcd its quorum',
  BALLAST_ERR_RUN_FAILED: 'a role run on a host failed',
  BALLAST_ERR_GATE: 'a health gate of an operation was not met before its deadline',
  BALLAST_ERR_KUBE_UNAVAILABLE: 'the Kubernetes API did not answer in time',
  BALLAST_ERR_KUBE_REFUSED: 'the Kubernetes API refused a request',
  BALLAST_ERR_VIP_NOT_CONFIGURED: 'the host has no VIP configured (no /etc/ballast/vip.yaml)',
  BALLAST_ERR_VIP_NOT_HOLDER: 'the host does not hold the VIP',
  BALLAST_ERR_VIP_NO_HOLDER: 'no reachable host holds the VIP',
  BALLAST_ERR_VIP_TARGET_UNFIT: 'the host cannot take the VIP (not connected, unhealthy, not a candidate or excluded)',
  BALLAST_ERR_VIP_MOVE_TIMEOUT: 'the VIP was handed over but the target did not report holding it in time',
  BALLAST_ERR_UNSAFE_PATH: 'a path is not in canonical form, is outside the places tasks may touch, or resolves outside them through a symlink',
  BALLAST_ERR_UNSAFE_VALUE: 'a sysctl, kernel module or other host setting is not in its allow-list',
  BALLAST_ERR_ARTIFACT_UNTRUSTED: 'an artifact is neither pinned by the built-in catalogue nor imported by an admin',
  BALLAST_ERR_ARCHIVE_TOO_LARGE: 'an archive unpacks to more bytes than its manifest declares or the absolute cap allows',
} as const;

/** True when `value` is one of the {@link ERROR_CODES} (codes that crossed a process boundary as strings). */
export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && Object.hasOwn(ERROR_CODES, value);
}

/** A stable error code, e.g. `BALLAST_ERR_TOKEN_EXPIRED`. */
export type ErrorCode = keyof typeof ERROR_CODES;

/** The JSON shape of an error on the wire (HTTP bodies and websocket frames). */
export interface ErrorBody {
  code: ErrorCode;
  message: string;
  /** Where the problem is, e.g. a JSON path like `/facts/nics/0/mac`. */
  path?: string;
}

/** The one error class Ballast throws for expected failures. */
export class BallastError extends Error {
  readonly code: ErrorCode;
  readonly path: string | undefined;

  constructor(code: ErrorCode, message: string, options: { cause?: unknown; path?: string } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'BallastError';
    this.code = code;
    this.path = options.path;
  }

  toBody(): ErrorBody {
    return this.path === undefined
      ? { code: this.code, message: this.message }
      : { code: this.code, message: this.message, path: this.path };
  }
}

/** True when `value` is a BallastError with one of the given codes (or any code if none given). */
export function isBallastError(value: unknown, ...codes: ErrorCode[]): value is BallastError {
  return value instanceof BallastError && (codes.length === 0 || codes.includes(value.code));
}

/** The message of any thrown value, for logs and error bodies. */
export function messageOf(value: unknown): string {
  if (value instanceof Error) return value.message;
  return String(value);
}

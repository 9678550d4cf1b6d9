/**
 * Every error Ballast reports, listed once with a stable code (fastify's lib/errors.js idea): the
 * code's default message, the HTTP status the controller answers with, and the exit code ballastctl
 * ends with. The controller's one error handler (controller/src/api/errors.ts) and ballastctl
 * (controller/src/ctl/errors.ts) read their numbers from here and nowhere else, so a new code is one
 * new line below. Messages follow "failed to <verb> <noun>: <why>"; the original error is kept as `cause`.
 *
 * Status rules: 4xx when the caller can fix the request; 409 when the fleet's state refuses it now
 * (busy, not connected, a guard); 502/503/504 when a host, etcd or the Kubernetes API failed or did
 * not answer; 500 only for the controller's own faults (errors.test.ts holds the list).
 */

/** ballastctl's exit code for runtime failures: the controller refused, failed or could not be reached. */
export const EXIT_FAILURE = 1;
/** ballastctl's exit code for usage and configuration problems: fix the command line or the config file. */
export const EXIT_USAGE = 2;

/** What the table says about one code. */
export interface ErrorSpec {
  /** The default message: what the code means, for documentation and for errors built from a code alone. */
  readonly message: string;
  /** The HTTP status the controller answers with when a route fails with this code. */
  readonly status: number;
  /** The exit code ballastctl ends with when this code is the reason it failed. */
  readonly exit: typeof EXIT_FAILURE | typeof EXIT_USAGE;
}

/** The table: code → default message, HTTP status, ballastctl exit code. New codes go here, one line each. */
export const ERROR_CODES = {
  BALLAST_ERR_FRAME_TOO_LARGE: { status: 413, exit: EXIT_FAILURE, message: 'a frame exceeded the size limit' },
  BALLAST_ERR_FRAME_MALFORMED: { status: 502, exit: EXIT_FAILURE, message: 'a frame was not valid JSON' },
  BALLAST_ERR_FRAME_UNKNOWN_TYPE: { status: 502, exit: EXIT_FAILURE, message: 'a frame had an unknown type' },
  BALLAST_ERR_FRAME_INVALID: { status: 502, exit: EXIT_FAILURE, message: 'a frame did not match its schema' },
  BALLAST_ERR_FRAME_TOO_DEEP: { status: 502, exit: EXIT_FAILURE, message: 'a frame was JSON nested deeper than the limit (refused before parsing)' },
  BALLAST_ERR_FRAME_UNEXPECTED: { status: 502, exit: EXIT_FAILURE, message: 'a frame arrived that is not allowed in this state' },
  BALLAST_ERR_PROTOCOL_VERSION: { status: 502, exit: EXIT_FAILURE, message: 'the peers speak different protocol versions' },
  BALLAST_ERR_DEADLINE_EXCEEDED: { status: 504, exit: EXIT_FAILURE, message: 'a request got no answer before its deadline' },
  BALLAST_ERR_PEER_GONE: { status: 502, exit: EXIT_FAILURE, message: 'the peer disconnected before answering' },
  BALLAST_ERR_UNAUTHENTICATED: { status: 401, exit: EXIT_FAILURE, message: 'no valid credentials were presented' },
  BALLAST_ERR_FORBIDDEN: { status: 403, exit: EXIT_FAILURE, message: 'the caller may not do this' },
  BALLAST_ERR_TOKEN_INVALID: { status: 401, exit: EXIT_FAILURE, message: 'the join token is unknown or malformed' },
  BALLAST_ERR_TOKEN_EXPIRED: { status: 401, exit: EXIT_FAILURE, message: 'the join token has expired' },
  BALLAST_ERR_TOKEN_EXHAUSTED: { status: 401, exit: EXIT_FAILURE, message: 'the join token has no uses left' },
  BALLAST_ERR_TOKEN_REVOKED: { status: 401, exit: EXIT_FAILURE, message: 'the join token was revoked' },
  BALLAST_ERR_CA_HASH_MISMATCH: { status: 502, exit: EXIT_FAILURE, message: "the controller's CA does not match the pinned hash" },
  BALLAST_ERR_CERT_REVOKED: { status: 403, exit: EXIT_FAILURE, message: 'the host certificate was revoked' },
  BALLAST_ERR_CSR_INVALID: { status: 400, exit: EXIT_FAILURE, message: 'the certificate signing request is invalid' },
  BALLAST_ERR_HOST_EXISTS: { status: 409, exit: EXIT_FAILURE, message: 'a host with this name is already enrolled' },
  BALLAST_ERR_NOT_FOUND: { status: 404, exit: EXIT_FAILURE, message: 'the object does not exist' },
  BALLAST_ERR_VALIDATION: { status: 400, exit: EXIT_FAILURE, message: 'an input did not match its schema' },
  BALLAST_ERR_TOO_LARGE: { status: 413, exit: EXIT_FAILURE, message: 'a request body or upload exceeded its size limit' },
  BALLAST_ERR_CONFIG: { status: 500, exit: EXIT_USAGE, message: 'the configuration is invalid' },
  BALLAST_ERR_CONNECT: { status: 502, exit: EXIT_FAILURE, message: 'the server could not be reached' },
  BALLAST_ERR_TLS: { status: 502, exit: EXIT_FAILURE, message: 'the TLS handshake failed' },
  BALLAST_ERR_STORE: { status: 500, exit: EXIT_FAILURE, message: 'the store failed' },
  BALLAST_ERR_UNSUPPORTED: { status: 409, exit: EXIT_FAILURE, message: 'the peer does not support this request' },
  BALLAST_ERR_CHECKSUM_MISMATCH: { status: 422, exit: EXIT_FAILURE, message: 'an artifact did not match its pinned sha256' },
  BALLAST_ERR_ARTIFACT_CONFLICT: { status: 409, exit: EXIT_FAILURE, message: 'an artifact with this name, version and arch exists with another sha256' },
  BALLAST_ERR_INTERNAL: { status: 500, exit: EXIT_FAILURE, message: 'an internal error occurred' },
  BALLAST_ERR_PATH_OUTSIDE_ROOT: { status: 400, exit: EXIT_FAILURE, message: 'a path escapes the host root' },
  BALLAST_ERR_FILE_UNMANAGED: { status: 409, exit: EXIT_FAILURE, message: 'an existing file lacks the managed-by header and force was not set' },
  BALLAST_ERR_TEMPLATE_VARIABLE: { status: 400, exit: EXIT_FAILURE, message: 'a template referenced an undefined variable' },
  BALLAST_ERR_COMMAND_NOT_ALLOWED: { status: 403, exit: EXIT_FAILURE, message: "an executable is not in the agent's allow-list" },
  BALLAST_ERR_COMMAND_FAILED: { status: 502, exit: EXIT_FAILURE, message: 'a command could not be run or exited non-zero' },
  BALLAST_ERR_COMMAND_TIMEOUT: { status: 504, exit: EXIT_FAILURE, message: 'a command did not finish before its timeout' },
  BALLAST_ERR_IO: { status: 500, exit: EXIT_FAILURE, message: 'a filesystem operation failed' },
  BALLAST_ERR_RUN_BUSY: { status: 409, exit: EXIT_FAILURE, message: 'another task run is in progress on this host' },
  BALLAST_ERR_HOST_BUSY: { status: 409, exit: EXIT_FAILURE, message: 'the host is busy with another run' },
  BALLAST_ERR_HOST_NOT_CONNECTED: { status: 409, exit: EXIT_FAILURE, message: 'the host has no agent connected' },
  BALLAST_ERR_CANCELLED: { status: 409, exit: EXIT_FAILURE, message: 'the operation was cancelled' },
  BALLAST_ERR_PREFLIGHT: { status: 409, exit: EXIT_FAILURE, message: 'a host failed its preflight checks' },
  BALLAST_ERR_ETCD_UNAVAILABLE: { status: 503, exit: EXIT_FAILURE, message: 'no etcd endpoint answered in time' },
  BALLAST_ERR_ETCD_REFUSED: { status: 502, exit: EXIT_FAILURE, message: 'etcd refused a request' },
  BALLAST_ERR_ETCD_MEMBER_CONFLICT: { status: 409, exit: EXIT_FAILURE, message: 'an etcd member has the peer URLs or the name of another host' },
  BALLAST_ERR_QUORUM_GUARD: { status: 409, exit: EXIT_FAILURE, message: 'a membership change was refused because it could cost etcd its quorum' },
  BALLAST_ERR_RUN_FAILED: { status: 502, exit: EXIT_FAILURE, message: 'a role run on a host failed' },
  BALLAST_ERR_GATE: { status: 504, exit: EXIT_FAILURE, message: 'a health gate of an operation was not met before its deadline' },
  BALLAST_ERR_KUBE_UNAVAILABLE: { status: 503, exit: EXIT_FAILURE, message: 'the Kubernetes API did not answer in time' },
  BALLAST_ERR_KUBE_REFUSED: { status: 502, exit: EXIT_FAILURE, message: 'the Kubernetes API refused a request' },
  BALLAST_ERR_VIP_NOT_CONFIGURED: { status: 409, exit: EXIT_FAILURE, message: 'the host has no VIP configured (no /etc/ballast/vip.yaml)' },
  BALLAST_ERR_VIP_NOT_HOLDER: { status: 409, exit: EXIT_FAILURE, message: 'the host does not hold the VIP' },
  BALLAST_ERR_VIP_NO_HOLDER: { status: 409, exit: EXIT_FAILURE, message: 'no reachable host holds the VIP' },
  BALLAST_ERR_VIP_TARGET_UNFIT: { status: 409, exit: EXIT_FAILURE, message: 'the host cannot take the VIP (not connected, unhealthy, not a candidate or excluded)' },
  BALLAST_ERR_VIP_MOVE_TIMEOUT: { status: 504, exit: EXIT_FAILURE, message: 'the VIP was handed over but the target did not report holding it in time' },
  BALLAST_ERR_CLUSTER_PKI_MISSING: { status: 409, exit: EXIT_FAILURE, message: 'the cluster has no PKI yet: cluster create has not issued it' },
  // Node replacement, add and remove (issue 12).
  BALLAST_ERR_MEMBERSHIP_LOCKED: { status: 409, exit: EXIT_FAILURE, message: "another membership change holds the cluster's membership lock" },
  BALLAST_ERR_DRAIN_TIMEOUT: { status: 504, exit: EXIT_FAILURE, message: 'a node could not be drained before its deadline (PodDisruptionBudgets refused evictions, or pods did not terminate)' },
  BALLAST_ERR_FENCE_FAILED: { status: 409, exit: EXIT_FAILURE, message: 'an unreachable host could not be confirmed powered off (fenced); nothing was removed' },
  BALLAST_ERR_HOST_TAKEN_OUT: { status: 403, exit: EXIT_FAILURE, message: 'the host was taken out of its cluster (replaced or removed): it must keep kubelet, etcd and the VIP down' },
  BALLAST_ERR_HOST_UNREACHABLE: { status: 409, exit: EXIT_FAILURE, message: 'the host is not connected; removing it needs --force-offline (it is fenced first)' },
  BALLAST_ERR_RATE_LIMITED: { status: 429, exit: EXIT_FAILURE, message: 'too many attempts from one source; try again later' },
  BALLAST_ERR_LABEL_INVALID: { status: 400, exit: EXIT_FAILURE, message: 'a host label is not valid (key: optional DNS prefix and a name of at most 63 characters; value: at most 63 characters; at most 32 labels a host)' },
  BALLAST_ERR_LABEL_EXISTS: { status: 409, exit: EXIT_FAILURE, message: 'the host already has this label with another value; pass --overwrite (overwrite: true) to change it' },
  // Disaster recovery: cluster recover (issue 13).
  BALLAST_ERR_ETCD_STILL_SERVING: { status: 409, exit: EXIT_FAILURE, message: 'the old etcd cluster still serves with quorum, or the local member still runs: a restore would fork it' },
  BALLAST_ERR_RESTORE_FAILED: { status: 502, exit: EXIT_FAILURE, message: 'etcdutl snapshot restore failed on a host' },
  BALLAST_ERR_SNAPSHOT_UNUSABLE: { status: 409, exit: EXIT_FAILURE, message: 'the snapshot cannot be restored: unknown, failed its checksum, or from another cluster' },
  BALLAST_ERR_ETCD_DATA_LOST: { status: 409, exit: EXIT_FAILURE, message: "an etcd member's data is gone (or was never there): starting it would create a new, empty cluster; recover with ballastctl cluster recover" },
  BALLAST_ERR_PKI_CONFLICT: { status: 409, exit: EXIT_FAILURE, message: "a restore bundle's CAs or key pairs differ from the ones the controller already stores for the cluster" },
  // Program start-up and shutdown faults: logged by main.ts, never an API answer.
  BALLAST_ERR_SERVICE_START: { status: 500, exit: EXIT_FAILURE, message: 'a long-running part of the program failed to start or to become ready' },
  BALLAST_ERR_SERVICE_STOP: { status: 500, exit: EXIT_FAILURE, message: 'one or more long-running parts of the program failed to stop' },
  BALLAST_ERR_UNSAFE_PATH: { status: 400, exit: EXIT_FAILURE, message: 'a path is not in canonical form, is outside the places tasks may touch, or resolves outside them through a symlink' },
  BALLAST_ERR_UNSAFE_VALUE: { status: 400, exit: EXIT_FAILURE, message: 'a sysctl, kernel module or other host setting is not in its allow-list' },
  BALLAST_ERR_ARTIFACT_UNTRUSTED: { status: 403, exit: EXIT_FAILURE, message: "an artifact is another build of a catalogue version, or is not in the catalogue and the importer is not an admin" },
  BALLAST_ERR_ARTIFACT_SIGNATURE: { status: 403, exit: EXIT_FAILURE, message: "a bundle's manifest is unsigned, or not signed by a key the controller trusts, or changed after signing" },
  BALLAST_ERR_ARCHIVE_TOO_LARGE: { status: 413, exit: EXIT_FAILURE, message: 'an archive unpacks to more bytes than its manifest declares or the absolute cap allows' },
  BALLAST_ERR_UPSTREAM_NOT_ALLOWED: { status: 403, exit: EXIT_FAILURE, message: 'an artifact URL or redirect is not https or names a host that is not a configured upstream' },
  BALLAST_ERR_UPSTREAM_ADDRESS: { status: 403, exit: EXIT_FAILURE, message: 'an upstream host resolves to a loopback, private, link-local or other non-public address' },
  BALLAST_ERR_REGISTRY: { status: 502, exit: EXIT_FAILURE, message: 'a container registry refused a pull or answered with something that is not a usable image' },
  BALLAST_ERR_IMAGE_MISMATCH: { status: 422, exit: EXIT_FAILURE, message: "a container image archive is not the image its task names (tag, image ID, platform or layout differ)" },
  BALLAST_ERR_CONTAINERD_UNAVAILABLE: { status: 503, exit: EXIT_FAILURE, message: 'containerd is not running or does not answer on its socket' },
  // etcd snapshots, restore drills and etcd care (issue 13).
  BALLAST_ERR_SNAPSHOT_INVALID: { status: 422, exit: EXIT_FAILURE, message: 'an etcd snapshot failed verification (its encryption tag, sha256 or etcd hash does not match): it is never offered for restore' },
  BALLAST_ERR_SNAPSHOT_KEY: { status: 503, exit: EXIT_FAILURE, message: "the controller's snapshot key file is missing, unreadable or not a 32-byte key" },
  BALLAST_ERR_SNAPSHOT_BUSY: { status: 409, exit: EXIT_FAILURE, message: 'another snapshot, drill or defragmentation of this cluster is in progress' },
  BALLAST_ERR_DRILL_FAILED: { status: 422, exit: EXIT_FAILURE, message: 'a restore drill failed: the snapshot could not be restored and read back' },
  BALLAST_ERR_TOOL_MISSING: { status: 409, exit: EXIT_FAILURE, message: 'an etcd or Kubernetes binary the controller needs is not in its configured directory' },
  BALLAST_ERR_S3: { status: 502, exit: EXIT_FAILURE, message: 'the S3-compatible snapshot target refused a request or could not be reached' },
  BALLAST_ERR_SNAPSHOT_EXISTS: { status: 409, exit: EXIT_FAILURE, message: 'a snapshot with this id is already recorded with another sealed file or under another cluster' },
} as const satisfies Record<string, ErrorSpec>;

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

  /** The HTTP status from the table; fastify reads `statusCode`, so even a bare instance answers with it. */
  get statusCode(): number {
    return statusOf(this.code);
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

/** The table's entry for `code`. */
export function errorSpec(code: ErrorCode): ErrorSpec {
  return ERROR_CODES[code];
}

/** The HTTP status of a coded error (see the status rules at the top of this file). */
export function statusOf(code: ErrorCode): number {
  return ERROR_CODES[code].status;
}

/** ballastctl's exit code for a code that came back from the controller; unknown codes (a newer controller) are failures. */
export function exitCodeOf(code: string | undefined): number {
  return isErrorCode(code) ? ERROR_CODES[code].exit : EXIT_FAILURE;
}

/** The message of any thrown value, for logs and error bodies. */
export function messageOf(value: unknown): string {
  if (value instanceof Error) return value.message;
  return String(value);
}

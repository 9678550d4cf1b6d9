/**
 * Errors of the Kubernetes API client, mapped once from what @kubernetes/client-node and node:https
 * throw: an unreachable or slow API server is BALLAST_ERR_KUBE_UNAVAILABLE (worth retrying), an
 * answer that says no is BALLAST_ERR_KUBE_REFUSED with the HTTP status and the Status `reason`
 * (`NotFound`, `Conflict`, `Unauthorized`, …), a server certificate we do not trust is
 * BALLAST_ERR_TLS.
 */
import { ApiException } from '@kubernetes/client-node';
import { BallastError, type ErrorCode, messageOf } from '../../../shared/src/errors.js';

/** A code a {@link KubeApiError} carries. */
export type KubeErrorCode = Extract<ErrorCode, 'BALLAST_ERR_KUBE_UNAVAILABLE' | 'BALLAST_ERR_KUBE_REFUSED' | 'BALLAST_ERR_TLS' | 'BALLAST_ERR_VALIDATION'>;

/** A BallastError with the API server's HTTP status and Status reason when it answered. */
export class KubeApiError extends BallastError {
  readonly status: number | undefined;
  readonly reason: string | undefined;

  constructor(code: KubeErrorCode, message: string, options: { cause?: unknown; path?: string; status?: number; reason?: string } = {}) {
    super(code, message, { ...(options.cause === undefined ? {} : { cause: options.cause }), ...(options.path === undefined ? {} : { path: options.path }) });
    this.name = 'KubeApiError';
    this.status = options.status;
    this.reason = options.reason;
  }
}

/** The fields of a metav1.Status body that matter for an error. */
export interface StatusBody {
  reason?: string;
  message?: string;
}

/** Parses a Status body (client-node hands it over as text); anything else gives `{}`. */
export function statusOf(body: unknown): StatusBody {
  let value = body;
  if (typeof body === 'string') {
    try {
      value = JSON.parse(body);
    } catch {
      // Not JSON (a proxy's HTML page, a plain-text health answer): no Status to read, which is fine.
      return { message: body.slice(0, 200) };
    }
  }
  if (typeof value !== 'object' || value === null) return {};
  const { reason, message } = value as { reason?: unknown; message?: unknown };
  return { ...(typeof reason === 'string' ? { reason } : {}), ...(typeof message === 'string' ? { message } : {}) };
}

/**
 * apimachinery's reason for a status code (StatusReasonForCode), used when client-node's typed
 * APIs drop the Status body (they do for the statuses their OpenAPI lists, such as 401).
 */
const REASON_FOR_CODE: Record<number, string> = {
  400: 'BadRequest',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'NotFound',
  405: 'MethodNotAllowed',
  406: 'NotAcceptable',
  409: 'Conflict',
  410: 'Expired',
  413: 'RequestEntityTooLarge',
  415: 'UnsupportedMediaType',
  422: 'Invalid',
  429: 'TooManyRequests',
  500: 'InternalError',
  503: 'ServiceUnavailable',
  504: 'Timeout',
};

/** Statuses that mean "the server is not able to answer now" rather than "no". */
const UNAVAILABLE_STATUSES = new Set([429, 502, 503, 504]);
/**
 * A 500 whose message is kube-apiserver's storage (etcd) not answering for now — seen through the
 * VIP right after an etcd member died: `rpc error: code = Unavailable desc = keepalive ping failed
 * to receive ACK within timeout` until its client moves to another member. Not a "no": worth retrying.
 */
const STORAGE_UNAVAILABLE = /rpc error: code = (Unavailable|DeadlineExceeded)|etcdserver: (request timed out|leader changed|no leader|too many requests)|context deadline exceeded/;

/** The HTTP status answered, or undefined when the request got no answer. */
export function httpStatusOf(err: unknown): number | undefined {
  return err instanceof ApiException ? Number(err.code) : undefined;
}

/**
 * Maps anything a request threw to a KubeApiError; `what` reads "read DaemonSet kube-flannel/x"
 * so the message is "failed to read DaemonSet kube-flannel/x: …".
 */
export function toKubeError(err: unknown, what: string, timeoutMs: number): KubeApiError {
  if (err instanceof KubeApiError) return err;
  if (err instanceof ApiException) {
    const status = Number(err.code);
    const s = statusOf(err.body);
    const reason = s.reason ?? REASON_FOR_CODE[status] ?? `HTTP ${status}`;
    const storage = status === 500 && STORAGE_UNAVAILABLE.test(s.message ?? '');
    const code = UNAVAILABLE_STATUSES.has(status) || storage ? 'BALLAST_ERR_KUBE_UNAVAILABLE' : 'BALLAST_ERR_KUBE_REFUSED';
    return new KubeApiError(code, `failed to ${what}: ${status} ${reason}${s.message === undefined ? '' : `: ${s.message}`}`, { cause: err, status, reason });
  }
  const e = err as { name?: unknown; code?: unknown; type?: unknown; errno?: unknown };
  if (e?.name === 'AbortError' || e?.name === 'TimeoutError') {
    return new KubeApiError('BALLAST_ERR_KUBE_UNAVAILABLE', `failed to ${what}: no answer within ${timeoutMs} ms`, { cause: err });
  }
  const sysCode = typeof e?.code === 'string' ? e.code : typeof e?.errno === 'string' ? e.errno : '';
  if (/^(ERR_TLS_|ERR_SSL_|CERT_|UNABLE_TO_|DEPTH_ZERO_|SELF_SIGNED_)/.test(sysCode) || /certificate|self.signed/i.test(messageOf(err))) {
    return new KubeApiError('BALLAST_ERR_TLS', `failed to ${what}: the API server's certificate is not trusted: ${messageOf(err)}`, { cause: err });
  }
  return new KubeApiError('BALLAST_ERR_KUBE_UNAVAILABLE', `failed to ${what}: ${messageOf(err)}`, { cause: err });
}

/**
 * `ballastctl cluster kubeconfig`: a fresh cluster-admin kubeconfig for one cluster, typed once.
 *
 * Route (operator token in `Authorization: Bearer`):
 *   POST /v1/clusters/:name/kubeconfig   KubeconfigRequest → KubeconfigResponse — admin only,
 *        audited (`cluster.kubeconfig`: account, cluster, ttl, certificate serial; never the key),
 *        answered with `Cache-Control: no-store`. 404 BALLAST_ERR_NOT_FOUND for a cluster no
 *        `cluster create` ran for, 409 BALLAST_ERR_CLUSTER_PKI_MISSING before that create issued the
 *        PKI, 400 BALLAST_ERR_VALIDATION (with the field path) for a ttl out of bounds or a server
 *        that is not an https URL.
 *
 * POST, not GET: every call issues (and audits) a new credential; nothing is read back.
 */
import { type Static, Type } from '@sinclair/typebox';
import { BallastError } from './errors.js';

/** Shortest certificate lifetime: shorter is unusable once clock skew between hosts is counted. */
export const KUBECONFIG_MIN_TTL_SECONDS = 5 * 60;
/** Longest lifetime: a Kubernetes client certificate cannot be revoked, so it must expire soon. */
export const KUBECONFIG_MAX_TTL_SECONDS = 7 * 86_400;
/** Default lifetime: a working day with margin. */
export const KUBECONFIG_DEFAULT_TTL_SECONDS = 86_400;
/** Bound on `server`: a URL, not a document. */
export const KUBECONFIG_MAX_SERVER_LENGTH = 2048;

/**
 * Text in the first line of every kubeconfig the controller renders: ballastctl replaces an
 * existing `--out` file only if it carries it (STYLE.md §3, managed markers), or with `--force`.
 */
export const KUBECONFIG_MARKER = 'issued by ballast-controller';

export const KubeconfigRequestSchema = Type.Object(
  {
    /** Lifetime of the client certificate, in seconds. */
    ttlSeconds: Type.Integer({ minimum: KUBECONFIG_MIN_TTL_SECONDS, maximum: KUBECONFIG_MAX_TTL_SECONDS, default: KUBECONFIG_DEFAULT_TTL_SECONDS }),
    /**
     * The API server URL written into the kubeconfig, e.g. an external load balancer; https only,
     * no user info, query or fragment. Default `https://<VIP>:<vip.port>` from the cluster spec.
     */
    server: Type.Optional(Type.String({ minLength: 1, maxLength: KUBECONFIG_MAX_SERVER_LENGTH })),
  },
  { additionalProperties: false },
);
export type KubeconfigRequest = Static<typeof KubeconfigRequestSchema>;

const Iso = Type.String({ maxLength: 40 });

export const KubeconfigResponseSchema = Type.Object({
  cluster: Type.String(),
  /** The API server URL in the kubeconfig. */
  server: Type.String(),
  /** The Kubernetes user name: the certificate's CN, `ballast:<operator account>`. */
  user: Type.String(),
  /** The Kubernetes groups: the certificate's O values. */
  groups: Type.Array(Type.String()),
  /** Serial of the client certificate (lowercase hex), as recorded in the audit log. */
  serial: Type.String({ maxLength: 64 }),
  notBefore: Iso,
  notAfter: Iso,
  /** The kubeconfig YAML (client key included): write it 0600, never log it. */
  kubeconfig: Type.String({ maxLength: 64 * 1024 }),
});
export type KubeconfigResponse = Static<typeof KubeconfigResponseSchema>;

/**
 * Checks an API server URL given by the operator (`--server`): https, a host, no user info,
 * query or fragment (client-go would ignore or misuse them). Returns it without a trailing `/`.
 * BALLAST_ERR_VALIDATION with path `/server` otherwise.
 */
export function checkApiServerUrl(text: string): string {
  const refuse = (why: string): never => {
    throw new BallastError('BALLAST_ERR_VALIDATION', `invalid API server URL ${JSON.stringify(text)}: ${why}`, { path: '/server' });
  };
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return refuse('not a URL (want e.g. https://api.example.com:6443)');
  }
  if (url.protocol !== 'https:') refuse(`must use https, not ${url.protocol.replace(/:$/, '')}`);
  if (url.hostname === '') refuse('no host');
  if (url.username !== '' || url.password !== '') refuse('no user name or password allowed');
  if (url.search !== '' || url.hash !== '') refuse('no query or fragment allowed');
  const path = url.pathname === '/' ? '' : url.pathname.replace(/\/$/, '');
  return `${url.protocol}//${url.host}${path}`;
}

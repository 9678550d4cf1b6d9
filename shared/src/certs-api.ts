/**
 * The cluster PKI's contract, typed once: what `GET /v1/certs` answers and what
 * `ballastctl certs -o json` prints. Keys and token secrets never appear here; the list is
 * metadata only (names, subjects, SANs, expiry).
 */
import { type Static, Type } from '@sinclair/typebox';

/**
 * A cluster name: a lowercase DNS label, because it ends up in file and object names. Shared by
 * the API query schema, the controller's issuance inputs and ballastctl's `--cluster` parser.
 */
export const CLUSTER_NAME_PATTERN = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

/** What a stored PKI item is: a CA (cert + key), a leaf cert + key, a bare key pair (sa.key) or a token. */
export const PkiKindSchema = Type.Union([Type.Literal('ca'), Type.Literal('cert'), Type.Literal('keypair'), Type.Literal('token')]);
export type PkiKind = Static<typeof PkiKindSchema>;

/** Query of `GET /v1/certs`; without `cluster`, every cluster's items. */
export const CertsQuerySchema = Type.Object(
  { cluster: Type.Optional(Type.String({ pattern: CLUSTER_NAME_PATTERN.source })) },
  { additionalProperties: false },
);
export type CertsQuery = Static<typeof CertsQuerySchema>;

/** One stored PKI item as the API shows it. */
export const CertInfoSchema = Type.Object({
  cluster: Type.String(),
  /** Unique within a cluster, e.g. `etcd-ca`, `etcd-server:etcd-1`, `bootstrap-token`. */
  name: Type.String(),
  kind: PkiKindSchema,
  /** e.g. `CN=etcd-1` or `O=system:masters, CN=ballast-controller`; for a token its public id. */
  subject: Type.String(),
  /** DNS names and IP addresses, as issued; empty for CAs, key pairs and tokens. */
  sans: Type.Array(Type.String()),
  /** RFC 3339; null for items that do not expire (the service-account key pair). */
  notAfter: Type.Union([Type.String({ maxLength: 40 }), Type.Null()]),
  /** Whole days from now until notAfter, rounded down (negative once expired); null with notAfter. */
  daysLeft: Type.Union([Type.Integer(), Type.Null()]),
});
export type CertInfo = Static<typeof CertInfoSchema>;

/** `GET /v1/certs`: sorted by cluster, then name. */
export const CertListResponseSchema = Type.Object({ items: Type.Array(CertInfoSchema) });
export type CertListResponse = Static<typeof CertListResponseSchema>;

/**
 * Routes:
 *   GET /v1/certs?cluster=NAME → CertListResponse — viewer
 */

/**
 * A certificate the controller itself issued or serves with (`GET /v1/certs/issued`): each host's
 * agent client certificate, the controller's CA and its serving certificate. No key, no PEM.
 */
export const IssuedCertSchema = Type.Object({
  owner: Type.Union([Type.Literal('host'), Type.Literal('controller')]),
  /** The host name, or `controller-ca` / `controller-server`. */
  name: Type.String(),
  kind: Type.Union([Type.Literal('ca'), Type.Literal('cert')]),
  serial: Type.Union([Type.String(), Type.Null()]),
  notAfter: Type.String({ maxLength: 40 }),
  daysLeft: Type.Integer(),
});
export type IssuedCert = Static<typeof IssuedCertSchema>;
export const IssuedCertListResponseSchema = Type.Object({ items: Type.Array(IssuedCertSchema) });
export type IssuedCertListResponse = Static<typeof IssuedCertListResponseSchema>;

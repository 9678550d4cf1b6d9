/**
 * The restore bundle sealed with each etcd snapshot: what a restore needs and users forget. A
 * restore onto new hosts (every old host lost) works from the bundle and the snapshot key alone.
 *
 * - `pki`: every item of the cluster's PKI (store/cluster-pki.ts) with private keys: the etcd,
 *   Kubernetes and front-proxy CAs, the service-account key pair (tokens signed before the disaster
 *   stay valid, so kubelets and pods are not Unauthorized after a restore), leaf certificates and
 *   the bootstrap token.
 * - `spec`: the cluster spec at snapshot time (cluster.yaml with defaults). The kubeadm
 *   configuration is rendered from the spec and the PKI (kube/kubeadm-config.ts) and the versions
 *   pinned in it, so the spec is what is carried; `kubeadmVersion` records the pinned Kubernetes
 *   version it renders for.
 * - `encryptionConfig`: Ballast does not configure API-server encryption at rest yet, so this is
 *   null; the field is in format 1 so a later version can fill it without a format change.
 */
import { Type } from '@sinclair/typebox';
import { BallastError } from '../../../shared/src/errors.js';
import { compiledCheck } from '../../../shared/src/schema-check.js';
import type { ClusterPkiRecord } from '../store/cluster-pki.js';

/** Format of the bundle JSON. */
export const BUNDLE_FORMAT = 1;

const PkiItemSchema = Type.Object({
  name: Type.String({ maxLength: 256 }),
  kind: Type.Union([Type.Literal('ca'), Type.Literal('cert'), Type.Literal('keypair'), Type.Literal('token')]),
  subject: Type.String({ maxLength: 1024 }),
  sans: Type.Array(Type.String({ maxLength: 253 }), { maxItems: 256 }),
  certPem: Type.Union([Type.String({ maxLength: 64 * 1024 }), Type.Null()]),
  keyPem: Type.String({ maxLength: 64 * 1024 }),
  notAfter: Type.Union([Type.Number(), Type.Null()]),
});

export const RestoreBundleSchema = Type.Object({
  format: Type.Literal(BUNDLE_FORMAT),
  cluster: Type.String({ maxLength: 63 }),
  snapshotId: Type.String({ maxLength: 64 }),
  createdAt: Type.Number(),
  /** The etcd database: revision, key count and sha256 as recorded when it was taken. */
  etcd: Type.Object({ revision: Type.String({ maxLength: 20 }), totalKeys: Type.Integer({ minimum: 0 }), sha256: Type.String({ pattern: '^[0-9a-f]{64}$' }), member: Type.String({ maxLength: 253 }) }),
  pki: Type.Array(PkiItemSchema, { maxItems: 10_000 }),
  spec: Type.Unknown(),
  kubernetesVersion: Type.Union([Type.String({ maxLength: 64 }), Type.Null()]),
  encryptionConfig: Type.Union([Type.String({ maxLength: 1024 * 1024 }), Type.Null()]),
});

/** The bundle (the `static` of its schema, spelled out so callers see its fields). */
export interface RestoreBundle {
  format: typeof BUNDLE_FORMAT;
  cluster: string;
  snapshotId: string;
  createdAt: number;
  etcd: { revision: string; totalKeys: number; sha256: string; member: string };
  pki: Omit<ClusterPkiRecord, 'cluster' | 'createdAt'>[];
  spec: unknown;
  kubernetesVersion: string | null;
  encryptionConfig: string | null;
}

/** Builds the bundle of one snapshot from the store's records. */
export function buildBundle(input: {
  cluster: string;
  snapshotId: string;
  createdAt: number;
  etcd: RestoreBundle['etcd'];
  pki: readonly ClusterPkiRecord[];
  spec: unknown;
}): RestoreBundle {
  const versions = (input.spec as { versions?: { kubernetes?: unknown } } | null)?.versions;
  return {
    format: BUNDLE_FORMAT,
    cluster: input.cluster,
    snapshotId: input.snapshotId,
    createdAt: input.createdAt,
    etcd: input.etcd,
    pki: input.pki.map(({ cluster: _c, createdAt: _t, ...item }) => item),
    spec: input.spec,
    kubernetesVersion: typeof versions?.kubernetes === 'string' ? versions.kubernetes : null,
    encryptionConfig: null,
  };
}

/** Parses and checks a bundle read back from a sealed file; BALLAST_ERR_SNAPSHOT_INVALID when it is not one. */
export function parseBundle(json: string, where: string): RestoreBundle {
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch (err) {
    throw new BallastError('BALLAST_ERR_SNAPSHOT_INVALID', `failed to read the bundle of snapshot ${where}: not JSON`, { cause: err });
  }
  const check = compiledCheck(RestoreBundleSchema);
  if (!check.Check(value)) {
    const first = check.Errors(value).First();
    throw new BallastError('BALLAST_ERR_SNAPSHOT_INVALID', `failed to read the bundle of snapshot ${where}: ${first?.path ?? '/'} ${first?.message ?? 'invalid'}`);
  }
  return value as RestoreBundle;
}

/** The PKI item `name` of a bundle, or null. */
export function bundleItem(bundle: RestoreBundle, name: string): RestoreBundle['pki'][number] | null {
  return bundle.pki.find((p) => p.name === name) ?? null;
}

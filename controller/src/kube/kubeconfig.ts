/**
 * A cluster-admin kubeconfig for an operator (`ballastctl cluster kubeconfig`): a client
 * certificate issued on the spot by the cluster's Kubernetes CA, which the controller holds, so an
 * operator never copies /etc/kubernetes/admin.conf off a control-plane host (Ballast gives no
 * remote shell). Nothing here is stored: the key is made, put into the YAML and forgotten.
 */
import { stringify } from 'yaml';
import { BallastError } from '../../../shared/src/errors.js';
import { KUBECONFIG_MARKER, type KubeconfigResponse } from '../../../shared/src/kubeconfig-api.js';
import { certificateInfo } from '../../../shared/src/pki.js';
import { compareVersions } from '../../../shared/src/version-compare.js';
import { issueClientCert, type KeyPair } from '../pki/ca.js';

/**
 * The Kubernetes group of an operator's kubeconfig (the certificate's O). kubeadm ≥ 1.29 binds it
 * to the `cluster-admin` ClusterRole at init (ClusterRoleBinding `kubeadm:cluster-admins`), and
 * its own admin.conf uses it since then for the same reason we do: `system:masters` is not
 * authorised by RBAC at all — the API server lets that group do anything before any authoriser
 * runs, so a leaked `system:masters` certificate stays cluster-admin until it expires or the CA is
 * replaced on every host, and no RoleBinding edit can take its power away. A certificate in
 * `kubeadm:cluster-admins` is cluster-admin only through that binding: deleting or editing the
 * binding revokes every such certificate at once. Certificates cannot be revoked one by one
 * (Kubernetes checks no CRL), hence also the short lifetime (at most 7 days).
 *
 * The controller's own client certificate stays in `system:masters` (cluster-pki-items.ts): it is
 * what would repair that binding.
 */
export const KUBECONFIG_ADMIN_GROUP = 'kubeadm:cluster-admins';

/** The first Kubernetes whose kubeadm creates the `kubeadm:cluster-admins` binding at init. */
export const ADMIN_GROUP_SINCE = '1.29.0';

/** The certificate's CN, i.e. the Kubernetes user name: the operator account, prefixed. */
export function kubeconfigUser(account: string): string {
  return `ballast:${account}`;
}

/** What {@link renderKubeconfig} writes. */
export interface KubeconfigParts {
  cluster: string;
  server: string;
  caCertPem: string;
  user: string;
  certPem: string;
  keyPem: string;
  notAfter: Date;
}

const b64 = (pem: string): string => Buffer.from(pem, 'utf8').toString('base64');

/**
 * A kubeconfig with one cluster, one user and one context, all named so that it merges into an
 * existing ~/.kube/config without clobbering (`KUBECONFIG=a:b kubectl config view --flatten`):
 * cluster and context are the Ballast cluster's name, the user is `<user>@<cluster>`.
 */
export function renderKubeconfig(parts: KubeconfigParts): string {
  const userName = `${parts.user}@${parts.cluster}`;
  const doc = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: parts.cluster, cluster: { server: parts.server, 'certificate-authority-data': b64(parts.caCertPem) } }],
    users: [{ name: userName, user: { 'client-certificate-data': b64(parts.certPem), 'client-key-data': b64(parts.keyPem) } }],
    contexts: [{ name: parts.cluster, context: { cluster: parts.cluster, user: userName } }],
    'current-context': parts.cluster,
    preferences: {},
  };
  const header = [
    `# Kubeconfig for cluster ${parts.cluster}, ${KUBECONFIG_MARKER} to ${parts.user} (group ${KUBECONFIG_ADMIN_GROUP}).`,
    `# A cluster-admin credential until ${parts.notAfter.toISOString()}: keep it 0600, never commit it.`,
  ];
  return `${header.join('\n')}\n${stringify(doc, { lineWidth: 0 })}`;
}

/** What {@link issueKubeconfig} needs. */
export interface IssueKubeconfigOptions {
  cluster: string;
  /** The cluster's Kubernetes CA (cert and key): it signs the client certificate. */
  kubernetesCa: KeyPair;
  /** The cluster spec's Kubernetes version: the admin group is bound only from 1.29. */
  kubernetesVersion: string;
  /** The operator account that asked. */
  account: string;
  ttlMs: number;
  server: string;
  now: number;
}

/** Shortest lifetime left once the CA's own expiry caps it; less is refused, not handed out. */
const MIN_USEFUL_MS = 5 * 60_000;

/**
 * Issues the client certificate (fresh ECDSA P-256 key, clientAuth, CN `ballast:<account>`,
 * O `kubeadm:cluster-admins`) and renders the kubeconfig. The lifetime is capped at the CA's
 * expiry: a certificate cannot outlive the CA that vouches for it.
 */
export async function issueKubeconfig(opts: IssueKubeconfigOptions): Promise<KubeconfigResponse> {
  if (compareVersions(opts.kubernetesVersion, ADMIN_GROUP_SINCE) < 0) {
    throw new BallastError(
      'BALLAST_ERR_UNSUPPORTED',
      `failed to issue kubeconfig for cluster ${opts.cluster}: it runs Kubernetes ${opts.kubernetesVersion}, and kubeadm binds ${KUBECONFIG_ADMIN_GROUP} to cluster-admin only from ${ADMIN_GROUP_SINCE}; the certificate would be refused by RBAC`,
    );
  }
  const caNotAfter = certificateInfo(opts.kubernetesCa.certPem).notAfter.getTime();
  const validityMs = Math.min(opts.ttlMs, caNotAfter - opts.now);
  if (validityMs < MIN_USEFUL_MS) {
    throw new BallastError(
      'BALLAST_ERR_CLUSTER_PKI_MISSING',
      `failed to issue kubeconfig for cluster ${opts.cluster}: its Kubernetes CA expires ${new Date(caNotAfter).toISOString()}; rotate the CA first`,
    );
  }
  const user = kubeconfigUser(opts.account);
  const issued = await issueClientCert({
    ca: opts.kubernetesCa,
    commonName: user,
    organization: KUBECONFIG_ADMIN_GROUP,
    validityMs: Math.floor(validityMs),
  });
  const info = certificateInfo(issued.certPem);
  return {
    cluster: opts.cluster,
    server: opts.server,
    user,
    groups: [KUBECONFIG_ADMIN_GROUP],
    serial: issued.serial,
    notBefore: info.notBefore.toISOString(),
    notAfter: info.notAfter.toISOString(),
    kubeconfig: renderKubeconfig({
      cluster: opts.cluster,
      server: opts.server,
      caCertPem: opts.kubernetesCa.certPem,
      user,
      certPem: issued.certPem,
      keyPem: issued.keyPem,
      notAfter: info.notAfter,
    }),
  };
}

/**
 * What each host receives from the cluster PKI: the kubeadm pki directory of a control-plane host
 * and the etcd role's `tls` vars of a member. Pure functions of an ensured bundle; the operation
 * that calls them sends the result over the agent's mTLS session, where keys are written 0600.
 */
import { BallastError } from '../../../shared/src/errors.js';
import type { ClusterPkiBundle } from './cluster-pki.js';

/** One file to write on a host. */
export interface PkiFile {
  /** Absolute path on the host. */
  path: string;
  content: string;
  /** 0o600 for private keys (and sa.pub, as kubeadm writes it), 0o644 for certificates. */
  mode: number;
}

/** kubeadm's certificate directory. */
export const KUBEADM_PKI_DIR = '/etc/kubernetes/pki';

const CERT_MODE = 0o644;
const KEY_MODE = 0o600;

/**
 * The files a control-plane host needs before `kubeadm init` / `kubeadm join --control-plane`, in
 * kubeadm's "external etcd" layout: the Kubernetes CA and front-proxy CA *with their keys*, the
 * service-account key pair, the etcd CA certificate (no key) and the apiserver's etcd client pair.
 *
 * Decision: the CA keys go to control-plane hosts. kubeadm signs the apiserver serving and
 * kubelet-client certificates, the front-proxy client and the kubeconfigs on the host from
 * ca.key / front-proxy-ca.key, and the controller-manager signs kubelet CSRs (and rotations) with
 * ca.key for the cluster's lifetime. kubeadm's keyless "external CA" mode would instead need
 * every one of those certificates pre-issued here and renewed by us, and breaks kubelet
 * certificate rotation. The etcd CA key stays on the controller: etcd is external to kubeadm,
 * and the controller issues every etcd certificate itself.
 */
export function kubeadmPkiFiles(bundle: ClusterPkiBundle): PkiFile[] {
  const file = (name: string, content: string, mode: number): PkiFile => ({ path: `${KUBEADM_PKI_DIR}/${name}`, content, mode });
  return [
    file('ca.crt', bundle.kubernetesCa.certPem, CERT_MODE),
    file('ca.key', bundle.kubernetesCa.keyPem, KEY_MODE),
    file('front-proxy-ca.crt', bundle.frontProxyCa.certPem, CERT_MODE),
    file('front-proxy-ca.key', bundle.frontProxyCa.keyPem, KEY_MODE),
    file('sa.key', bundle.serviceAccount.keyPem, KEY_MODE),
    file('sa.pub', bundle.serviceAccount.publicKeyPem, KEY_MODE),
    file('etcd/ca.crt', bundle.etcdCa.certPem, CERT_MODE),
    file('apiserver-etcd-client.crt', bundle.apiserverEtcdClient.certPem, CERT_MODE),
    file('apiserver-etcd-client.key', bundle.apiserverEtcdClient.keyPem, KEY_MODE),
  ];
}

/** The etcd role's `tls` vars (roles/etcd.ts). */
export interface EtcdTlsVars {
  caCert: string;
  serverCert: string;
  serverKey: string;
  peerCert: string;
  peerKey: string;
  /** The member host's own etcd client (`etcd-client:<member>`), for the health probe. */
  clientCert: string;
  clientKey: string;
}

/** The etcd role's `tls` vars for `member`. Throws BALLAST_ERR_NOT_FOUND for a name not in the bundle. */
export function etcdMemberTls(bundle: ClusterPkiBundle, member: string): EtcdTlsVars {
  const pairs = bundle.etcdMembers.get(member);
  const client = bundle.etcdClients.get(member);
  if (pairs === undefined || client === undefined) {
    throw new BallastError(
      'BALLAST_ERR_NOT_FOUND',
      `failed to build etcd TLS vars: "${member}" is not an etcd member of cluster ${bundle.cluster}`,
    );
  }
  return {
    caCert: bundle.etcdCa.certPem,
    serverCert: pairs.server.certPem,
    serverKey: pairs.server.keyPem,
    peerCert: pairs.peer.certPem,
    peerKey: pairs.peer.keyPem,
    clientCert: client.certPem,
    clientKey: client.keyPem,
  };
}

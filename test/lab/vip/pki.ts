/**
 * TLS material for the VIP lab's 3-member etcd: one CA; one server/peer pair valid for every member
 * address, 127.0.0.1 and the VIP (clients reach etcd through the VIP, as they reach kube-apiserver
 * in production, so the VIP must be in the server certificate); client pairs for the health check,
 * the election and the probe. One pair for all members keeps a single vars file, so one
 * `ballastctl apply etcd` runs on the three hosts in parallel — the bootstrap operation issues one
 * per member; that difference does not matter to what is measured here.
 */
import 'reflect-metadata';
import { createCa, issueClientCert, issueLeafCert, type KeyPair } from '../../../controller/src/pki/ca.js';

/** The etcd role's `tls` vars plus the extra client pairs. */
export interface ClusterTls {
  ca: KeyPair;
  etcdVars: { caCert: string; serverCert: string; serverKey: string; peerCert: string; peerKey: string; clientCert: string; clientKey: string };
  /** The VIP election's etcd client (vip role `tls`). */
  election: KeyPair;
  /** The client probe's pair (the probe runs on this machine in the client namespace). */
  probe: KeyPair;
}

export async function clusterTls(options: { addresses: string[]; names: string[]; vip: string }): Promise<ClusterTls> {
  const ca = await createCa({ commonName: 'ballast-lab-vip-etcd-ca', validityDays: 7 });
  const ipAddresses = [...new Set([...options.addresses, '127.0.0.1', options.vip])];
  // serverAuth + clientAuth: etcd dials its own client listener and its peers with the same pair.
  const leaf = () =>
    issueLeafCert({ ca, commonName: 'ballast-lab-etcd', usages: ['serverAuth', 'clientAuth'], dnsNames: [...options.names, 'localhost'], ipAddresses, validityDays: 7 });
  const [server, peer] = await Promise.all([leaf(), leaf()]);
  const [health, election, probe] = await Promise.all(
    ['ballast-lab-healthcheck', 'ballast-lab-vip-election', 'ballast-lab-vip-probe'].map((commonName) => issueClientCert({ ca, commonName, validityDays: 7 })),
  );
  return {
    ca,
    etcdVars: {
      caCert: ca.certPem,
      serverCert: server.certPem,
      serverKey: server.keyPem,
      peerCert: peer.certPem,
      peerKey: peer.keyPem,
      clientCert: health!.certPem,
      clientKey: health!.keyPem,
    },
    election: { certPem: election!.certPem, keyPem: election!.keyPem },
    probe: { certPem: probe!.certPem, keyPem: probe!.keyPem },
  };
}

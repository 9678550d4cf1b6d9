/**
 * Helpers for the role lab tests (roles.test.ts, kube-standins.test.ts): the etcd TLS material a
 * single member needs, the vars files `ballastctl apply --vars` reads, and reading run documents.
 */
import 'reflect-metadata';
import { writeFileSync } from 'node:fs';
import { stringify } from 'yaml';
import { createCa, issueClientCert, issueLeafCert, type KeyPair } from '../../controller/src/pki/ca.js';
import type { RunDocument, RunHost } from '../../shared/src/runs-api.js';

/** The `tls` vars of the etcd role, and the CA and client pair the test checks /health with. */
export interface EtcdTls {
  ca: KeyPair;
  client: KeyPair;
  vars: { caCert: string; serverCert: string; serverKey: string; peerCert: string; peerKey: string; clientCert: string; clientKey: string };
}

/** A fresh etcd CA with server, peer and health-check client pairs for one member at `address`. */
export async function etcdTls(member: { name: string; address: string }): Promise<EtcdTls> {
  const ca = await createCa({ commonName: 'ballast-lab-etcd-ca', validityDays: 7 });
  const ips = [...new Set([member.address, '127.0.0.1'])];
  // Both usages, as kubeadm issues them: etcd dials its own client listener (grpc-gateway) and its
  // peers with the same pair, so a pair without clientAuth is refused under client-cert-auth.
  const usages = ['serverAuth', 'clientAuth'] as const;
  const leaf = async (dnsNames: string[]): Promise<KeyPair> => {
    const { certPem, keyPem } = await issueLeafCert({ ca, commonName: member.name, usages, dnsNames, ipAddresses: ips, validityDays: 7 });
    return { certPem, keyPem };
  };
  const server = await leaf([member.name, 'localhost']);
  const peer = await leaf([member.name]);
  const client = await issueClientCert({ ca, commonName: 'ballast-lab-healthcheck', validityDays: 7 });
  return {
    ca,
    client,
    vars: {
      caCert: ca.certPem,
      serverCert: server.certPem,
      serverKey: server.keyPem,
      peerCert: peer.certPem,
      peerKey: peer.keyPem,
      clientCert: client.certPem,
      clientKey: client.keyPem,
    },
  };
}

/** Writes role vars as the YAML file `ballastctl apply --vars` reads (0600: it holds keys). */
export function writeVarsFile(path: string, vars: Record<string, unknown>): string {
  writeFileSync(path, stringify(vars), { mode: 0o600 });
  return path;
}

/** One line per failed result or host error, for assertion messages. */
export function explain(doc: RunDocument): string {
  const lines = doc.hosts.flatMap((h) => [
    ...(h.error === null ? [] : [`${h.name}: ${h.error.code}: ${h.error.message}`]),
    ...h.results.filter((r) => r.status === 'failed').map((r) => `${h.name} [${r.name}]: ${r.error?.code ?? ''}: ${r.error?.message ?? r.message}`),
  ]);
  return `run ${doc.id} ${doc.status}${lines.length > 0 ? `\n  ${lines.join('\n  ')}` : ''}`;
}

/** The host `name` of a run; throws when the run has none. */
export function hostOf(doc: RunDocument, name: string): RunHost {
  const h = doc.hosts.find((x) => x.name === name);
  if (h === undefined) throw new Error(`run ${doc.id} has no host ${name}`);
  return h;
}

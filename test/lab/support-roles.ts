/**
 * Helpers for the role lab tests (roles.test.ts): the etcd TLS material a single member needs, and
 * the vars files `ballastctl apply --vars` reads.
 */
import 'reflect-metadata';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { stringify } from 'yaml';
import { createCa, issueClientCert, type KeyPair } from '../../controller/src/pki/ca.js';
import { ECDSA_SHA256, generateEcKey, x509 } from '../../shared/src/pki.js';

/** The `tls` vars of the etcd role, and the CA and client pair the test checks /health with. */
export interface EtcdTls {
  ca: KeyPair;
  client: KeyPair;
  vars: { caCert: string; serverCert: string; serverKey: string; peerCert: string; peerKey: string; clientCert: string; clientKey: string };
}

/**
 * A leaf with both serverAuth and clientAuth, as kubeadm issues etcd's server and peer certificates:
 * etcd dials its own client listener (grpc-gateway) and its peers with the same pair, so a pair
 * without clientAuth is refused under client-cert-auth. controller/src/pki/ca.ts issues only
 * single-usage leaves (its issueLeaf is private), hence this helper.
 */
async function issueDualUse(ca: KeyPair, commonName: string, ips: string[], dnsNames: string[]): Promise<KeyPair> {
  const caCert = new x509.X509Certificate(ca.certPem);
  const caKey = await globalThis.crypto.subtle.importKey(
    'pkcs8',
    Buffer.from(ca.keyPem.replace(/-----[A-Z ]+-----/g, '').replace(/\s+/g, ''), 'base64'),
    { name: 'ECDSA', namedCurve: 'P-256' },
    false,
    ['sign'],
  );
  const { keys, keyPem } = await generateEcKey();
  const serial = randomBytes(16);
  serial[0] = ((serial[0] ?? 0) & 0x3f) | 0x40; // positive, no leading zero byte
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serial.toString('hex'),
    subject: [{ CN: [commonName] }],
    issuer: caCert.subjectName,
    notBefore: new Date(Date.now() - 5 * 60_000),
    notAfter: new Date(Date.now() + 7 * 86_400_000),
    publicKey: keys.publicKey,
    signingKey: caKey,
    signingAlgorithm: ECDSA_SHA256,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth]),
      new x509.SubjectAlternativeNameExtension([
        ...dnsNames.map((value) => ({ type: 'dns' as const, value })),
        ...ips.map((value) => ({ type: 'ip' as const, value })),
      ]),
    ],
  });
  return { certPem: `${cert.toString('pem').trimEnd()}\n`, keyPem };
}

/** A fresh etcd CA with server, peer and health-check client pairs for one member at `address`. */
export async function etcdTls(member: { name: string; address: string }): Promise<EtcdTls> {
  const ca = await createCa({ commonName: 'ballast-lab-etcd-ca', validityDays: 7 });
  const ips = [...new Set([member.address, '127.0.0.1'])];
  const server = await issueDualUse(ca, member.name, ips, [member.name, 'localhost']);
  const peer = await issueDualUse(ca, member.name, ips, [member.name]);
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

import { createPrivateKey, X509Certificate } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { connect, createServer, type TLSSocket } from 'node:tls';
import { beforeAll, describe, expect, it } from 'vitest';
import { certificateInfo, ECDSA_SHA256, generateKeyAndCsr, x509 } from '../../../shared/src/pki.js';
import { createCa, issueClientCert, issueLeafCert, issueServerCert, type KeyPair, signCsr } from './ca.js';

const CLIENT_AUTH = '1.3.6.1.5.5.7.3.2';
const SERVER_AUTH = '1.3.6.1.5.5.7.3.1';

let ca: KeyPair;
beforeAll(async () => {
  ca = await createCa({ commonName: 'test-ca' });
});

/** Asserts `pem` was issued and signed by the test CA. */
function expectSignedByCa(pem: string): X509Certificate {
  const cert = new X509Certificate(pem);
  const caCert = new X509Certificate(ca.certPem);
  expect(cert.checkIssued(caCert)).toBe(true);
  expect(cert.verify(caCert.publicKey)).toBe(true);
  return cert;
}

/** Runs signCsr and returns the BallastError code it rejects with, checking the reason given. */
async function rejectionCode(csrPem: string, why: RegExp, commonName = 'host-1'): Promise<string> {
  try {
    await signCsr({ ca, csrPem, commonName });
  } catch (err) {
    expect((err as Error).message).toMatch(/^failed to sign CSR: /);
    expect((err as Error).message).toMatch(why);
    return (err as { code: string }).code;
  }
  throw new Error('signCsr accepted the CSR');
}

/** A CSR for CN=host-1 with a key of the given WebCrypto algorithm. */
async function csrWithKey(algorithm: RsaHashedKeyGenParams | EcKeyGenParams, signing: object): Promise<string> {
  const keys = await globalThis.crypto.subtle.generateKey(algorithm, false, ['sign', 'verify']);
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    name: [{ CN: ['host-1'] }],
    keys,
    signingAlgorithm: signing,
  });
  return csr.toString('pem');
}

type RsaHashedKeyGenParams = { name: string; modulusLength: number; publicExponent: Uint8Array; hash: string };
type EcKeyGenParams = { name: string; namedCurve: string };
const RSA_SIGNING = { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' };
const rsa = (modulusLength: number): RsaHashedKeyGenParams => ({
  name: 'RSASSA-PKCS1-v1_5',
  modulusLength,
  publicExponent: new Uint8Array([1, 0, 1]),
  hash: 'SHA-256',
});

describe('createCa', () => {
  it('makes a self-signed P-256 CA with critical CA constraints, CA key usages and a SKI', () => {
    const cert = new X509Certificate(ca.certPem);
    expect(cert.ca).toBe(true);
    expect(cert.checkIssued(cert)).toBe(true);
    expect(cert.verify(cert.publicKey)).toBe(true);
    expect(cert.checkPrivateKey(createPrivateKey(ca.keyPem))).toBe(true);
    expect(cert.publicKey.asymmetricKeyDetails?.namedCurve).toBe('prime256v1');

    const parsed = new x509.X509Certificate(ca.certPem);
    const bc = parsed.getExtension(x509.BasicConstraintsExtension);
    expect(bc?.ca).toBe(true);
    expect(bc?.critical).toBe(true);
    const ku = parsed.getExtension(x509.KeyUsagesExtension);
    expect(ku?.usages).toBe(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign);
    expect(parsed.getExtension(x509.SubjectKeyIdentifierExtension)?.keyId).toMatch(/^[0-9a-f]+$/);
    const days = (certificateInfo(ca.certPem).notAfter.getTime() - Date.now()) / 86_400_000;
    expect(Math.round(days)).toBe(3650);
  });
});

describe('issueServerCert', () => {
  it('issues a serverAuth certificate with DNS and IP SANs and an AKI pointing at the CA', async () => {
    const server = await issueServerCert({
      ca,
      commonName: 'ctl',
      dnsNames: ['ctl.example'],
      ipAddresses: ['10.0.0.1', '::1'],
    });
    const cert = expectSignedByCa(server.certPem);
    expect(cert.ca).toBe(false);
    expect(cert.keyUsage).toEqual([SERVER_AUTH]);
    expect(cert.checkHost('ctl.example')).toBe('ctl.example');
    expect(cert.checkIP('10.0.0.1')).toBe('10.0.0.1');
    expect(cert.checkIP('::1')).toBe('::1');
    expect(cert.checkPrivateKey(createPrivateKey(server.keyPem))).toBe(true);

    const caSki = new x509.X509Certificate(ca.certPem).getExtension(x509.SubjectKeyIdentifierExtension)?.keyId;
    const aki = new x509.X509Certificate(server.certPem).getExtension(x509.AuthorityKeyIdentifierExtension);
    expect(aki?.keyId).toBe(caSki);
    expect(certificateInfo(server.certPem).serial).toMatch(/^[0-9a-f]{32}$/);
  });

  it('rejects a malformed IP address', async () => {
    await expect(
      issueServerCert({ ca, commonName: 'ctl', dnsNames: [], ipAddresses: ['10.0.0.999'] }),
    ).rejects.toMatchObject({ code: 'BALLAST_ERR_CONFIG' });
  });
});

describe('signCsr', () => {
  it('signs a CSR into a clientAuth-only leaf for the CSR key, backdated 5 minutes', async () => {
    const { keyPem, csrPem } = await generateKeyAndCsr('host-1');
    const before = Date.now();
    const signed = await signCsr({ ca, csrPem, commonName: 'host-1' });
    const cert = expectSignedByCa(signed.certPem);
    expect(cert.ca).toBe(false);
    expect(cert.keyUsage).toEqual([CLIENT_AUTH]);
    expect(cert.checkPrivateKey(createPrivateKey(keyPem))).toBe(true);

    const info = certificateInfo(signed.certPem);
    expect(info.commonName).toBe('host-1');
    expect(signed.serial).toBe(info.serial);
    expect(signed.serial).toMatch(/^[0-9a-f]{32}$/);
    expect(signed.notAfter).toEqual(info.notAfter);
    // DER times have 1 s resolution, hence the slack.
    expect(Math.abs(info.notBefore.getTime() - (before - 5 * 60_000))).toBeLessThan(5_000);
    expect(Math.round((info.notAfter.getTime() - before) / 86_400_000)).toBe(365);

    const ku = new x509.X509Certificate(signed.certPem).getExtension(x509.KeyUsagesExtension);
    expect(ku?.usages).toBe(x509.KeyUsageFlags.digitalSignature);
  });

  it('gives every certificate a different serial', async () => {
    const { csrPem } = await generateKeyAndCsr('host-1');
    const a = await signCsr({ ca, csrPem, commonName: 'host-1' });
    const b = await signCsr({ ca, csrPem, commonName: 'host-1' });
    expect(a.serial).not.toBe(b.serial);
  });

  it('rejects a CSR whose CN is not the authorised name', async () => {
    const { csrPem } = await generateKeyAndCsr('host-2');
    expect(await rejectionCode(csrPem, /subject CN \["host-2"\] is not "host-1"/, 'host-1')).toBe('BALLAST_ERR_CSR_INVALID');
  });

  it('rejects a CSR whose signature was tampered with', async () => {
    const { csrPem } = await generateKeyAndCsr('host-1');
    const der = Buffer.from(x509.PemConverter.decodeFirst(csrPem));
    // The signature BIT STRING is the last field, so the last byte is inside the ECDSA signature.
    der[der.length - 1] = (der[der.length - 1] ?? 0) ^ 0x01;
    const tampered = x509.PemConverter.encode(der, 'CERTIFICATE REQUEST');
    expect(await rejectionCode(tampered, /signature/)).toBe('BALLAST_ERR_CSR_INVALID');
  });

  it('rejects garbage, an empty string and a certificate passed as a CSR', async () => {
    expect(await rejectionCode('garbage', /not a PEM PKCS#10/)).toBe('BALLAST_ERR_CSR_INVALID');
    expect(await rejectionCode('', /not a PEM PKCS#10/)).toBe('BALLAST_ERR_CSR_INVALID');
    expect(await rejectionCode('-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n', /not a PEM PKCS#10/)).toBe(
      'BALLAST_ERR_CSR_INVALID',
    );
    expect(await rejectionCode(ca.certPem, /not a PEM PKCS#10/)).toBe('BALLAST_ERR_CSR_INVALID');
  });

  it('rejects keys other than P-256 and RSA >= 2048, and accepts RSA 2048', async () => {
    const p384 = await csrWithKey({ name: 'ECDSA', namedCurve: 'P-384' }, { name: 'ECDSA', hash: 'SHA-384' });
    expect(await rejectionCode(p384, /curve secp384r1/)).toBe('BALLAST_ERR_CSR_INVALID');
    const rsa1024 = await csrWithKey(rsa(1024), RSA_SIGNING);
    expect(await rejectionCode(rsa1024, /RSA key of 1024 bits/)).toBe('BALLAST_ERR_CSR_INVALID');
    const rsa2048 = await csrWithKey(rsa(2048), RSA_SIGNING);
    expectSignedByCa((await signCsr({ ca, csrPem: rsa2048, commonName: 'host-1' })).certPem);
  });

  it('accepts a CSR built directly with the shared signing algorithm', async () => {
    const csrPem = await csrWithKey({ name: 'ECDSA', namedCurve: 'P-256' }, ECDSA_SHA256);
    expectSignedByCa((await signCsr({ ca, csrPem, commonName: 'host-1' })).certPem);
  });

  it('refuses to sign with a key that is not the CA key', async () => {
    const other = await createCa({ commonName: 'other' });
    const { csrPem } = await generateKeyAndCsr('host-1');
    await expect(
      signCsr({ ca: { certPem: ca.certPem, keyPem: other.keyPem }, csrPem, commonName: 'host-1' }),
    ).rejects.toMatchObject({ code: 'BALLAST_ERR_CONFIG' });
  });
});

describe('issueClientCert', () => {
  it('issues a clientAuth certificate with a fresh key', async () => {
    const client = await issueClientCert({ ca, commonName: 'fuzz-host', validityDays: 1 });
    const cert = expectSignedByCa(client.certPem);
    expect(cert.keyUsage).toEqual([CLIENT_AUTH]);
    expect(cert.checkPrivateKey(createPrivateKey(client.keyPem))).toBe(true);
    expect(certificateInfo(client.certPem)).toMatchObject({ commonName: 'fuzz-host', serial: client.serial });
  });
});

describe('issueLeafCert', () => {
  it('issues a dual-usage leaf (etcd server/peer) with DNS and IP SANs and a fresh key', async () => {
    const leaf = await issueLeafCert({
      ca,
      commonName: 'etcd-1',
      usages: ['serverAuth', 'clientAuth'],
      dnsNames: ['etcd-1', 'localhost'],
      ipAddresses: ['10.0.0.11', '127.0.0.1', '::1'],
    });
    const cert = expectSignedByCa(leaf.certPem);
    expect(cert.ca).toBe(false);
    expect([...(cert.keyUsage ?? [])].sort()).toEqual([SERVER_AUTH, CLIENT_AUTH].sort());
    expect(cert.subject).toBe('CN=etcd-1');
    expect(cert.checkHost('localhost')).toBe('localhost');
    expect(cert.checkIP('10.0.0.11')).toBe('10.0.0.11');
    expect(cert.checkIP('::1')).toBe('::1');
    expect(cert.checkPrivateKey(createPrivateKey(leaf.keyPem))).toBe(true);
    expect(leaf.serial).toBe(certificateInfo(leaf.certPem).serial);
    expect(Math.round((leaf.notAfter.getTime() - Date.now()) / 86_400_000)).toBe(365);
  });

  it('puts an Organization before the CN and omits the SAN extension when there are no SANs', async () => {
    const admin = await issueLeafCert({ ca, commonName: 'ballast-controller', organization: 'system:masters', usages: ['clientAuth'] });
    const cert = expectSignedByCa(admin.certPem);
    expect(cert.subject).toBe('O=system:masters\nCN=ballast-controller');
    expect(cert.keyUsage).toEqual([CLIENT_AUTH]);
    expect(cert.subjectAltName).toBeUndefined();
  });

  it('rejects a malformed DNS name or IP address, and an empty usage list', async () => {
    await expect(issueLeafCert({ ca, commonName: 'x', usages: ['serverAuth'], dnsNames: ['bad name'] })).rejects.toMatchObject({
      code: 'BALLAST_ERR_CONFIG',
      message: expect.stringMatching(/"bad name" is not a DNS name/),
    });
    await expect(issueLeafCert({ ca, commonName: 'x', usages: ['serverAuth'], ipAddresses: ['10.0.0'] })).rejects.toMatchObject({
      code: 'BALLAST_ERR_CONFIG',
    });
    await expect(issueLeafCert({ ca, commonName: 'x', usages: [] })).rejects.toMatchObject({ code: 'BALLAST_ERR_INTERNAL' });
  });
});

describe('mutual TLS', () => {
  it('a CSR-signed client and the server certificate authenticate each other', async () => {
    const server = await issueServerCert({ ca, commonName: 'ctl', dnsNames: [], ipAddresses: ['127.0.0.1'] });
    const { keyPem, csrPem } = await generateKeyAndCsr('host-7');
    const { certPem } = await signCsr({ ca, csrPem, commonName: 'host-7' });

    const tls = createServer({
      cert: server.certPem,
      key: server.keyPem,
      ca: ca.certPem,
      requestCert: true,
      rejectUnauthorized: true,
    });
    const serverSide = new Promise<{ authorized: boolean; cn: unknown }>((resolve) => {
      tls.once('secureConnection', (socket: TLSSocket) => {
        resolve({ authorized: socket.authorized, cn: socket.getPeerCertificate().subject?.CN });
        socket.end();
      });
    });
    await new Promise<void>((resolve) => tls.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = tls.address() as AddressInfo;
      const clientSide = await new Promise<{ authorized: boolean; cn: unknown }>((resolve, reject) => {
        const socket = connect({ host: '127.0.0.1', port, ca: ca.certPem, cert: certPem, key: keyPem }, () => {
          resolve({ authorized: socket.authorized, cn: socket.getPeerCertificate().subject?.CN });
          socket.end();
        });
        socket.once('error', reject);
      });
      expect(clientSide).toEqual({ authorized: true, cn: 'ctl' });
      expect(await serverSide).toEqual({ authorized: true, cn: 'host-7' });
    } finally {
      await new Promise((resolve) => tls.close(resolve));
    }
  });

  it('the server refuses a client certificate from another CA', async () => {
    const server = await issueServerCert({ ca, commonName: 'ctl', dnsNames: [], ipAddresses: ['127.0.0.1'] });
    const rogue = await createCa({ commonName: 'rogue' });
    const client = await issueClientCert({ ca: rogue, commonName: 'host-1' });
    const tls = createServer({ cert: server.certPem, key: server.keyPem, ca: ca.certPem, requestCert: true });
    tls.on('secureConnection', (socket: TLSSocket) => socket.end());
    tls.on('tlsClientError', () => {}); // expected: the handshake fails on the server side
    await new Promise<void>((resolve) => tls.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = tls.address() as AddressInfo;
      const outcome = await new Promise<string>((resolve) => {
        const socket = connect({ host: '127.0.0.1', port, ca: ca.certPem, cert: client.certPem, key: client.keyPem });
        // TLS 1.3 reports the client-certificate rejection after the client's handshake completes.
        socket.once('error', () => resolve('rejected'));
        socket.once('data', () => resolve('accepted'));
        socket.once('end', () => resolve('rejected'));
      });
      expect(outcome).toBe('rejected');
    } finally {
      await new Promise((resolve) => tls.close(resolve));
    }
  });
});

import { execFileSync } from 'node:child_process';
import { createHash, createPrivateKey, createPublicKey, X509Certificate } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { isBallastError } from './errors.js';
import {
  caPublicKeyHash,
  certificateInfo,
  ECDSA_SHA256,
  generateEcKey,
  generateKeyAndCsr,
  normalizeSerial,
  x509,
} from './pki.js';

/** A self-signed certificate made here, so these tests do not depend on the controller's CA code. */
async function selfSigned(opts: { cn: string; serial?: string }): Promise<{ certPem: string; keyPem: string }> {
  const { keys, keyPem } = await generateEcKey();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    name: [{ CN: [opts.cn] }],
    keys,
    signingAlgorithm: ECDSA_SHA256,
    ...(opts.serial === undefined ? {} : { serialNumber: opts.serial }),
    notBefore: new Date('2024-01-01T00:00:00Z'),
    notAfter: new Date('2034-01-01T00:00:00Z'),
  });
  return { certPem: cert.toString('pem'), keyPem };
}

function hasOpenssl(): boolean {
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

describe('caPublicKeyHash', () => {
  it('is sha256 of the DER SubjectPublicKeyInfo, computed from the private key independently', async () => {
    const { certPem, keyPem } = await selfSigned({ cn: 'ca' });
    // Derive the SPKI from the private key, not the certificate, so a wrong field in the cert path shows.
    const spki = createPublicKey(createPrivateKey(keyPem)).export({ type: 'spki', format: 'der' });
    const want = `sha256:${createHash('sha256').update(spki).digest('hex')}`;
    expect(caPublicKeyHash(certPem)).toBe(want);
    expect(caPublicKeyHash(certPem)).toMatch(/^sha256:[0-9a-f]{64}$/);
  });

  it('is stable for one key and differs between keys', async () => {
    const a = await selfSigned({ cn: 'a' });
    const b = await selfSigned({ cn: 'a' });
    expect(caPublicKeyHash(a.certPem)).toBe(caPublicKeyHash(a.certPem));
    expect(caPublicKeyHash(a.certPem)).not.toBe(caPublicKeyHash(b.certPem));
  });

  it.skipIf(!hasOpenssl())('matches the openssl pipeline kubeadm documents', async () => {
    const { certPem } = await selfSigned({ cn: 'ca' });
    const pubkey = execFileSync('openssl', ['x509', '-pubkey', '-noout'], { input: certPem });
    const der = execFileSync('openssl', ['pkey', '-pubin', '-outform', 'der'], { input: pubkey });
    expect(caPublicKeyHash(certPem)).toBe(`sha256:${createHash('sha256').update(der).digest('hex')}`);
  });

  it('rejects garbage with a coded error', () => {
    expect(() => caPublicKeyHash('not a certificate')).toThrow(
      expect.objectContaining({ code: 'BALLAST_ERR_VALIDATION' }),
    );
  });
});

describe('generateKeyAndCsr', () => {
  it('makes a P-256 PKCS#8 key and a CSR for the name, signed by that key', async () => {
    const { keyPem, csrPem } = await generateKeyAndCsr('host-1');
    expect(keyPem).toMatch(/^-----BEGIN PRIVATE KEY-----\n/);
    expect(csrPem).toMatch(/^-----BEGIN CERTIFICATE REQUEST-----\n[\s\S]*-----END CERTIFICATE REQUEST-----\n$/);
    const key = createPrivateKey(keyPem);
    expect(key.asymmetricKeyType).toBe('ec');
    expect(key.asymmetricKeyDetails?.namedCurve).toBe('prime256v1');

    const csr = new x509.Pkcs10CertificateRequest(csrPem);
    expect(await csr.verify()).toBe(true);
    expect(csr.subjectName.getField('CN')).toEqual(['host-1']);
    const csrSpki = Buffer.from(csr.publicKey.rawData);
    expect(csrSpki.equals(createPublicKey(key).export({ type: 'spki', format: 'der' }))).toBe(true);
  });

  it('keeps special characters inside the one CN instead of parsing them as a DN', async () => {
    const { csrPem } = await generateKeyAndCsr('a,O=evil+CN=x');
    const csr = new x509.Pkcs10CertificateRequest(csrPem);
    expect(csr.subjectName.getField('CN')).toEqual(['a,O=evil+CN=x']);
    expect(csr.subjectName.getField('O')).toEqual([]);
  });
});

describe('normalizeSerial', () => {
  it('spells serials one way', () => {
    expect(normalizeSerial('00:8F:01')).toBe('8f01');
    expect(normalizeSerial('0A1B')).toBe('0a1b');
    expect(normalizeSerial('a1b')).toBe('0a1b');
    expect(normalizeSerial('0000')).toBe('00');
  });

  it('rejects non-hex', () => {
    expect(() => normalizeSerial('xyz')).toThrow(expect.objectContaining({ code: 'BALLAST_ERR_VALIDATION' }));
  });
});

describe('certificateInfo', () => {
  it('reads serial, CN, validity, fingerprint and issuer', async () => {
    // A serial with the top bit set: DER stores it as 00 ff 01 ..., the normal form drops the 00.
    const { certPem } = await selfSigned({ cn: 'c,n+x', serial: 'ff0102' });
    const info = certificateInfo(certPem);
    expect(info.serial).toBe('ff0102');
    expect(info.commonName).toBe('c,n+x');
    expect(info.notBefore.toISOString()).toBe('2024-01-01T00:00:00.000Z');
    expect(info.notAfter.toISOString()).toBe('2034-01-01T00:00:00.000Z');
    const node = new X509Certificate(certPem);
    expect(info.fingerprint256).toBe(node.fingerprint256);
    expect(info.issuer).toBe(node.issuer);
  });

  it('throws a coded error for garbage', () => {
    try {
      certificateInfo('-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n');
      expect.unreachable();
    } catch (err) {
      expect(isBallastError(err, 'BALLAST_ERR_VALIDATION')).toBe(true);
    }
  });
});

// reflect-metadata must be evaluated before @peculiar/x509: its DI container (tsyringe) checks for
// the polyfill at import time. ESM evaluates imports in order, so this line must stay first.
import 'reflect-metadata';
import { createHash, createPrivateKey, type webcrypto, X509Certificate } from 'node:crypto';
import * as X509 from '@peculiar/x509';
import { BallastError, messageOf } from './errors.js';

/**
 * The PKI primitives both sides of enrolment share. The agent pins the controller's CA by
 * `caPublicKeyHash` (what kubeadm's `--discovery-token-ca-cert-hash` computes) and sends a CSR made
 * by `generateKeyAndCsr`; both sides read certificates through `certificateInfo`.
 */

X509.cryptoProvider.set(globalThis.crypto);

/**
 * @peculiar/x509 with Node's WebCrypto as its provider. Import it from here so the provider and
 * the polyfill are always set up first.
 */
export const x509: typeof X509 = X509;

/** A new key pair as WebCrypto keys (for @peculiar/x509) and as the private key's PKCS#8 PEM. */
export interface GeneratedKey {
  keys: webcrypto.CryptoKeyPair;
  keyPem: string;
}

/** Generates an ECDSA P-256 key pair; extractable only so the private key can be written as PEM. */
export async function generateEcKey(): Promise<GeneratedKey> {
  const keys = await globalThis.crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, [
    'sign',
    'verify',
  ]);
  const pkcs8 = await globalThis.crypto.subtle.exportKey('pkcs8', keys.privateKey);
  const keyPem = createPrivateKey({ key: Buffer.from(pkcs8), format: 'der', type: 'pkcs8' })
    .export({ type: 'pkcs8', format: 'pem' })
    .toString();
  return { keys, keyPem };
}

/** The signature algorithm for every ECDSA signature Ballast makes. */
export const ECDSA_SHA256 = { name: 'ECDSA', hash: 'SHA-256' } as const;

/** Parses a PEM certificate with node:crypto, turning parse failures into a coded error. */
function parseCertificate(pem: string): X509Certificate {
  try {
    return new X509Certificate(pem);
  } catch (err) {
    throw new BallastError('BALLAST_ERR_VALIDATION', `failed to parse certificate: ${messageOf(err)}`, {
      cause: err,
    });
  }
}

/**
 * `sha256:<hex>` of the DER SubjectPublicKeyInfo of the certificate's key: the same value as kubeadm's
 * `--discovery-token-ca-cert-hash` and `openssl x509 -pubkey | openssl pkey -pubin -outform der |
 * sha256sum`. Pinning the key rather than the certificate survives a CA re-issue with the same key.
 */
export function caPublicKeyHash(caCertPem: string): string {
  const spki = parseCertificate(caCertPem).publicKey.export({ type: 'spki', format: 'der' });
  return `sha256:${createHash('sha256').update(spki).digest('hex')}`;
}

/**
 * Generates an ECDSA P-256 key (PKCS#8 PEM) and a PKCS#10 CSR signed with it for subject
 * CN=`commonName`. The key never leaves the host; only the CSR is sent.
 */
export async function generateKeyAndCsr(commonName: string): Promise<{ keyPem: string; csrPem: string }> {
  const { keys, keyPem } = await generateEcKey();
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    // JSON form, not "CN=..." text: a name containing ',' or '+' must not become extra attributes.
    name: [{ CN: [commonName] }],
    keys,
    signingAlgorithm: ECDSA_SHA256,
  });
  return { keyPem, csrPem: withTrailingNewline(csr.toString('pem')) };
}

/** PEM files conventionally end with a newline; @peculiar/x509 omits it. */
export function withTrailingNewline(pem: string): string {
  return pem.endsWith('\n') ? pem : `${pem}\n`;
}

/**
 * The one spelling of a certificate serial Ballast stores and compares: lowercase hex of the
 * unsigned big-endian value, two digits per byte, no leading zero bytes (so DER's sign-padding
 * `00` is gone), no separators. Accepts colons and either case.
 */
export function normalizeSerial(serial: string): string {
  const hex = serial.replaceAll(':', '').toLowerCase();
  if (!/^[0-9a-f]+$/.test(hex)) {
    throw new BallastError('BALLAST_ERR_VALIDATION', `failed to read serial: "${serial}" is not hex`);
  }
  const even = hex.length % 2 === 0 ? hex : `0${hex}`;
  const trimmed = even.replace(/^(00)+/, '');
  return trimmed === '' ? '00' : trimmed;
}

/** What Ballast needs to know about a certificate. */
export interface CertificateInfo {
  /** See `normalizeSerial`. */
  serial: string;
  /** The subject's first CN, unescaped; '' when the subject has none. */
  commonName: string;
  notBefore: Date;
  notAfter: Date;
  /** SHA-256 of the DER certificate as node:crypto prints it: uppercase hex pairs joined by ':'. */
  fingerprint256: string;
  /** The issuer DN as node:crypto prints it (one `KEY=value` per line). */
  issuer: string;
}

/** Reads the fields Ballast stores about a certificate (PEM). */
export function certificateInfo(pem: string): CertificateInfo {
  const cert = parseCertificate(pem);
  // node:crypto has no structured subject or Date validity on Node 20 (only escaped text), so the
  // CN and the dates come from @peculiar/x509's parse of the same DER.
  const parsed = new x509.X509Certificate(cert.raw);
  return {
    serial: normalizeSerial(cert.serialNumber),
    commonName: parsed.subjectName.getField('CN')[0] ?? '',
    notBefore: parsed.notBefore,
    notAfter: parsed.notAfter,
    fingerprint256: cert.fingerprint256,
    issuer: cert.issuer,
  };
}

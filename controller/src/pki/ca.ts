import { createPrivateKey, createPublicKey, type KeyObject, randomBytes, type webcrypto, X509Certificate } from 'node:crypto';
import { isIP } from 'node:net';
import type * as X509 from '@peculiar/x509';
import { BallastError, messageOf } from '../../../shared/src/errors.js';
import { certificateInfo, ECDSA_SHA256, generateEcKey, withTrailingNewline, x509 } from '../../../shared/src/pki.js';

/**
 * The controller's certificate authority: it creates the CA, the controller's serving certificate,
 * and signs the client certificates hosts ask for when they enrol (kubeadm's model). The same
 * primitives (createCa, issueLeafCert) issue the Kubernetes cluster's PKI (cluster-pki.ts).
 */

/** A certificate and its private key, both PEM (the key as PKCS#8). */
export interface KeyPair {
  certPem: string;
  keyPem: string;
}

const DAY_MS = 86_400_000;
/** Certificates start 5 minutes in the past so a host whose clock is a little behind accepts them. */
const CLOCK_SKEW_MS = 5 * 60_000;

/** The CA, parsed once per operation and ready to sign. */
interface CaSigner {
  name: X509.Name;
  signingKey: webcrypto.CryptoKey;
  /** The CA's subject key identifier, copied into each issued certificate's authority key identifier. */
  keyId: string;
}

/** When a certificate is valid: from a little in the past (clock skew) until `notAfter`. */
interface ValidityPeriod {
  notBefore: Date;
  notAfter: Date;
}

function validity(validityDays: number): ValidityPeriod {
  if (!Number.isInteger(validityDays) || validityDays <= 0) {
    throw new BallastError('BALLAST_ERR_CONFIG', `failed to issue certificate: validityDays ${validityDays} is not a positive integer`);
  }
  return validityMsFromNow(validityDays * DAY_MS);
}

/** A period of exactly `validityMs` from now (short-lived credentials are counted in ms, not days). */
function validityMsFromNow(validityMs: number): ValidityPeriod {
  if (!Number.isInteger(validityMs) || validityMs <= 0) {
    throw new BallastError('BALLAST_ERR_CONFIG', `failed to issue certificate: validityMs ${validityMs} is not a positive integer`);
  }
  const now = Date.now();
  return { notBefore: new Date(now - CLOCK_SKEW_MS), notAfter: new Date(now + validityMs) };
}

/**
 * 16 random bytes (RFC 5280 allows 20) with the top byte in 0x40..0x7f: positive, so DER needs no
 * `00` padding, and never a leading zero byte, so every serial is exactly 32 hex digits in the
 * `normalizeSerial` spelling. 126 random bits is far above the 64 the CA/Browser Forum asks for.
 */
function randomSerial(): string {
  const bytes = randomBytes(16);
  bytes[0] = ((bytes[0] ?? 0) & 0x3f) | 0x40;
  return bytes.toString('hex');
}

function pemOf(cert: X509.X509Certificate): string {
  return withTrailingNewline(cert.toString('pem'));
}

/** Parses the CA and checks it can sign: a P-256 key that belongs to a CA certificate. */
async function loadSigner(ca: KeyPair): Promise<CaSigner> {
  let cert: X509Certificate;
  let key: KeyObject;
  try {
    cert = new X509Certificate(ca.certPem);
    key = createPrivateKey(ca.keyPem);
  } catch (err) {
    throw new BallastError('BALLAST_ERR_CONFIG', `failed to load CA: ${messageOf(err)}`, { cause: err });
  }
  if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
    throw new BallastError('BALLAST_ERR_CONFIG', 'failed to load CA: the CA key is not an ECDSA P-256 key');
  }
  if (!cert.ca) throw new BallastError('BALLAST_ERR_CONFIG', 'failed to load CA: the certificate is not a CA');
  if (!cert.checkPrivateKey(key)) {
    throw new BallastError('BALLAST_ERR_CONFIG', 'failed to load CA: the key does not belong to the CA certificate');
  }
  const pkcs8 = key.export({ type: 'pkcs8', format: 'der' });
  const signingKey = await globalThis.crypto.subtle.importKey(
    'pkcs8',
    pkcs8,
    { name: 'ECDSA', namedCurve: 'P-256' },
    false,
    ['sign'],
  );
  const parsed = new x509.X509Certificate(cert.raw);
  const ski = parsed.getExtension(x509.SubjectKeyIdentifierExtension);
  // A CA made elsewhere may lack a SKI; derive it the way createCa does so AKIs still chain.
  const keyId = ski?.keyId ?? (await x509.SubjectKeyIdentifierExtension.create(parsed.publicKey)).keyId;
  return { name: parsed.subjectName, signingKey, keyId };
}

/** The extended key usages a leaf can carry. etcd's server and peer certificates need both. */
export type LeafUsage = 'serverAuth' | 'clientAuth';

const EKU_OIDS: Record<LeafUsage, X509.ExtendedKeyUsage> = {
  serverAuth: x509.ExtendedKeyUsage.serverAuth,
  clientAuth: x509.ExtendedKeyUsage.clientAuth,
};

/**
 * The subject as @peculiar/x509's JSON name: O before CN (the order kubeadm and openssl print).
 * JSON form, not "CN=..." text: a name containing ',' or '+' must not become extra attributes.
 */
function subjectOf(commonName: string, organization: string | undefined): X509.JsonName {
  return organization === undefined ? [{ CN: [commonName] }] : [{ O: [organization] }, { CN: [commonName] }];
}

/** Signs a leaf (non-CA) certificate for `publicKey` with the extensions every leaf carries. */
async function issueLeaf(opts: {
  signer: CaSigner;
  publicKey: X509.PublicKey | webcrypto.CryptoKey;
  commonName: string;
  organization?: string;
  period: ValidityPeriod;
  usages: readonly LeafUsage[];
  extraExtensions?: X509.Extension[];
}): Promise<X509.X509Certificate> {
  if (opts.usages.length === 0) {
    throw new BallastError('BALLAST_ERR_INTERNAL', `failed to issue certificate ${opts.commonName}: no extended key usage given`);
  }
  const { notBefore, notAfter } = opts.period;
  return x509.X509CertificateGenerator.create({
    serialNumber: randomSerial(),
    subject: subjectOf(opts.commonName, opts.organization),
    issuer: opts.signer.name,
    notBefore,
    notAfter,
    publicKey: opts.publicKey,
    signingKey: opts.signer.signingKey,
    signingAlgorithm: ECDSA_SHA256,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      // ECDSA keys only sign in TLS, so digitalSignature is the only usage a leaf needs.
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([...new Set(opts.usages)].map((u) => EKU_OIDS[u])),
      await x509.SubjectKeyIdentifierExtension.create(opts.publicKey),
      new x509.AuthorityKeyIdentifierExtension(opts.signer.keyId),
      ...(opts.extraExtensions ?? []),
    ],
  });
}

/** A DNS SAN: 1-253 characters of letters, digits, '.', '-' and '_', optionally one leading '*.'. */
const DNS_NAME_PATTERN = /^(\*\.)?[A-Za-z0-9_]([A-Za-z0-9_.-]{0,251}[A-Za-z0-9_])?$/;

/** Checks the SANs and builds the extension, or undefined when there are none. */
function sanExtension(what: string, dnsNames: readonly string[], ipAddresses: readonly string[]): X509.Extension | undefined {
  for (const ip of ipAddresses) {
    if (isIP(ip) === 0) throw new BallastError('BALLAST_ERR_CONFIG', `failed to issue ${what}: "${ip}" is not an IP address`);
  }
  for (const name of dnsNames) {
    if (!DNS_NAME_PATTERN.test(name)) throw new BallastError('BALLAST_ERR_CONFIG', `failed to issue ${what}: "${name}" is not a DNS name`);
  }
  if (dnsNames.length + ipAddresses.length === 0) return undefined;
  return new x509.SubjectAlternativeNameExtension([
    ...dnsNames.map((value) => ({ type: 'dns' as const, value })),
    ...ipAddresses.map((value) => ({ type: 'ip' as const, value })),
  ]);
}

/** What {@link issueLeafCert} issues. */
export interface LeafCertOptions {
  ca: KeyPair;
  commonName: string;
  /** Subject O, e.g. `system:masters` for a Kubernetes admin client; none when absent. */
  organization?: string;
  /** At least one; both for a certificate a process both serves and dials with (etcd server, peer). */
  usages: readonly LeafUsage[];
  dnsNames?: readonly string[];
  ipAddresses?: readonly string[];
  /** Default 365 days (kubeadm's leaf lifetime). */
  validityDays?: number;
  /** Exact lifetime in ms, for short-lived credentials (an operator's kubeconfig); wins over validityDays. */
  validityMs?: number;
}

/**
 * Issues a leaf certificate with a fresh ECDSA P-256 key for the given usages and SANs. The key
 * is generated here, by the CA's owner: this is for material the controller hands to the one
 * host that needs it (etcd members, the apiserver's etcd client), not for host identities,
 * which are CSR-signed so their keys never leave the host.
 */
export async function issueLeafCert(opts: LeafCertOptions): Promise<KeyPair & { serial: string; notAfter: Date }> {
  const san = sanExtension(`certificate ${opts.commonName}`, opts.dnsNames ?? [], opts.ipAddresses ?? []);
  const signer = await loadSigner(opts.ca);
  const { keys, keyPem } = await generateEcKey();
  const cert = await issueLeaf({
    signer,
    publicKey: keys.publicKey,
    commonName: opts.commonName,
    ...(opts.organization === undefined ? {} : { organization: opts.organization }),
    period: opts.validityMs === undefined ? validity(opts.validityDays ?? 365) : validityMsFromNow(opts.validityMs),
    usages: opts.usages,
    ...(san === undefined ? {} : { extraExtensions: [san] }),
  });
  const certPem = pemOf(cert);
  const info = certificateInfo(certPem);
  return { certPem, keyPem, serial: info.serial, notAfter: info.notAfter };
}

/** CSRs are a few hundred bytes (a few KiB for RSA 8192); anything bigger is not worth parsing. */
const MAX_CSR_PEM_LENGTH = 16 * 1024;
const ALLOWED_CSR_HASHES = new Set(['SHA-256', 'SHA-384', 'SHA-512']);

function csrInvalid(why: string, cause?: unknown): BallastError {
  return new BallastError('BALLAST_ERR_CSR_INVALID', `failed to sign CSR: ${why}`, cause === undefined ? {} : { cause });
}

/** Refuses keys too weak to trust (or too big to be worth the CPU); see signCsr. */
function checkCsrKey(spki: ArrayBuffer): void {
  let key: KeyObject;
  try {
    key = createPublicKey({ key: Buffer.from(spki), format: 'der', type: 'spki' });
  } catch (err) {
    throw csrInvalid(`its public key is unreadable: ${messageOf(err)}`, err);
  }
  if (key.asymmetricKeyType === 'ec') {
    if (key.asymmetricKeyDetails?.namedCurve === 'prime256v1') return;
    throw csrInvalid(`EC curve ${key.asymmetricKeyDetails?.namedCurve ?? 'unknown'} is not allowed (want P-256)`);
  }
  if (key.asymmetricKeyType === 'rsa') {
    const bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
    if (bits >= 2048 && bits <= 8192) return;
    throw csrInvalid(`RSA key of ${bits} bits is not allowed (want 2048 to 8192)`);
  }
  throw csrInvalid(`key type ${key.asymmetricKeyType ?? 'unknown'} is not allowed (want ECDSA P-256 or RSA)`);
}

/**
 * Parses an untrusted CSR and checks it before anything is signed: exactly one PEM block, a
 * signature that verifies with the CSR's own key (proof the sender holds the private key), an
 * allowed key and hash, and a subject CN equal to the name the caller authorised.
 */
async function parseCsr(opts: { csrPem: string; commonName: string }): Promise<X509.Pkcs10CertificateRequest> {
  if (opts.csrPem.length > MAX_CSR_PEM_LENGTH) throw csrInvalid(`it is over ${MAX_CSR_PEM_LENGTH} characters`);
  let csr: X509.Pkcs10CertificateRequest;
  try {
    const blocks = x509.PemConverter.decodeWithHeaders(opts.csrPem);
    const block = blocks[0];
    if (blocks.length !== 1 || block === undefined || !/^(NEW )?CERTIFICATE REQUEST$/.test(block.type)) {
      throw new Error('want exactly one "CERTIFICATE REQUEST" PEM block');
    }
    csr = new x509.Pkcs10CertificateRequest(block.rawData);
  } catch (err) {
    throw csrInvalid(`it is not a PEM PKCS#10 request: ${messageOf(err)}`, err);
  }
  checkCsrKey(csr.publicKey.rawData);
  const hash = (csr.signatureAlgorithm.hash as { name?: string } | undefined)?.name ?? 'unknown';
  if (!ALLOWED_CSR_HASHES.has(hash)) throw csrInvalid(`signature hash ${hash} is not allowed`);
  let verified: boolean;
  try {
    verified = await csr.verify();
  } catch (err) {
    throw csrInvalid(`its signature cannot be checked: ${messageOf(err)}`, err);
  }
  if (!verified) throw csrInvalid('its signature does not verify');
  const names = csr.subjectName.getField('CN');
  if (names.length !== 1 || names[0] !== opts.commonName) {
    throw csrInvalid(`its subject CN ${JSON.stringify(names)} is not ${JSON.stringify(opts.commonName)}`);
  }
  return csr;
}

/**
 * Creates a self-signed ECDSA P-256 CA (default 3650 days). pathLength 0: it signs leaf
 * certificates only, so a leaked leaf key can never mint further certificates.
 */
export async function createCa(opts: { commonName: string; validityDays?: number }): Promise<KeyPair> {
  const { notBefore, notAfter } = validity(opts.validityDays ?? 3650);
  const { keys, keyPem } = await generateEcKey();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomSerial(),
    name: [{ CN: [opts.commonName] }],
    keys,
    notBefore,
    notAfter,
    signingAlgorithm: ECDSA_SHA256,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { certPem: pemOf(cert), keyPem };
}

/** Issues a TLS server certificate (default 825 days) for the given DNS names and IP addresses. */
export async function issueServerCert(opts: {
  ca: KeyPair;
  commonName: string;
  dnsNames: string[];
  ipAddresses: string[];
  validityDays?: number;
}): Promise<KeyPair> {
  const { certPem, keyPem } = await issueLeafCert({
    ...opts,
    usages: ['serverAuth'],
    validityDays: opts.validityDays ?? 825,
  });
  return { certPem, keyPem };
}

/**
 * Signs a host's CSR as a client certificate for `commonName` (default 365 days). The CSR must
 * verify, use an ECDSA P-256 or RSA >= 2048 key, and ask for exactly CN=`commonName`. Everything
 * else in it (extra subject fields, requested extensions) is ignored: the CA decides the contents.
 */
export async function signCsr(opts: {
  ca: KeyPair;
  csrPem: string;
  commonName: string;
  validityDays?: number;
}): Promise<{ certPem: string; serial: string; notAfter: Date }> {
  const csr = await parseCsr({ csrPem: opts.csrPem, commonName: opts.commonName });
  const signer = await loadSigner(opts.ca);
  const cert = await issueLeaf({
    signer,
    publicKey: csr.publicKey,
    commonName: opts.commonName,
    period: validity(opts.validityDays ?? 365),
    usages: ['clientAuth'],
  });
  const certPem = pemOf(cert);
  const info = certificateInfo(certPem);
  return { certPem, serial: info.serial, notAfter: info.notAfter };
}

/**
 * Issues a client certificate with a fresh ECDSA P-256 key made here: for credentials the
 * controller hands to their user whole (an operator's kubeconfig), and for tests and fuzzers that
 * need a valid host identity. `organization` becomes the subject O (a Kubernetes group).
 */
export async function issueClientCert(opts: {
  ca: KeyPair;
  commonName: string;
  organization?: string;
  validityDays?: number;
  validityMs?: number;
}): Promise<KeyPair & { serial: string; notAfter: Date }> {
  const { certPem, keyPem, serial, notAfter } = await issueLeafCert({ ...opts, usages: ['clientAuth'] });
  return { certPem, keyPem, serial, notAfter };
}

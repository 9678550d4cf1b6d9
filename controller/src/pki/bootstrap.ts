import { createPrivateKey, X509Certificate } from 'node:crypto';
import { chmod, mkdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { BallastError, messageOf } from '../../../shared/src/errors.js';
import { writeFileAtomic } from '../../../shared/src/atomic-file.js';
import { caPublicKeyHash, certificateInfo, x509 } from '../../../shared/src/pki.js';
import { createCa, issueServerCert, type KeyPair } from './ca.js';

/**
 * Converges the controller's PKI files in its data directory: creates the CA and the serving
 * certificate on first start, reuses them afterwards, and reissues only the serving certificate
 * when it no longer fits (missing SANs, close to expiry, wrong key or issuer). The CA is never
 * regenerated: every enrolled host trusts it, so losing it means re-joining every host.
 */

/** The controller's CA and serving certificate, loaded or created by `ensurePki`. */
export interface ControllerPki {
  ca: KeyPair;
  server: KeyPair;
  /** `sha256:<hex>` that agents pin; see `caPublicKeyHash`. */
  caHash: string;
  paths: { caCert: string; caKey: string; serverCert: string; serverKey: string };
}

const CA_COMMON_NAME = 'ballast-ca';
const SERVER_COMMON_NAME = 'ballast-controller';
/** Reissue the serving certificate this long before it expires, so a restart always fixes it in time. */
const RENEW_BEFORE_MS = 30 * 86_400_000;
/** Names every serving certificate carries, so local tools and health checks can verify it. */
const LOCAL_DNS_NAMES = ['localhost'];
const LOCAL_IP_ADDRESSES = ['127.0.0.1', '::1'];
const KEY_MODE = 0o600;
const CERT_MODE = 0o644;

/** Reads a file, or undefined if it does not exist; any other failure is an error. */
async function readOptional(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new BallastError('BALLAST_ERR_CONFIG', `failed to read ${path}: ${messageOf(err)}`, { cause: err });
  }
}

/** Narrows a key file that was left readable by others back to 0600 (converge, and say so). */
async function ensureKeyMode(path: string, log: Logger): Promise<void> {
  const mode = (await stat(path)).mode & 0o777;
  if (mode === KEY_MODE) return;
  await chmod(path, KEY_MODE);
  log.warn({ path, mode: mode.toString(8) }, 'narrowed private key permissions to 0600');
}

function keyMatches(certPem: string, keyPem: string): boolean {
  try {
    return new X509Certificate(certPem).checkPrivateKey(createPrivateKey(keyPem));
  } catch {
    return false; // an unparseable cert or key cannot match; callers say which file to fix
  }
}

async function ensureCa(paths: ControllerPki['paths'], log: Logger): Promise<KeyPair> {
  const [certPem, keyPem] = await Promise.all([readOptional(paths.caCert), readOptional(paths.caKey)]);
  if (certPem === undefined && keyPem === undefined) {
    const ca = await createCa({ commonName: CA_COMMON_NAME });
    // Key first: a crash between the two writes leaves a lone key, which the next start refuses
    // loudly, rather than a certificate nothing can sign with.
    await writeFileAtomic(paths.caKey, ca.keyPem, KEY_MODE);
    await writeFileAtomic(paths.caCert, ca.certPem, CERT_MODE);
    log.info({ path: paths.caCert, caHash: caPublicKeyHash(ca.certPem) }, 'created CA');
    return ca;
  }
  if (certPem === undefined || keyPem === undefined) {
    const [present, missing] = certPem === undefined ? [paths.caKey, paths.caCert] : [paths.caCert, paths.caKey];
    throw new BallastError(
      'BALLAST_ERR_CONFIG',
      `failed to load CA: ${present} exists but ${missing} does not; restore ${missing} from a backup ` +
        '(remove both files only if every host may re-join a new CA)',
    );
  }
  if (!keyMatches(certPem, keyPem)) {
    throw new BallastError(
      'BALLAST_ERR_CONFIG',
      `failed to load CA: ${paths.caKey} is not the private key of ${paths.caCert} (or one of them is unreadable)`,
    );
  }
  await ensureKeyMode(paths.caKey, log);
  const info = certificateInfo(certPem);
  if (info.notAfter.getTime() - Date.now() < RENEW_BEFORE_MS) {
    // Not fixable here: a new CA would cut off every enrolled host. Make it loud instead.
    log.error({ path: paths.caCert, notAfter: info.notAfter }, 'CA certificate expires within 30 days');
  }
  log.info({ path: paths.caCert, caHash: caPublicKeyHash(certPem) }, 'loaded CA');
  return { certPem, keyPem };
}

/** Why the existing serving certificate must be replaced, or undefined if it still fits. */
async function serverReissueReason(opts: {
  ca: KeyPair;
  certPem: string | undefined;
  keyPem: string | undefined;
  dnsNames: string[];
  ipAddresses: string[];
}): Promise<string | undefined> {
  if (opts.certPem === undefined || opts.keyPem === undefined) return 'missing';
  if (!keyMatches(opts.certPem, opts.keyPem)) return 'key does not match certificate';
  const cert = new X509Certificate(opts.certPem);
  const ca = new X509Certificate(opts.ca.certPem);
  if (!cert.checkIssued(ca) || !cert.verify(ca.publicKey)) return 'not issued by the current CA';
  if (certificateInfo(opts.certPem).notAfter.getTime() - Date.now() < RENEW_BEFORE_MS) return 'expires within 30 days';
  const san = new x509.X509Certificate(cert.raw).getExtension(x509.SubjectAlternativeNameExtension);
  const haveDns = new Set(san?.names.items.filter((n) => n.type === 'dns').map((n) => n.value.toLowerCase()) ?? []);
  const missingDns = opts.dnsNames.filter((name) => !haveDns.has(name.toLowerCase()));
  // checkIP compares addresses, not spellings, so '::1' matches however the certificate stores it.
  const missingIps = opts.ipAddresses.filter((ip) => cert.checkIP(ip) === undefined);
  const missing = [...missingDns, ...missingIps];
  return missing.length === 0 ? undefined : `missing SANs ${missing.join(', ')}`;
}

function unique(values: string[], key: (v: string) => string = (v) => v): string[] {
  const seen = new Map<string, string>();
  for (const v of values) if (!seen.has(key(v))) seen.set(key(v), v);
  return [...seen.values()];
}

/**
 * Makes sure `dataDir` holds a CA and a serving certificate for `sans` (plus localhost, 127.0.0.1
 * and ::1), creating or reissuing only what is missing or unfit. Safe to call on every start.
 * Refuses (BALLAST_ERR_CONFIG) a CA certificate without its key or the other way round, or a CA
 * key that does not match the certificate: those need a human, not a new CA.
 */
export async function ensurePki(opts: {
  dataDir: string;
  sans: { dnsNames: string[]; ipAddresses: string[] };
  log: Logger;
}): Promise<ControllerPki> {
  const log = opts.log.child({ component: 'pki' });
  const paths: ControllerPki['paths'] = {
    caCert: join(opts.dataDir, 'ca.crt'),
    caKey: join(opts.dataDir, 'ca.key'),
    serverCert: join(opts.dataDir, 'server.crt'),
    serverKey: join(opts.dataDir, 'server.key'),
  };
  // mode applies only when the directory is created; an existing one is the operator's choice.
  await mkdir(opts.dataDir, { recursive: true, mode: 0o700 });
  const ca = await ensureCa(paths, log);

  const dnsNames = unique([...LOCAL_DNS_NAMES, ...opts.sans.dnsNames], (v) => v.toLowerCase());
  const ipAddresses = unique([...LOCAL_IP_ADDRESSES, ...opts.sans.ipAddresses]);
  const [certPem, keyPem] = await Promise.all([readOptional(paths.serverCert), readOptional(paths.serverKey)]);
  const reason = await serverReissueReason({ ca, certPem, keyPem, dnsNames, ipAddresses });
  let server: KeyPair;
  if (reason === undefined && certPem !== undefined && keyPem !== undefined) {
    await ensureKeyMode(paths.serverKey, log);
    server = { certPem, keyPem };
    log.info({ path: paths.serverCert }, 'loaded server certificate');
  } else {
    server = await issueServerCert({ ca, commonName: SERVER_COMMON_NAME, dnsNames, ipAddresses });
    // Key first: a crash in between leaves a key that does not match the old certificate, which
    // the next start detects and reissues.
    await writeFileAtomic(paths.serverKey, server.keyPem, KEY_MODE);
    await writeFileAtomic(paths.serverCert, server.certPem, CERT_MODE);
    log.info({ path: paths.serverCert, reason, dnsNames, ipAddresses }, 'issued server certificate');
  }
  return { ca, server, caHash: caPublicKeyHash(ca.certPem), paths };
}

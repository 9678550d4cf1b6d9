/**
 * The Kubernetes cluster's PKI, issued and kept by the controller: the etcd CA and its member,
 * client and apiserver certificates, the Kubernetes and front-proxy CAs, the service-account key
 * pair, the controller's admin client certificate and the kubeadm bootstrap token. Keys are made
 * here and stored in the controller's database; they leave it only towards the host that needs
 * them (cluster-pki-files.ts builds those file sets), over the agent's mTLS session.
 *
 * `ensure` converges (STYLE.md §2): it keeps every stored item that still fits and issues only
 * what is missing or unfit, then writes the new items in one transaction.
 */
import { createPublicKey, generateKeyPair, X509Certificate } from 'node:crypto';
import { promisify } from 'node:util';
import type { Logger } from 'pino';
import { BallastError, messageOf } from '../../../shared/src/errors.js';
import { certificateInfo } from '../../../shared/src/pki.js';
import { generateJoinToken } from '../auth/join-token.js';
import type { ClusterPkiRecord, ClusterPkiRepo, NewClusterPkiItem } from '../store/cluster-pki.js';
import { createCa, issueLeafCert, type KeyPair } from './ca.js';
import {
  type CaSpec,
  checkClusterPkiInputs,
  type LeafSpec,
  PKI_NAMES,
  type PkiItemSpec,
  pkiItemSpecs,
  subjectText,
} from './cluster-pki-items.js';

const DAY_MS = 86_400_000;
/** A leaf with less than this left is re-issued, so a monthly ensure never lets one lapse. */
export const RENEW_BEFORE_MS = 30 * DAY_MS;
/** kubeadm's default bootstrap-token lifetime. */
export const BOOTSTRAP_TOKEN_TTL_MS = 24 * 3_600_000;
/**
 * A token with less than this left is replaced early: a `kubeadm join` started with it must not
 * race its expiry. (The 30-day margin of certificates makes no sense for a 24 h token.)
 */
const TOKEN_RENEW_BEFORE_MS = 3_600_000;
const CA_VALIDITY_DAYS = 3650;
const LEAF_VALIDITY_DAYS = 365;

const generateKeyPairAsync = promisify(generateKeyPair);

/** The service-account key pair as kubeadm's sa.key (PKCS#8) and sa.pub (SPKI), both PEM. */
export interface ServiceAccountKeys {
  keyPem: string;
  publicKeyPem: string;
}

/** A cluster's PKI after `ensure`: every item, ready to hand out. */
export interface ClusterPkiBundle {
  cluster: string;
  etcdCa: KeyPair;
  kubernetesCa: KeyPair;
  frontProxyCa: KeyPair;
  serviceAccount: ServiceAccountKeys;
  /** The kubeadm bootstrap token `[a-z0-9]{6}.[a-z0-9]{16}` and when it expires (ms). */
  bootstrapToken: { token: string; expiresAt: number };
  apiserverEtcdClient: KeyPair;
  /** Per etcd member name. */
  etcdMembers: ReadonlyMap<string, { server: KeyPair; peer: KeyPair }>;
  /** Per host name (etcd members and control-plane hosts): the agent's and VIP's etcd client. */
  etcdClients: ReadonlyMap<string, KeyPair>;
  /** CN=ballast-controller, O=system:masters, signed by the Kubernetes CA. */
  controllerAdmin: KeyPair;
  /** What this call issued and why; empty when everything was reused. */
  issued: readonly { name: string; reason: string }[];
}

/** Options of {@link ClusterPki}. */
export interface ClusterPkiOptions {
  repo: Pick<ClusterPkiRepo, 'list' | 'putAll'>;
  log: Logger;
  /** Clock for expiry decisions and token lifetimes; tests move it forward. */
  now?: () => number;
}

/** Why a stored leaf must be replaced, or undefined if it still fits. */
function leafReissueReason(record: ClusterPkiRecord, spec: LeafSpec, ca: KeyPair, now: number): string | undefined {
  if (record.kind !== 'cert' || record.certPem === null) return `stored as a ${record.kind}`;
  if (record.notAfter === null || record.notAfter - now < RENEW_BEFORE_MS) return 'expires within 30 days';
  if (record.subject !== subjectText(spec)) return `subject changed from ${record.subject}`;
  const want = new Set([...spec.dnsNames.map((n) => n.toLowerCase()), ...spec.ipAddresses]);
  const have = new Set(record.sans.map((n) => n.toLowerCase()));
  if (want.size !== have.size || [...want].some((n) => !have.has(n))) return 'SANs changed';
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(record.certPem);
  } catch (err) {
    return `certificate unreadable: ${messageOf(err)}`; // replacing it is the fix
  }
  const caCert = new X509Certificate(ca.certPem);
  // A CA replaced after it expired invalidates everything it signed.
  if (!cert.checkIssued(caCert) || !cert.verify(caCert.publicKey)) return 'not signed by the current CA';
  return undefined;
}

/** A stored item as a cert + key pair, or a coded error if it lacks the certificate. */
function pairOf(record: ClusterPkiRecord): KeyPair {
  if (record.certPem === null) {
    throw new BallastError('BALLAST_ERR_STORE', `failed to read cluster PKI item ${record.cluster}/${record.name}: it has no certificate`);
  }
  return { certPem: record.certPem, keyPem: record.keyPem };
}

/** Issues and keeps the PKI of Kubernetes clusters; one instance per controller. */
export class ClusterPki {
  readonly #repo: Pick<ClusterPkiRepo, 'list' | 'putAll'>;
  readonly #log: Logger;
  readonly #now: () => number;
  /** Per-cluster tail of the ensure queue: two overlapping calls must not both issue a CA. */
  readonly #queues = new Map<string, Promise<unknown>>();

  constructor(options: ClusterPkiOptions) {
    this.#repo = options.repo;
    this.#log = options.log.child({ component: 'cluster-pki' });
    this.#now = options.now ?? Date.now;
  }

  /**
   * Makes sure `cluster` has every item `inputs` call for and returns them. A stored item is kept
   * if it fits: a leaf with more than 30 days left, the same subject and SANs, signed by the
   * current CA; a token with more than an hour left; a key pair always. A CA is kept until it
   * expires, even inside the 30 days (logged as an error): a new CA means new certificates on
   * every host and a new trust root in every kubeconfig, which is an operation, not a side
   * effect of ensure. Items of hosts no longer in `inputs` are kept (removing a member removes
   * them). Throws BALLAST_ERR_VALIDATION (with a path) for bad inputs.
   */
  async ensure(cluster: string, inputs: unknown): Promise<ClusterPkiBundle> {
    const checked = checkClusterPkiInputs(cluster, inputs);
    const previous = this.#queues.get(cluster) ?? Promise.resolve();
    const run = previous.then(
      () => this.#ensure(cluster, pkiItemSpecs(checked)),
      () => this.#ensure(cluster, pkiItemSpecs(checked)),
    );
    this.#queues.set(cluster, run);
    try {
      return await run;
    } finally {
      if (this.#queues.get(cluster) === run) this.#queues.delete(cluster);
    }
  }

  async #ensure(cluster: string, specs: readonly PkiItemSpec[]): Promise<ClusterPkiBundle> {
    const log = this.#log.child({ cluster });
    const now = this.#now();
    const current = new Map(this.#repo.list(cluster).map((r) => [r.name, r]));
    const changed: NewClusterPkiItem[] = [];
    const issued: { name: string; reason: string }[] = [];
    const put = (item: NewClusterPkiItem, reason: string) => {
      changed.push(item);
      issued.push({ name: item.name, reason });
      current.set(item.name, { ...item, cluster, createdAt: now });
    };

    for (const spec of specs) {
      const existing = current.get(spec.name);
      if (spec.kind === 'ca') {
        const reason = this.#caReason(existing, log);
        if (reason !== undefined) put(await newCa(spec), reason);
      } else if (spec.kind === 'keypair') {
        if (existing?.kind !== 'keypair') put(await newServiceAccountKeys(spec.name), existing === undefined ? 'missing' : `stored as a ${existing.kind}`);
      } else if (spec.kind === 'token') {
        const fits = existing?.kind === 'token' && existing.notAfter !== null && existing.notAfter - now >= TOKEN_RENEW_BEFORE_MS;
        if (!fits) put(newBootstrapToken(spec.name, now), existing === undefined ? 'missing' : 'expired or about to');
      } else {
        const ca = current.get(spec.ca);
        if (ca === undefined) throw new BallastError('BALLAST_ERR_INTERNAL', `failed to issue ${spec.name}: CA ${spec.ca} is not issued first`);
        const caPair = pairOf(ca);
        const reason = existing === undefined ? 'missing' : leafReissueReason(existing, spec, caPair, now);
        if (reason !== undefined) put(await newLeaf(spec, caPair), reason);
      }
    }

    if (changed.length > 0) {
      this.#repo.putAll(cluster, changed);
      for (const { name, reason } of issued) log.info({ item: name, reason }, 'issued cluster PKI item');
    } else {
      log.debug('cluster PKI is up to date');
    }
    return bundleOf(cluster, current, specs, issued);
  }

  /** Why the CA must be (re)created: only when missing, unusable or already expired. */
  #caReason(existing: ClusterPkiRecord | undefined, log: Logger): string | undefined {
    if (existing === undefined) return 'missing';
    if (existing.kind !== 'ca' || existing.certPem === null) return `stored as a ${existing.kind}`;
    const left = (existing.notAfter ?? 0) - this.#now();
    if (left <= 0) return 'expired';
    if (left < RENEW_BEFORE_MS) {
      log.error({ item: existing.name, notAfter: new Date(existing.notAfter ?? 0).toISOString() }, 'cluster CA expires within 30 days; rotate it');
    }
    return undefined;
  }
}

async function newCa(spec: CaSpec): Promise<NewClusterPkiItem> {
  const ca = await createCa({ commonName: spec.commonName, validityDays: CA_VALIDITY_DAYS });
  return {
    name: spec.name,
    kind: 'ca',
    subject: subjectText(spec),
    sans: [],
    certPem: ca.certPem,
    keyPem: ca.keyPem,
    notAfter: certificateInfo(ca.certPem).notAfter.getTime(),
  };
}

async function newLeaf(spec: LeafSpec, ca: KeyPair): Promise<NewClusterPkiItem> {
  const leaf = await issueLeafCert({
    ca,
    commonName: spec.commonName,
    ...(spec.organization === undefined ? {} : { organization: spec.organization }),
    usages: spec.usages,
    dnsNames: spec.dnsNames,
    ipAddresses: spec.ipAddresses,
    validityDays: LEAF_VALIDITY_DAYS,
  });
  return {
    name: spec.name,
    kind: 'cert',
    subject: subjectText(spec),
    sans: [...spec.dnsNames, ...spec.ipAddresses],
    certPem: leaf.certPem,
    keyPem: leaf.keyPem,
    notAfter: leaf.notAfter.getTime(),
  };
}

/**
 * RSA 2048, as kubeadm makes sa.key: the apiserver and controller-manager accept ECDSA too, but
 * RSA is what every token verifier (OIDC discovery clients included) supports. It never expires;
 * only the private key is stored, sa.pub is derived from it when handed out.
 */
async function newServiceAccountKeys(name: string): Promise<NewClusterPkiItem> {
  const { privateKey } = await generateKeyPairAsync('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
  return { name, kind: 'keypair', subject: 'service-account signing key (RSA 2048)', sans: [], certPem: null, keyPem: privateKey, notAfter: null };
}

/**
 * kubeadm's bootstrap-token format, from the join-token generator (same alphabet and shape). The
 * subject is the public token id, so the list can name it without showing the secret.
 */
function newBootstrapToken(name: string, now: number): NewClusterPkiItem {
  const { id, token } = generateJoinToken();
  return { name, kind: 'token', subject: `bootstrap-token-${id}`, sans: [], certPem: null, keyPem: token, notAfter: now + BOOTSTRAP_TOKEN_TTL_MS };
}

function bundleOf(
  cluster: string,
  items: ReadonlyMap<string, ClusterPkiRecord>,
  specs: readonly PkiItemSpec[],
  issued: readonly { name: string; reason: string }[],
): ClusterPkiBundle {
  const get = (name: string): ClusterPkiRecord => {
    const record = items.get(name);
    if (record === undefined) throw new BallastError('BALLAST_ERR_INTERNAL', `failed to assemble cluster PKI ${cluster}: ${name} is missing`);
    return record;
  };
  const etcdMembers = new Map<string, { server: KeyPair; peer: KeyPair }>();
  const etcdClients = new Map<string, KeyPair>();
  for (const spec of specs) {
    if (spec.kind !== 'cert') continue;
    if (spec.name === PKI_NAMES.etcdServer(spec.commonName)) {
      etcdMembers.set(spec.commonName, { server: pairOf(get(spec.name)), peer: pairOf(get(PKI_NAMES.etcdPeer(spec.commonName))) });
    } else if (spec.name === PKI_NAMES.etcdClient(spec.commonName)) {
      etcdClients.set(spec.commonName, pairOf(get(spec.name)));
    }
  }
  const sa = get(PKI_NAMES.serviceAccount);
  const token = get(PKI_NAMES.bootstrapToken);
  return {
    cluster,
    etcdCa: pairOf(get(PKI_NAMES.etcdCa)),
    kubernetesCa: pairOf(get(PKI_NAMES.kubernetesCa)),
    frontProxyCa: pairOf(get(PKI_NAMES.frontProxyCa)),
    serviceAccount: { keyPem: sa.keyPem, publicKeyPem: publicKeyOf(sa.keyPem) },
    bootstrapToken: { token: token.keyPem, expiresAt: token.notAfter ?? 0 },
    apiserverEtcdClient: pairOf(get(PKI_NAMES.apiserverEtcdClient)),
    etcdMembers,
    etcdClients,
    controllerAdmin: pairOf(get(PKI_NAMES.controllerAdmin)),
    issued,
  };
}

/** sa.pub: the SPKI PEM of a private key. */
function publicKeyOf(keyPem: string): string {
  return createPublicKey(keyPem).export({ type: 'spki', format: 'pem' }).toString();
}

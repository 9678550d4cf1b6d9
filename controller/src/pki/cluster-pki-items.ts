/**
 * What a cluster's PKI consists of, as data: the inputs (validated with a schema, since they come
 * from an operation's request) and the list of items they call for. Pure: nothing here issues or
 * stores anything, so the naming and SAN rules are unit-tested directly.
 */
import { isIP } from 'node:net';
import { type Static, Type } from '@sinclair/typebox';
import { HOST_NAME_PATTERN } from '../../../shared/src/api.js';
import { CLUSTER_NAME_PATTERN } from '../../../shared/src/certs-api.js';
import { BallastError } from '../../../shared/src/errors.js';
import { compiledCheck } from '../../../shared/src/schema-check.js';
import type { LeafUsage } from './ca.js';

/** An address a member is reached at: an IP address or a DNS name (it becomes a SAN of that type). */
const Address = Type.String({ pattern: '^[A-Za-z0-9_.:-]{1,253}$' });
/** A DNS name as an address may spell it (compared lowercased). */
const DNS_NAME = /^[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?$/;
const Ip = Type.String({ pattern: '^[0-9A-Fa-f.:]{2,45}$' });
/** A host: its name (a SAN, so a DNS name; the agent's host-name rules) and where it is reached. */
const PkiHost = Type.Object(
  {
    name: Type.String({ pattern: HOST_NAME_PATTERN.source }),
    addresses: Type.Array(Address, { minItems: 1, maxItems: 16 }),
  },
  { additionalProperties: false },
);

/**
 * Inputs of the cluster PKI. `vip` and `apiServerServiceIp` are checked here but go into no
 * controller-issued certificate: kubeadm signs the apiserver's serving certificate on the host
 * with ca.key (see cluster-pki-files.ts), putting them in from its own configuration. They are
 * part of the inputs so that one validated object describes the cluster's addressing.
 */
export const ClusterPkiInputsSchema = Type.Object(
  {
    etcdMembers: Type.Array(PkiHost, { minItems: 1, maxItems: 9 }),
    controlPlane: Type.Array(PkiHost, { minItems: 1, maxItems: 16 }),
    vip: Ip,
    apiServerServiceIp: Ip,
  },
  { additionalProperties: false },
);
export type ClusterPkiInputs = Static<typeof ClusterPkiInputsSchema>;

/** A self-signed CA; never re-issued while it is valid (see cluster-pki.ts). */
export interface CaSpec {
  kind: 'ca';
  name: string;
  commonName: string;
}

/** A leaf certificate with a fresh key, signed by the CA item named `ca`. */
export interface LeafSpec {
  kind: 'cert';
  name: string;
  ca: string;
  commonName: string;
  organization?: string;
  usages: readonly LeafUsage[];
  dnsNames: readonly string[];
  ipAddresses: readonly string[];
}

/** The service-account signing key pair (kubeadm's sa.key / sa.pub). */
export interface KeyPairSpec {
  kind: 'keypair';
  name: string;
}

/** The kubeadm bootstrap token. */
export interface TokenSpec {
  kind: 'token';
  name: string;
}

/** One item a cluster's PKI must contain. */
export type PkiItemSpec = CaSpec | LeafSpec | KeyPairSpec | TokenSpec;

/** The stored names of the items; per-host items are `<prefix>:<host>`. */
export const PKI_NAMES = {
  etcdCa: 'etcd-ca',
  kubernetesCa: 'kubernetes-ca',
  frontProxyCa: 'front-proxy-ca',
  serviceAccount: 'sa',
  bootstrapToken: 'bootstrap-token',
  apiserverEtcdClient: 'apiserver-etcd-client',
  controllerAdmin: 'controller-admin',
  etcdServer: (member: string) => `etcd-server:${member}`,
  etcdPeer: (member: string) => `etcd-peer:${member}`,
  etcdClient: (host: string) => `etcd-client:${host}`,
} as const;

/** The CN (and O) the controller's own Kubernetes client certificate carries. */
export const CONTROLLER_ADMIN_SUBJECT = { commonName: 'ballast-controller', organization: 'system:masters' } as const;

/** Splits addresses into DNS and IP SANs, first spelling wins, order kept. */
function splitAddresses(addresses: readonly string[]): { dnsNames: string[]; ipAddresses: string[] } {
  const unique = [...new Set(addresses)];
  return { dnsNames: unique.filter((a) => isIP(a) === 0), ipAddresses: unique.filter((a) => isIP(a) !== 0) };
}

const dedupe = (values: readonly string[]): string[] => [...new Set(values)];

/**
 * Every item the inputs call for, CAs first (leaves are signed by them). kubeadm's layout and
 * SANs: an etcd server certificate also answers on localhost (etcdctl and the health probe on
 * the member dial 127.0.0.1), a peer certificate only on the member's own name and addresses.
 * Both carry serverAuth and clientAuth, because etcd dials its peers and its own gRPC gateway
 * with the same pair. Per-host etcd clients (for the host agent and the VIP's leader election)
 * go to every etcd member and control-plane host.
 */
export function pkiItemSpecs(inputs: ClusterPkiInputs): PkiItemSpec[] {
  const specs: PkiItemSpec[] = [
    { kind: 'ca', name: PKI_NAMES.etcdCa, commonName: 'etcd-ca' },
    { kind: 'ca', name: PKI_NAMES.kubernetesCa, commonName: 'kubernetes' },
    { kind: 'ca', name: PKI_NAMES.frontProxyCa, commonName: 'front-proxy-ca' },
    { kind: 'keypair', name: PKI_NAMES.serviceAccount },
    { kind: 'token', name: PKI_NAMES.bootstrapToken },
  ];
  for (const member of inputs.etcdMembers) {
    const { dnsNames, ipAddresses } = splitAddresses(member.addresses);
    specs.push({
      kind: 'cert',
      name: PKI_NAMES.etcdServer(member.name),
      ca: PKI_NAMES.etcdCa,
      commonName: member.name,
      usages: ['serverAuth', 'clientAuth'],
      dnsNames: dedupe([member.name, 'localhost', ...dnsNames]),
      ipAddresses: dedupe([...ipAddresses, '127.0.0.1', '::1']),
    });
    specs.push({
      kind: 'cert',
      name: PKI_NAMES.etcdPeer(member.name),
      ca: PKI_NAMES.etcdCa,
      commonName: member.name,
      usages: ['serverAuth', 'clientAuth'],
      dnsNames: dedupe([member.name, ...dnsNames]),
      ipAddresses,
    });
  }
  specs.push({
    kind: 'cert',
    name: PKI_NAMES.apiserverEtcdClient,
    ca: PKI_NAMES.etcdCa,
    commonName: 'kube-apiserver-etcd-client',
    usages: ['clientAuth'],
    dnsNames: [],
    ipAddresses: [],
  });
  for (const host of dedupe([...inputs.etcdMembers, ...inputs.controlPlane].map((h) => h.name))) {
    specs.push({
      kind: 'cert',
      name: PKI_NAMES.etcdClient(host),
      ca: PKI_NAMES.etcdCa,
      commonName: host,
      usages: ['clientAuth'],
      dnsNames: [],
      ipAddresses: [],
    });
  }
  specs.push({
    kind: 'cert',
    name: PKI_NAMES.controllerAdmin,
    ca: PKI_NAMES.kubernetesCa,
    ...CONTROLLER_ADMIN_SUBJECT,
    usages: ['clientAuth'],
    dnsNames: [],
    ipAddresses: [],
  });
  return specs;
}

/** The subject as stored and listed: `O=…, CN=…` (the order issueLeafCert writes). */
export function subjectText(spec: { commonName: string; organization?: string }): string {
  return spec.organization === undefined ? `CN=${spec.commonName}` : `O=${spec.organization}, CN=${spec.commonName}`;
}

function invalid(message: string, path: string): BallastError {
  return new BallastError('BALLAST_ERR_VALIDATION', `failed to check cluster PKI inputs: ${path}: ${message}`, { path });
}

/**
 * Checks the cluster name and inputs: the schema first (first problem, with its path), then what
 * a schema cannot say: real IP addresses, addresses that are IPs or DNS names, and host names
 * unique within each list.
 */
export function checkClusterPkiInputs(cluster: string, value: unknown): ClusterPkiInputs {
  if (!CLUSTER_NAME_PATTERN.test(cluster)) throw invalid(`cluster name "${cluster}" is not a lowercase DNS label`, '/cluster');
  const check = compiledCheck(ClusterPkiInputsSchema);
  if (!check.Check(value)) {
    const first = check.Errors(value).First();
    throw invalid(first?.message ?? 'does not match the schema', first?.path || '/');
  }
  for (const key of ['vip', 'apiServerServiceIp'] as const) {
    if (isIP(value[key]) === 0) throw invalid(`"${value[key]}" is not an IP address`, `/${key}`);
  }
  for (const list of ['etcdMembers', 'controlPlane'] as const) {
    const seen = new Set<string>();
    value[list].forEach((host, i) => {
      if (seen.has(host.name)) throw invalid(`host "${host.name}" is listed twice`, `/${list}/${i}/name`);
      seen.add(host.name);
      host.addresses.forEach((address, j) => {
        if (isIP(address) === 0 && !DNS_NAME.test(address.toLowerCase())) {
          throw invalid(`"${address}" is neither an IP address nor a DNS name`, `/${list}/${i}/addresses/${j}`);
        }
      });
    });
  }
  return value;
}

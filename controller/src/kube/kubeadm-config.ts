/**
 * kubeadm configuration files, rendered as YAML from one narrow, validated input (the lead maps the
 * cluster spec onto {@link KubeadmConfigInput}; this module knows nothing about that spec).
 *
 * Field names follow kubeadm's Go types (cmd/kubeadm/app/apis/kubeadm/v1beta3 and v1beta4):
 * - v1beta3 for Kubernetes < 1.31, v1beta4 from 1.31 (the first kubeadm that reads it). The two
 *   differ here only in `extraArgs`-style fields: v1beta3 has `map[string]string`, v1beta4 a list
 *   of `{name, value}` (which allows duplicates). kubeadm 1.36 (the catalogue's) still reads
 *   v1beta3 but calls it deprecated, and deploys only control planes of 1.35 or newer, so the
 *   v1beta3 output is for clusters that pin an older Kubernetes with its own kubeadm.
 * - `kubernetesVersion` is the release without build metadata (`1.36.3+ballast.standin` renders
 *   as `v1.36.3`): the metadata names the build of the binaries in the mirror, while kubeadm derives
 *   the control-plane image tags from this field (it would turn `+` into `_` and look for
 *   `kube-apiserver:v1.36.3_ballast.standin`).
 * - External etcd: the controller runs etcd itself (the `etcd` role), so kubeadm gets endpoints and
 *   the apiserver's etcd client pair; it never starts a local etcd.
 * - The controller's CAs are written into /etc/kubernetes/pki before kubeadm runs (the
 *   `kube-control-plane` role), so kubeadm signs the leaf certificates with them and never makes its
 *   own CA; joins pin the CA's public key with `caCertHashes`.
 * - Control-plane `taints` are left unset so kubeadm applies its default control-plane taint;
 *   workers get `taints: []` (unset would mean the same for a worker, but explicit reads better).
 *
 * Output is deterministic (fixed key order), so golden files compare byte for byte. Strings are
 * quoted by YAML 1.1 rules because kubeadm parses with a YAML 1.1 reader: `"on"` must not become
 * a boolean there.
 */
import { isIP } from 'node:net';
import { type Static, Type } from '@sinclair/typebox';
import { parseAllDocuments, stringify } from 'yaml';
import { BallastError } from '../../../shared/src/errors.js';
import { caPublicKeyHash } from '../../../shared/src/pki.js';
import { compiledCheck } from '../../../shared/src/schema-check.js';
import { releaseVersion } from '../../../shared/src/version-compare.js';

export const KUBEADM_V1BETA3 = 'kubeadm.k8s.io/v1beta3';
export const KUBEADM_V1BETA4 = 'kubeadm.k8s.io/v1beta4';
/** The kubeadm config API a Kubernetes version reads. */
export type KubeadmApiVersion = typeof KUBEADM_V1BETA3 | typeof KUBEADM_V1BETA4;

/** Where kubeadm reads and writes certificates; the roles write the controller's CAs here. */
export const PKI_DIR = '/etc/kubernetes/pki';
/** containerd's CRI socket, as the containerd role configures it. */
export const CRI_SOCKET = 'unix:///run/containerd/containerd.sock';
/** The apiserver's port, on every control plane and on the VIP. */
export const API_SERVER_PORT = 6443;
const ETCD_CLIENT_PORT = 2379;
/** kubeadm's default groups/usages for a node bootstrap token, written out so the file says it all. */
const BOOTSTRAP_GROUP = 'system:bootstrappers:kubeadm:default-node-token';
const DEFAULT_TOKEN_TTL = '2h0m0s';

/** An IPv4/IPv6 address or a DNS name (checked further where only an IP will do). */
const Address = Type.String({ pattern: '^[0-9A-Za-z.:-]{1,253}$' });
const Cidr = Type.String({ pattern: '^[0-9A-Fa-f.:]{2,39}/[0-9]{1,3}$' });
const Dns = Type.String({ pattern: '^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$', maxLength: 253 });

/** The input schema; {@link KubeadmConfigInput} is its static type. */
export const KubeadmConfigInputSchema = Type.Object(
  {
    /** `1.36.3`, `v1.36.3` or `1.36.3+build`; picks the kubeadm config API. Build metadata is dropped. */
    kubernetesVersion: Type.String({ pattern: '^v?[0-9]{1,3}\\.[0-9]{1,3}\\.[0-9]{1,3}(-[0-9A-Za-z.-]{1,64})?(\\+[0-9A-Za-z.-]{1,64})?$' }),
    clusterName: Type.String({ pattern: '^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$' }),
    /** The control-plane VIP (IP or DNS name); the control-plane endpoint is `<vip>:6443`. */
    vip: Address,
    networking: Type.Object({ podSubnet: Cidr, serviceSubnet: Cidr, dnsDomain: Dns }, { additionalProperties: false }),
    /** Addresses of the etcd members; each becomes `https://<address>:2379`. */
    etcdMembers: Type.Array(Address, { minItems: 1, maxItems: 9 }),
    /** Extra apiserver certificate SANs besides the VIP: every control plane's addresses and names. */
    certSANs: Type.Array(Address, { maxItems: 256 }),
    /** The host kubeadm runs on: its Node name and the IP it advertises (node-ip, apiserver). */
    node: Type.Object({ name: Dns, address: Address }, { additionalProperties: false }),
    /** `[a-z0-9]{6}.[a-z0-9]{16}`: created at init, used for discovery and TLS bootstrap at join. */
    bootstrapToken: Type.Object(
      {
        token: Type.String({ pattern: '^[a-z0-9]{6}\\.[a-z0-9]{16}$' }),
        /** A Go duration (`2h0m0s`); default 2 h: the controller mints a new token per bootstrap. */
        ttl: Type.Optional(Type.String({ pattern: '^(?=[0-9])([0-9]{1,4}h)?([0-9]{1,4}m)?([0-9]{1,4}s)?$' })),
      },
      { additionalProperties: false },
    ),
    /** kubelet's cgroup driver and whether it may run on cgroup v1 (cluster spec `node`). */
    kubelet: Type.Optional(
      Type.Object(
        { cgroupDriver: Type.Union([Type.Literal('systemd'), Type.Literal('cgroupfs')]), allowCgroupV1: Type.Boolean() },
        { additionalProperties: false },
      ),
    ),
    /** kubeadm add-ons to skip at init (their phases: addon/coredns, addon/kube-proxy). */
    skipAddons: Type.Optional(Type.Array(Type.Union([Type.Literal('coredns'), Type.Literal('kube-proxy')]), { maxItems: 2, uniqueItems: true })),
    /** The Kubernetes CA certificate (PEM); joins pin its public key. */
    caCertPem: Type.String({ pattern: '^-----BEGIN CERTIFICATE-----', maxLength: 64 * 1024 }),
  },
  { additionalProperties: false },
);
/** What every kubeadm config render needs; one value per (cluster, host). */
export type KubeadmConfigInput = Static<typeof KubeadmConfigInputSchema>;

/**
 * v1beta4 from Kubernetes 1.31; v1beta3 from 1.22 (older kubeadm cannot read either). Decided by
 * the release's minor, so `1.31.0-rc.1` (a kubeadm that reads v1beta4) gets v1beta4 and build
 * metadata plays no part.
 */
export function kubeadmApiVersion(kubernetesVersion: string): KubeadmApiVersion {
  const m = /^v?([0-9]+)\.([0-9]+)\./.exec(releaseVersion(kubernetesVersion));
  const major = Number(m?.[1]);
  const minor = Number(m?.[2]);
  if (m === null || major !== 1 || minor < 22) {
    throw new BallastError('BALLAST_ERR_VALIDATION', `failed to pick a kubeadm config API: Kubernetes ${kubernetesVersion} is not supported (want 1.22 or newer)`, {
      path: '/kubernetesVersion',
    });
  }
  return minor >= 31 ? KUBEADM_V1BETA4 : KUBEADM_V1BETA3;
}

/**
 * `sha256:<hex>` of the CA certificate's DER SubjectPublicKeyInfo: the value of kubeadm's
 * `caCertHashes` / `--discovery-token-ca-cert-hash`. One implementation with enrolment's pin.
 */
export function caCertHash(caPem: string): string {
  return caPublicKeyHash(caPem);
}

/** `host:port`, with an IPv6 address in brackets. */
export function hostPort(host: string, port: number): string {
  return isIP(host) === 6 ? `[${host}]:${port}` : `${host}:${port}`;
}

/**
 * The config for `kubeadm init` on the first control plane: InitConfiguration (bootstrap token,
 * node registration, local apiserver endpoint), ClusterConfiguration and KubeletConfiguration.
 */
export function renderInitConfig(input: KubeadmConfigInput): string {
  const v = checkInput(input);
  const init: Record<string, unknown> = {
    apiVersion: v.api,
    kind: 'InitConfiguration',
    bootstrapTokens: [
      {
        token: input.bootstrapToken.token,
        description: 'ballast bootstrap token',
        ttl: input.bootstrapToken.ttl ?? DEFAULT_TOKEN_TTL,
        usages: ['signing', 'authentication'],
        groups: [BOOTSTRAP_GROUP],
      },
    ],
    nodeRegistration: nodeRegistration(v, { controlPlane: true }),
    localAPIEndpoint: { advertiseAddress: input.node.address, bindPort: API_SERVER_PORT },
  };
  const cluster = {
    apiVersion: v.api,
    kind: 'ClusterConfiguration',
    kubernetesVersion: v.version,
    clusterName: input.clusterName,
    controlPlaneEndpoint: v.endpoint,
    certificatesDir: PKI_DIR,
    networking: { podSubnet: input.networking.podSubnet, serviceSubnet: input.networking.serviceSubnet, dnsDomain: input.networking.dnsDomain },
    etcd: {
      external: {
        endpoints: input.etcdMembers.map((m) => `https://${hostPort(m, ETCD_CLIENT_PORT)}`),
        caFile: `${PKI_DIR}/etcd/ca.crt`,
        certFile: `${PKI_DIR}/apiserver-etcd-client.crt`,
        keyFile: `${PKI_DIR}/apiserver-etcd-client.key`,
      },
    },
    apiServer: { certSANs: unique([input.vip, ...input.certSANs]) },
  };
  const skip = (input.skipAddons ?? []).map((a) => `addon/${a}`);
  if (skip.length > 0) init.skipPhases = skip;
  // kubelet's defaults are the same from both kubeadm APIs; the cgroup driver is the one the containerd role configures.
  const kubelet: Record<string, unknown> = {
    apiVersion: 'kubelet.config.k8s.io/v1beta1',
    kind: 'KubeletConfiguration',
    cgroupDriver: input.kubelet?.cgroupDriver ?? 'systemd',
  };
  if (input.kubelet?.allowCgroupV1 === true) kubelet.failCgroupV1 = false;
  return yamlDocuments([init, cluster, kubelet]);
}

/**
 * The config for `kubeadm join`: token discovery through the VIP pinned to the CA's key; with
 * `controlPlane`, also this host's apiserver endpoint (the certificates are already on disk, so no
 * certificate key is needed).
 */
export function renderJoinConfig(input: KubeadmConfigInput, options: { controlPlane: boolean }): string {
  const v = checkInput(input);
  const join: Record<string, unknown> = {
    apiVersion: v.api,
    kind: 'JoinConfiguration',
    nodeRegistration: nodeRegistration(v, options),
    discovery: {
      bootstrapToken: {
        apiServerEndpoint: v.endpoint,
        token: input.bootstrapToken.token,
        caCertHashes: [v.caHash],
      },
    },
  };
  if (options.controlPlane) join.controlPlane = { localAPIEndpoint: { advertiseAddress: input.node.address, bindPort: API_SERVER_PORT } };
  return yamlDocuments([join]);
}

/** The input after validation, with what every render derives from it. */
interface Checked {
  input: KubeadmConfigInput;
  api: KubeadmApiVersion;
  /** With a leading `v`, as kubeadm prints it, and without build metadata. */
  version: string;
  endpoint: string;
  caHash: string;
}

function nodeRegistration(v: Checked, options: { controlPlane: boolean }): Record<string, unknown> {
  const kubeletArgs = { 'node-ip': v.input.node.address };
  const out: Record<string, unknown> = {
    name: v.input.node.name,
    criSocket: CRI_SOCKET,
    kubeletExtraArgs:
      v.api === KUBEADM_V1BETA4 ? Object.entries(kubeletArgs).map(([name, value]) => ({ name, value })) : kubeletArgs,
  };
  // Unset on a control plane: kubeadm then adds node-role.kubernetes.io/control-plane:NoSchedule.
  if (!options.controlPlane) out.taints = [];
  // The only preflight check ever ignored, and only when the cluster allows cgroup v1: it refuses v1 hosts.
  if (v.input.kubelet?.allowCgroupV1 === true) out.ignorePreflightErrors = ['SystemVerification'];
  return out;
}

/**
 * Validates the input, reporting every problem at once (schema violations with their paths, then
 * the rules a schema cannot express), as one BALLAST_ERR_VALIDATION.
 */
function checkInput(input: KubeadmConfigInput): Checked {
  const check = compiledCheck(KubeadmConfigInputSchema);
  const problems = [...check.Errors(input)].map((e) => `${e.path || '/'}: ${e.message.toLowerCase()}`);
  if (problems.length === 0) {
    if (isIP(input.node.address) === 0) problems.push('/node/address: must be an IP address (it becomes node-ip and the advertise address)');
    for (const [i, m] of input.etcdMembers.entries()) if (isIP(m) === 0 && !/[a-z]/i.test(m)) problems.push(`/etcdMembers/${i}: is neither an IP address nor a DNS name`);
    for (const [path, cidr] of [['/networking/podSubnet', input.networking.podSubnet], ['/networking/serviceSubnet', input.networking.serviceSubnet]] as const) {
      if (isIP(cidr.split('/')[0] ?? '') === 0) problems.push(`${path}: ${cidr} is not a CIDR`);
    }
  }
  let api: KubeadmApiVersion = KUBEADM_V1BETA3;
  let caHash = '';
  if (problems.length === 0) {
    try {
      api = kubeadmApiVersion(input.kubernetesVersion);
    } catch (err) {
      problems.push(`/kubernetesVersion: ${(err as Error).message}`);
    }
    try {
      caHash = caCertHash(input.caCertPem);
    } catch (err) {
      problems.push(`/caCertPem: ${(err as Error).message}`);
    }
  }
  if (problems.length > 0) {
    throw new BallastError('BALLAST_ERR_VALIDATION', `failed to render kubeadm config: ${problems.join('; ')}`, { path: problems[0]?.split(':')[0] ?? '/' });
  }
  const release = releaseVersion(input.kubernetesVersion);
  const version = release.startsWith('v') ? release : `v${release}`;
  return { input, api, version, endpoint: hostPort(input.vip, API_SERVER_PORT), caHash };
}

function unique(values: string[]): string[] {
  return [...new Set(values)];
}

/** Documents joined by `---`; block style, no line folding, sequences flush with their key (as kubectl prints). */
function yamlDocuments(docs: object[]): string {
  return docs.map((d) => stringify(d, { version: '1.1', lineWidth: 0, indentSeq: false })).join('---\n');
}

/** What a kubeadm config file holds, as far as the roles check it before sending it to a host. */
export interface KubeadmConfigShape {
  /** `kind` of each document, in order. */
  kinds: string[];
  /** A JoinConfiguration with `controlPlane` set. */
  controlPlaneJoin: boolean;
}

/**
 * Reads the kinds of a kubeadm config (YAML 1.1, as kubeadm does) so a role can refuse a config
 * that does not fit its action before a host runs it. Returns the parse error's message instead.
 */
export function kubeadmConfigShape(text: string): KubeadmConfigShape | { error: string } {
  const kinds: string[] = [];
  let controlPlaneJoin = false;
  for (const doc of parseAllDocuments(text, { version: '1.1' })) {
    const error = doc.errors[0];
    if (error !== undefined) return { error: error.message };
    const value: unknown = doc.toJS();
    if (value === null || typeof value !== 'object' || Array.isArray(value)) return { error: 'a document is not a mapping' };
    const { kind, controlPlane } = value as { kind?: unknown; controlPlane?: unknown };
    if (typeof kind !== 'string') return { error: 'a document has no kind' };
    kinds.push(kind);
    if (kind === 'JoinConfiguration' && controlPlane !== undefined && controlPlane !== null) controlPlaneJoin = true;
  }
  return { kinds, controlPlaneJoin };
}

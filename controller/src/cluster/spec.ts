/**
 * The `cluster.yaml` document (`apiVersion: ballast.dev/v1alpha1`, `kind: Cluster`): its schema with
 * defaults, and parsing with a size bound and every schema problem reported with its path
 * (STYLE.md §10). Cross-field and cross-host rules live in validate.ts; this file only says whether
 * the document is well-formed.
 */
import { readFileSync, statSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { type Static, type TSchema, Type } from '@sinclair/typebox';
import { ValueErrorType } from '@sinclair/typebox/errors';
import { Value } from '@sinclair/typebox/value';
import { parseDocument } from 'yaml';
import { HOST_NAME_PATTERN } from '../../../shared/src/api.js';
import { messageOf } from '../../../shared/src/errors.js';
import { parseLabelSelector } from '../../../shared/src/labels.js';
import { compiledCheck } from '../../../shared/src/schema-check.js';
import { didYouMean } from '../../../shared/src/suggest.js';
import { DEFAULT_CATALOGUE } from '../artifacts/catalogue.js';
import { SnapshotPolicySchema } from './snapshot-spec.js';

export const CLUSTER_API_VERSION = 'ballast.dev/v1alpha1';
export const CLUSTER_KIND = 'Cluster';
/** A cluster document (or inventory) larger than this is refused before it is parsed. */
export const MAX_CLUSTER_DOCUMENT_BYTES = 1024 * 1024;
/** The CNI manifest travels inline in the create request, so it is bounded too. */
export const MAX_CNI_MANIFEST_BYTES = 2 * 1024 * 1024;
export const MAX_CLUSTER_HOSTS = 5000;

/** One thing wrong with a cluster document, with the JSON-pointer path it is about (`/hosts/2/roles/0`). */
export interface ClusterProblem {
  path: string;
  message: string;
}

/** The three host roles; a host may have several (a stacked control plane has `etcd` + `control-plane`). */
export const CLUSTER_ROLES = ['etcd', 'control-plane', 'worker'] as const;
export type ClusterRole = (typeof CLUSTER_ROLES)[number];

const catalogueVersion = (name: string): string => DEFAULT_CATALOGUE.find((a) => a.name === name)?.version ?? '';

/**
 * The versions a document gets when it names none: the built-in catalogue's pins, so that a default
 * cluster needs nothing but `ballastctl artifacts fetch` to have every artifact in the mirror.
 */
export const DEFAULT_VERSIONS = {
  kubernetes: catalogueVersion('kubeadm'),
  etcd: catalogueVersion('etcd'),
  containerd: catalogueVersion('containerd'),
} as const;

// `hint` is our own schema keyword: the human description used instead of typebox's regex message.
const Str = (pattern: string, hint: string, extra: Record<string, unknown> = {}) => Type.String({ pattern, hint, ...extra });
/** The shape of a `key=value` selector; the exact label syntax is checked by parseLabelSelector. */
const SELECTOR_PATTERN = '^[A-Za-z0-9][A-Za-z0-9_./-]*=[A-Za-z0-9_.-]*$';
const Address = Str('^[0-9A-Fa-f.:]{2,45}$', 'an IPv4 or IPv6 address', { maxLength: 45 });
const CidrText = (def: string) => Str('^[0-9A-Fa-f.:]{2,45}/[0-9]{1,3}$', 'a CIDR such as 10.244.0.0/16', { default: def });
const Version = (def: string) =>
  Str('^v?[0-9]+\\.[0-9]+\\.[0-9]+(-[0-9A-Za-z.-]{1,40})?(\\+[0-9A-Za-z.-]{1,40})?$', 'a version such as 1.36.3 or 1.36.3+build.1', { default: def });
const Role = Type.Union(
  CLUSTER_ROLES.map((r) => Type.Literal(r)),
  { hint: 'one of etcd, control-plane, worker' },
);
const Millis = (def: number, min: number) => Type.Integer({ minimum: min, maximum: 60_000, default: def });

/** A host of the cluster: an enrolled host's name, the address the cluster uses for it, its roles. */
export const ClusterHostSchema = Type.Object(
  {
    name: Str(HOST_NAME_PATTERN.source, 'a host name (a-z, 0-9, "." and "-", at most 63 characters)'),
    /** The address etcd peers, the API server and kubelet use; must be on one of the host's interfaces. */
    address: Address,
    roles: Type.Array(Role, { minItems: 1, maxItems: 3, uniqueItems: true }),
  },
  { additionalProperties: false },
);

/** How the VIP holder checks its local API server before claiming (and while holding) the address. */
export const VipHealthSchema = Type.Object(
  {
    kind: Type.Union([Type.Literal('https'), Type.Literal('http'), Type.Literal('tcp')], { default: 'https', hint: 'one of https, http, tcp' }),
    /** Ignored for `tcp`. */
    path: Str('^/[A-Za-z0-9._~/?=&%-]{0,255}$', 'an absolute URL path such as /readyz', { default: '/readyz' }),
    intervalMs: Millis(1000, 100),
    /** Consecutive successes before the local API server counts as up. */
    rise: Type.Integer({ minimum: 1, maximum: 10, default: 2 }),
    /** Consecutive failures before the holder gives the address up. */
    fall: Type.Integer({ minimum: 1, maximum: 10, default: 3 }),
  },
  { additionalProperties: false },
);

/** The API server's virtual address, held by one control-plane host at a time. */
export const VipSchema = Type.Object(
  {
    address: Address,
    /** The interface the address is added to on the holder (IFNAMSIZ: at most 15 characters). */
    interface: Str('^[A-Za-z0-9_.:@-]{1,15}$', 'an interface name such as eth0 (at most 15 characters)'),
    port: Type.Integer({ minimum: 1, maximum: 65535, default: 6443 }),
    health: Type.Optional(VipHealthSchema),
  },
  { additionalProperties: false },
);

/**
 * The CNI manifest. In a file it is a path relative to cluster.yaml; `ballastctl` reads it (bounded
 * by {@link MAX_CNI_MANIFEST_BYTES}) and sends it as `{ inline }`, because the controller must not
 * read operator workstations' paths. The controller accepts only the inline form.
 */
export const CniManifestSchema = Type.Union(
  [
    Str('^[^\\0\\n]{1,1024}$', 'a file path', { maxLength: 1024 }),
    Type.Object({ inline: Type.String({ minLength: 1, maxLength: MAX_CNI_MANIFEST_BYTES }) }, { additionalProperties: false }),
  ],
  { hint: 'a path to the manifest file relative to cluster.yaml' },
);

export const ClusterNetworkSchema = Type.Object(
  {
    podCidr: CidrText('10.244.0.0/16'),
    serviceCidr: CidrText('10.96.0.0/12'),
    dnsDomain: Str('^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$', 'a DNS domain such as cluster.local', {
      maxLength: 253,
      default: 'cluster.local',
    }),
    cniManifest: Type.Optional(CniManifestSchema),
  },
  { additionalProperties: false, default: {} },
);

/**
 * The pinned versions. A version may carry SemVer build metadata (`1.36.3+ballast.standin`): the
 * mirror lookup uses the whole version, so a build of 1.36.3 other than upstream's is another
 * artifact and can never be taken for the catalogue's pinned 1.36.3, while Kubernetes is told the
 * release (`v1.36.3` in kubeadm's `kubernetesVersion`, image tags, version checks): see
 * `releaseVersion` in shared/src/version-compare.ts.
 */
export const ClusterVersionsSchema = Type.Object(
  {
    kubernetes: Version(DEFAULT_VERSIONS.kubernetes),
    etcd: Version(DEFAULT_VERSIONS.etcd),
    containerd: Version(DEFAULT_VERSIONS.containerd),
  },
  { additionalProperties: false, default: {} },
);

/**
 * How workers are rolled: `workerBatch` hosts (or that percentage of the workers, rounded up, at
 * least one) at a time. Control-plane and etcd hosts always go one at a time. The default 20% is
 * kubespray's default `serial` for upgrades.
 */
export const ClusterRolloutSchema = Type.Object(
  {
    workerBatch: Type.Union([Type.Integer({ minimum: 1, maximum: MAX_CLUSTER_HOSTS }), Str('^(100|[1-9][0-9]?)%$', 'a percentage such as 20%')], {
      default: '20%',
      hint: 'a number of hosts (1 or more) or a percentage such as 20%',
    }),
    /** Failed worker hosts tolerated before the rollout stops; control-plane failures always stop it. */
    maxFailures: Type.Integer({ minimum: 0, maximum: MAX_CLUSTER_HOSTS, default: 0 }),
  },
  { additionalProperties: false, default: {} },
);

/**
 * How kubelet and containerd run on the hosts. The defaults are kubeadm's: the systemd cgroup
 * driver and cgroup v2. Hosts still on cgroup v1, or whose runtime may not lower OOM scores (a
 * container without CAP_SYS_RESOURCE, as the lab's systemd-nspawn hosts), opt out explicitly.
 */
export const ClusterNodeSchema = Type.Object(
  {
    /** kubelet's `cgroupDriver` and containerd's runc `SystemdCgroup`, always set together. */
    cgroupDriver: Type.Union([Type.Literal('systemd'), Type.Literal('cgroupfs')], { default: 'systemd', hint: 'one of systemd, cgroupfs' }),
    /**
     * Kubernetes ≥ 1.35 refuses cgroup v1 hosts unless kubelet's `failCgroupV1` is false; true sets
     * it so and ignores kubeadm's SystemVerification preflight (which refuses cgroup v1), nothing else.
     */
    allowCgroupV1: Type.Boolean({ default: false }),
    /** containerd's `restrict_oom_score_adj`: never set a container's OOM score below containerd's own. */
    restrictOomScoreAdj: Type.Boolean({ default: false }),
  },
  { additionalProperties: false, default: {} },
);

/** kubeadm's add-ons. Off skips kubeadm's phase (addon/coredns, addon/kube-proxy), e.g. when a CNI replaces kube-proxy. */
export const ClusterAddonsSchema = Type.Object(
  { coreDns: Type.Boolean({ default: true }), kubeProxy: Type.Boolean({ default: true }) },
  { additionalProperties: false, default: {} },
);

/**
 * Automatic node replacement (issue 12; off unless present): a host unreachable for `after` is
 * replaced by the first available spare, one change at a time, never while more than
 * `maxUnhealthy` of the cluster is down (a partition, not dead hosts). controller/src/membership/auto-policy.ts.
 *
 * The spares are either listed (`spares`, tried in the order given) or a pool (`sparePool: key=value`,
 * every enrolled host with that label, resolved at each tick and tried by name). Exactly one of the
 * two: both optional here, and {@link checkClusterDocument} reports neither or both at `/autoReplace`.
 */
export const AutoReplaceSchema = Type.Object(
  {
    after: Str('^[0-9]+(ms|s|m|h)$', 'a duration such as 5m', { default: '5m' }),
    spares: Type.Optional(Type.Array(Str(HOST_NAME_PATTERN.source, 'a host name'), { minItems: 1, maxItems: 100, uniqueItems: true })),
    /** A label selector `key=value` (shared/src/labels.ts), set on hosts with `ballastctl host label`. */
    sparePool: Type.Optional(Str(SELECTOR_PATTERN, 'a label selector key=value such as pool=spare', { maxLength: 317 })),
    maxConcurrent: Type.Integer({ minimum: 1, maximum: 1, default: 1, hint: '1: one membership change at a time' }),
    minHealthyPeriod: Str('^[0-9]+(ms|s|m|h)$', 'a duration such as 1h', { default: '1h' }),
    maxUnhealthy: Str('^(100|[1-9]?[0-9])%$', 'a percentage such as 40%', { default: '40%' }),
  },
  { additionalProperties: false },
);

/** The whole document. */
export const ClusterSpecSchema = Type.Object(
  {
    apiVersion: Type.Literal(CLUSTER_API_VERSION, { hint: CLUSTER_API_VERSION }),
    kind: Type.Literal(CLUSTER_KIND, { hint: CLUSTER_KIND }),
    name: Str('^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$', 'a DNS label (a-z, 0-9 and "-", at most 63 characters)'),
    versions: ClusterVersionsSchema,
    vip: VipSchema,
    network: ClusterNetworkSchema,
    node: ClusterNodeSchema,
    addons: ClusterAddonsSchema,
    hosts: Type.Array(ClusterHostSchema, { minItems: 1, maxItems: MAX_CLUSTER_HOSTS }),
    rollout: ClusterRolloutSchema,
    autoReplace: Type.Optional(AutoReplaceSchema),
    /** etcd snapshots, retention and restore drills (issue 13): snapshot-spec.ts. */
    snapshots: Type.Optional(SnapshotPolicySchema),
  },
  { additionalProperties: false },
);

export type ClusterSpec = Static<typeof ClusterSpecSchema>;
export type ClusterHost = Static<typeof ClusterHostSchema>;
export type VipHealth = Static<typeof VipHealthSchema>;

/** A parse or check outcome: the document with defaults applied, or every problem found. */
export type ClusterParseResult = { ok: true; spec: ClusterSpec } | { ok: false; problems: ClusterProblem[] };

/**
 * Applies defaults to a copy of `value` and checks it against {@link ClusterSpecSchema}. Every
 * violation is reported, one per path (a failed union reports once, not once per branch).
 */
export function checkClusterDocument(value: unknown): ClusterParseResult {
  if (!isMapping(value)) return { ok: false, problems: [{ path: '/', message: 'must be a mapping (apiVersion, kind, name, …)' }] };
  const defaulted: unknown = Value.Default(ClusterSpecSchema, Value.Clone(value));
  const check = compiledCheck(ClusterSpecSchema);
  if (check.Check(defaulted)) {
    const problems = crossFieldProblems(defaulted);
    return problems.length === 0 ? { ok: true, spec: defaulted } : { ok: false, problems };
  }
  const problems: ClusterProblem[] = [];
  const seen = new Set<string>();
  for (const error of check.Errors(defaulted)) {
    const path = error.path === '' ? '/' : error.path;
    // typebox can report one path twice (e.g. pattern and maxLength); one line per path is enough.
    if (seen.has(path)) continue;
    seen.add(path);
    problems.push({ path, message: schemaMessage(error.type, error.schema, error.message, path) });
  }
  return { ok: false, problems };
}

/** Rules one schema cannot say clearly: `autoReplace` takes exactly one of `spares` and `sparePool`. */
function crossFieldProblems(spec: ClusterSpec): ClusterProblem[] {
  const a = spec.autoReplace;
  if (a === undefined) return [];
  if (a.spares !== undefined && a.sparePool !== undefined) {
    return [{ path: '/autoReplace', message: 'gives both spares and sparePool: list the spare hosts (spares: [host, …]) or name a label pool (sparePool: key=value), not both' }];
  }
  if (a.spares === undefined && a.sparePool === undefined) {
    return [{ path: '/autoReplace', message: 'needs spares: [host, …] (listed spare hosts) or sparePool: key=value (hosts labelled with ballastctl host label)' }];
  }
  if (a.sparePool !== undefined && parseLabelSelector(a.sparePool) === null) {
    return [{ path: '/autoReplace/sparePool', message: 'must be a label selector key=value such as pool=spare (Kubernetes label syntax)' }];
  }
  return [];
}

function schemaMessage(type: ValueErrorType, schema: TSchema, fallback: string, path: string): string {
  const hint = typeof schema.hint === 'string' ? schema.hint : null;
  switch (type) {
    case ValueErrorType.ObjectAdditionalProperties: {
      // The path ends with the unknown key; the object schema lists the known ones.
      const key = path.split('/').pop() ?? '';
      const known = typeof schema.properties === 'object' && schema.properties !== null ? Object.keys(schema.properties) : [];
      return `unknown key${didYouMean(key, known)}`;
    }
    case ValueErrorType.ObjectRequiredProperty:
      return hint === null ? 'is required' : `is required: ${hint}`;
    case ValueErrorType.StringPattern:
    case ValueErrorType.Union:
    case ValueErrorType.Literal:
      return hint === null ? fallback.toLowerCase() : `must be ${hint}`;
    case ValueErrorType.ArrayUniqueItems:
      return 'lists a value twice';
    default:
      return fallback.toLowerCase();
  }
}

/**
 * Parses YAML text bounded to `maxBytes`. Duplicate keys are an error (the `yaml` package's default
 * `uniqueKeys`), and alias expansion is capped by its `maxAliasCount` (no billion laughs).
 */
export function parseBoundedYaml(text: string, maxBytes = MAX_CLUSTER_DOCUMENT_BYTES): { ok: true; value: unknown } | { ok: false; problems: ClusterProblem[] } {
  const bytes = Buffer.byteLength(text);
  if (bytes > maxBytes) return { ok: false, problems: [{ path: '/', message: `is ${bytes} bytes, over the ${maxBytes}-byte limit` }] };
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) {
    return { ok: false, problems: doc.errors.map((e) => ({ path: '/', message: `is not valid YAML: ${e.message.split('\n')[0] ?? e.code}` })) };
  }
  try {
    return { ok: true, value: doc.toJS({ maxAliasCount: 100 }) };
  } catch (err) {
    return { ok: false, problems: [{ path: '/', message: `is not valid YAML: ${messageOf(err)}` }] };
  }
}

/** Parses and checks `cluster.yaml` text. */
export function parseClusterYaml(text: string): ClusterParseResult {
  const parsed = parseBoundedYaml(text);
  return parsed.ok ? checkClusterDocument(parsed.value) : parsed;
}

/** Reads files for {@link inlineCniManifest}; node's fs in production, a map in tests. */
export interface ManifestReader {
  /** Size in bytes, or null when there is no such file. */
  size(path: string): number | null;
  read(path: string): string;
}

/** A {@link ManifestReader} over the local filesystem. */
export const fsManifestReader: ManifestReader = {
  size(path) {
    try {
      const st = statSync(path);
      return st.isFile() ? st.size : null;
    } catch {
      // Any failure to stat (ENOENT, EACCES, ENOTDIR) is reported as "cannot read" by the caller.
      return null;
    }
  },
  read: (path) => readFileSync(path, 'utf8'),
};

/**
 * Replaces a `cniManifest` path (relative to the cluster file's directory) with its content inline,
 * the form the controller accepts. A missing, unreadable or oversized file is a problem at
 * `/network/cniManifest`; the spec is returned unchanged then.
 */
export function inlineCniManifest(
  spec: ClusterSpec,
  options: { clusterFile: string; reader?: ManifestReader },
): { spec: ClusterSpec; problems: ClusterProblem[] } {
  const manifest = spec.network.cniManifest;
  if (manifest === undefined || typeof manifest !== 'string') return { spec, problems: [] };
  const reader = options.reader ?? fsManifestReader;
  const path = isAbsolute(manifest) ? manifest : resolve(dirname(options.clusterFile), manifest);
  const problem = (message: string) => ({ spec, problems: [{ path: '/network/cniManifest', message }] });
  const size = reader.size(path);
  if (size === null) return problem(`cannot read ${path}: no such file`);
  if (size > MAX_CNI_MANIFEST_BYTES) return problem(`${path} is ${size} bytes, over the ${MAX_CNI_MANIFEST_BYTES}-byte limit`);
  if (size === 0) return problem(`${path} is empty`);
  let inline: string;
  try {
    inline = reader.read(path);
  } catch (err) {
    return problem(`cannot read ${path}: ${messageOf(err)}`);
  }
  return { spec: { ...spec, network: { ...spec.network, cniManifest: { inline } } }, problems: [] };
}

function isMapping(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * The controller's port to a cluster's Kubernetes API ({@link KubeApi}), implemented with
 * @kubernetes/client-node over mTLS with the admin client certificate the controller holds (signed
 * by the cluster's Kubernetes CA). Everything is in memory: no kubeconfig file is written.
 *
 * Every call has a deadline (an AbortSignal set on each request by a middleware, so discovery
 * requests client-node makes on its own are bounded too). Errors are KubeApiError (errors.ts).
 */
import { request as httpsRequest, type RequestOptions } from 'node:https';
import { type Static, Type } from '@sinclair/typebox';
import {
  ApiException,
  CoreV1Api,
  createConfiguration,
  KubeConfig,
  type KubernetesObject,
  KubernetesObjectApi,
  PatchStrategy,
  type RequestContext,
  type ResponseContext,
  ServerConfiguration,
} from '@kubernetes/client-node';
import { compiledCheck } from '../../../shared/src/schema-check.js';
import { KubeApiError, httpStatusOf, toKubeError } from './errors.js';
import { type ManifestObject, parseManifest } from './manifest.js';

/** One Node as the bootstrap gates on it. */
export interface NodeSummary {
  name: string;
  /** The `Ready` condition is `True`. */
  ready: boolean;
  /** From `node-role.kubernetes.io/<role>` labels, sorted. */
  roles: string[];
  /**
   * When not ready: since when (ms) — its `Ready` condition's lastTransitionTime, or the Node's
   * creation when kubelet never posted one; null when ready.
   */
  notReadySince: number | null;
}

/** What applying one object did. */
export interface ApplyResult {
  apiVersion: string;
  kind: string;
  namespace?: string;
  name: string;
  action: 'created' | 'unchanged' | 'updated';
}

/** Per-call options: the deadline of the whole call. */
export interface CallOptions {
  timeoutMs?: number;
}

/** The Kubernetes API as the bootstrap and later operations need it (a port: faked in unit tests). */
export interface KubeApi {
  /** GET /readyz?verbose: ok on 200; `body` lists the checks (a 500 names the failed ones). */
  readyz(options?: CallOptions): Promise<{ ok: boolean; body: string }>;
  nodes(options?: CallOptions): Promise<NodeSummary[]>;
  /**
   * Applies a multi-document manifest in order: read each object (404: `created`), then
   * server-side apply it (field manager `ballast`, forcing conflicts: these objects are ours);
   * an existing object is `unchanged` when its resourceVersion did not move, else `updated`.
   */
  apply(manifestYaml: string, options?: CallOptions): Promise<ApplyResult[]>;
}

const Pem = (label: string) => Type.String({ pattern: `^-----BEGIN ${label}-----`, maxLength: 64 * 1024 });

/** What {@link createKubeApi} needs; validated, since it comes from the store and the cluster spec. */
export const KubeApiOptionsSchema = Type.Object(
  {
    /** `https://<vip>:6443`. */
    server: Type.String({ pattern: '^https://[^\\s/]+(:[0-9]{1,5})?$', maxLength: 300 }),
    caPem: Pem('CERTIFICATE'),
    certPem: Pem('CERTIFICATE'),
    keyPem: Pem('[A-Z ]*PRIVATE KEY'),
    /** Default deadlines: readyz 5 s, nodes 15 s, apply 120 s. */
    timeoutMs: Type.Optional(Type.Object({ readyz: Type.Optional(Type.Integer({ minimum: 100 })), nodes: Type.Optional(Type.Integer({ minimum: 100 })), apply: Type.Optional(Type.Integer({ minimum: 100 })) })),
    fieldManager: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9._:-]{1,128}$' })),
  },
  { additionalProperties: false },
);
/** Options of {@link createKubeApi}. */
export type KubeApiOptions = Static<typeof KubeApiOptionsSchema>;

const DEFAULT_TIMEOUTS = { readyz: 5_000, nodes: 15_000, apply: 120_000 };
const MAX_READYZ_BODY = 64 * 1024;
const NODE_PAGE = 500;
const ROLE_LABEL = 'node-role.kubernetes.io/';

/**
 * The in-memory client-node KubeConfig of `options` (the server, its CA, the admin client
 * certificate; TLS always verified), after checking them: throws BALLAST_ERR_VALIDATION listing
 * every bad option, with the first one's path. Shared by {@link createKubeApi} and node-ops.ts.
 */
export function kubeConfigOf(options: KubeApiOptions): KubeConfig {
  const errors = [...compiledCheck(KubeApiOptionsSchema).Errors(options)].map((e) => `${e.path}: ${e.message.toLowerCase()}`);
  if (errors.length > 0) throw new KubeApiError('BALLAST_ERR_VALIDATION', `failed to configure the Kubernetes client: ${errors.join('; ')}`, { path: errors[0]?.split(':')[0] ?? '/' });
  const b64 = (s: string) => Buffer.from(s).toString('base64');
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'cluster', server: options.server, caData: b64(options.caPem), skipTLSVerify: false }],
    users: [{ name: 'ballast-admin', certData: b64(options.certPem), keyData: b64(options.keyPem) }],
    contexts: [{ name: 'ballast', cluster: 'cluster', user: 'ballast-admin' }],
    currentContext: 'ballast',
  });
  return kc;
}

/** Builds the client; throws BALLAST_ERR_VALIDATION listing every bad option. */
export function createKubeApi(options: KubeApiOptions): KubeApi {
  const kc = kubeConfigOf(options);
  const timeouts = { ...DEFAULT_TIMEOUTS, ...options.timeoutMs };
  const fieldManager = options.fieldManager ?? 'ballast';

  /** A client-node configuration whose every request carries `signal`. */
  const configuration = (signal: AbortSignal) =>
    createConfiguration({
      baseServer: new ServerConfiguration(options.server, {}),
      authMethods: { default: kc },
      promiseMiddleware: [
        {
          pre: async (ctx: RequestContext) => {
            ctx.setSignal(signal);
            return ctx;
          },
          post: async (ctx: ResponseContext) => ctx,
        },
      ],
    });

  return {
    async readyz(call = {}) {
      const timeoutMs = call.timeoutMs ?? timeouts.readyz;
      try {
        const { status, body } = await rawGet(kc, `${options.server}/readyz?verbose`, AbortSignal.timeout(timeoutMs));
        // 401/403 are not "not ready": the caller's credentials are wrong, and waiting will not help.
        if (status === 401 || status === 403) {
          throw new ApiException(status, 'readyz', body, {});
        }
        return { ok: status === 200, body };
      } catch (err) {
        throw toKubeError(err, 'read /readyz', timeoutMs);
      }
    },

    async nodes(call = {}) {
      const timeoutMs = call.timeoutMs ?? timeouts.nodes;
      const api = new CoreV1Api(configuration(AbortSignal.timeout(timeoutMs)));
      const out: NodeSummary[] = [];
      let next: string | undefined;
      try {
        do {
          const page = await api.listNode({ limit: NODE_PAGE, ...(next === undefined ? {} : { _continue: next }) });
          for (const node of page.items) {
            const labels = node.metadata?.labels ?? {};
            const cond = node.status?.conditions?.find((c) => c.type === 'Ready');
            const ready = cond?.status === 'True';
            const since = cond?.lastTransitionTime ?? node.metadata?.creationTimestamp;
            out.push({
              name: node.metadata?.name ?? '',
              ready,
              notReadySince: ready ? null : since === undefined ? null : new Date(since).getTime(),
              roles: Object.keys(labels)
                .filter((l) => l.startsWith(ROLE_LABEL) && l.length > ROLE_LABEL.length)
                .map((l) => l.slice(ROLE_LABEL.length))
                .sort(),
            });
          }
          next = page.metadata?._continue || undefined;
        } while (next !== undefined);
      } catch (err) {
        throw toKubeError(err, 'list nodes', timeoutMs);
      }
      return out;
    },

    async apply(manifestYaml, call = {}) {
      const timeoutMs = call.timeoutMs ?? timeouts.apply;
      const objects = parseManifest(manifestYaml);
      // One client per call: its discovery cache lives as long as this apply, and the deadline covers it all.
      const api = new KubernetesObjectApi(configuration(AbortSignal.timeout(timeoutMs)));
      const results: ApplyResult[] = [];
      for (const object of objects) results.push(await applyOne(api, object, { fieldManager, timeoutMs }));
      return results;
    },
  };
}

/** Read, then create or server-side apply, one object. */
async function applyOne(api: KubernetesObjectApi, object: ManifestObject, o: { fieldManager: string; timeoutMs: number }): Promise<ApplyResult> {
  const { apiVersion, kind } = object;
  const { name, namespace } = object.metadata;
  const id = `${kind} ${namespace === undefined ? '' : `${namespace}/`}${name}`;
  const result = (action: ApplyResult['action']): ApplyResult => ({ apiVersion, kind, ...(namespace === undefined ? {} : { namespace }), name, action });
  // client-node fills in defaults (namespace, apiVersion) on the spec it is given: hand it copies.
  const spec = () => structuredClone(object) as KubernetesObject;
  let live: KubernetesObject | undefined;
  try {
    live = await api.read({ apiVersion, kind, metadata: { name, ...(namespace === undefined ? {} : { namespace }) } });
  } catch (err) {
    if (httpStatusOf(err) !== 404) throw toKubeError(err, `read ${id}`, o.timeoutMs);
  }
  try {
    // Created by server-side apply too (as `kubectl apply --server-side` does), not POST: a POST
    // records our manager as an `Update`, and the first apply after it would add an `Apply` entry to
    // managedFields, a real change that moves the resourceVersion and would read as "updated".
    const applied = await api.patch(spec(), undefined, undefined, o.fieldManager, true, PatchStrategy.ServerSideApply);
    if (live === undefined) return result('created');
    return result(applied.metadata?.resourceVersion === live.metadata?.resourceVersion ? 'unchanged' : 'updated');
  } catch (err) {
    throw toKubeError(err, `${live === undefined ? 'create' : 'apply'} ${id}`, o.timeoutMs);
  }
}

/**
 * GET with the kubeconfig's TLS material (client-node's Health check keeps only a boolean, and the
 * body names the failing checks). The body is cut at 64 KiB.
 */
async function rawGet(kc: KubeConfig, url: string, signal: AbortSignal): Promise<{ status: number; body: string }> {
  const opts: RequestOptions = { method: 'GET', headers: { accept: 'text/plain, */*' } };
  await kc.applyToHTTPSOptions(opts);
  return new Promise((resolve, reject) => {
    const req = httpsRequest(url, { ...opts, signal }, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        if (size < MAX_READYZ_BODY) chunks.push(chunk.subarray(0, MAX_READYZ_BODY - size));
        size += chunk.length;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

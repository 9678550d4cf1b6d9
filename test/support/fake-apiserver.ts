/**
 * A fake kube-apiserver for tests. It stands in for the real one because kube-apiserver (like
 * kubelet and kubeadm) cannot be installed or run on the machines these tests run on. It is meant
 * to be faithful where Ballast's client depends on behaviour, and says plainly where it is not.
 * Three files, one concern each: this one is the HTTP side (routing, discovery, health, the test
 * API), fake-apiserver-store.ts the objects, fake-apiserver-auth.ts who may do what;
 * fake-apiserver-main.ts runs it as a process (the lab tests).
 *
 * Faithful:
 * - HTTPS with client-certificate authentication: a request without a certificate signed by the
 *   fake's CA gets 401 with an `Unauthorized` Status (kube-apiserver with --anonymous-auth=false;
 *   with a bad certificate the real one also answers 401). Bootstrap tokens as bearer tokens, and
 *   kube-public/cluster-info for kubeadm's discovery: see fake-apiserver-auth.ts.
 * - /readyz, /livez, /healthz (plain text, 500 with the failed checks when not ready), /version.
 * - Discovery as client-node's KubernetesObjectApi reads it: /api, /api/v1, /apis,
 *   /apis/<group>, /apis/<group>/<version>, with subresources listed after their resource.
 * - Namespace, ServiceAccount, ConfigMap, DaemonSet, ClusterRole, ClusterRoleBinding and Node:
 *   GET (one and list, with limit/continue), POST, PUT, PATCH, and the `status` subresource
 *   (GET, PUT, PATCH of `.status` only); server-set uid, resourceVersion (one counter, like etcd's
 *   revision), creationTimestamp and generation; the four namespaces a cluster starts with; 404 for
 *   a missing namespace; Status objects with kube-apiserver's reasons and messages (NotFound,
 *   AlreadyExists, Conflict, BadRequest, Invalid, UnsupportedMediaType, RequestEntityTooLarge,
 *   MethodNotAllowed, Unauthorized, Forbidden); a no-op write keeps the resourceVersion.
 *
 * Simplified (documented so nobody relies on it):
 * - No authorization (RBAC) for certificate users: every one may do everything.
 * - Strategic merge patch is applied as a JSON merge patch (lists replaced, not merged by key).
 * - Server-side apply merges the applied object into the live one (maps recursively, lists
 *   replaced) and requires `fieldManager`. managedFields record each manager and operation but
 *   not the fields it owns, so a field dropped from a later apply is not removed. JSON patch
 *   answers 415.
 * - No watch, no admission, no schema validation beyond names and kinds. DELETE removes at once
 *   (no finalizers, no graceful termination). Pods, PodDisruptionBudgets and the Eviction
 *   subresource: see fake-apiserver-evictions.ts; `fieldSelector=spec.nodeName=` is the only selector.
 * - cluster-info (when configured) exists from the start, with no JWS signatures: kubeadm init
 *   creates it in a real cluster, and the kubeadm stand-in checks only the CA pin.
 *
 * Test API: {@link FakeApiServer.setReady}, `addNode`, `setNodeReady`, `object`, `dump`, and
 * `requests` (a log of every request with the authenticated user and the status answered).
 */
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parse as parseYaml, stringify } from 'yaml';
import { authenticate, authorize, checkBootstrapToken, type RequestAttributes } from './fake-apiserver-auth.js';
import { FakeStore, GROUPS, groupVersion, isObj, type Obj, RESOURCES, type Resource, readyCondition, StatusError, VERBS } from './fake-apiserver-store.js';

/** One logged request. */
export interface LoggedRequest {
  method: string;
  path: string;
  query: string;
  contentType: string | undefined;
  /** The client certificate's CN, or `system:bootstrap:<id>` for a bootstrap token; null when unauthenticated. */
  user: string | null;
  status: number;
}

/** What a test can do with the fake. */
export interface FakeApiServer {
  /** `https://<listen host>:<port>`. */
  url: string;
  requests: LoggedRequest[];
  /** Not ready: /readyz answers 500 naming `failing` checks (default `etcd`). */
  setReady(ready: boolean, failing?: string[]): void;
  addNode(name: string, options: { ready: boolean; roles?: string[]; address?: string }): void;
  setNodeReady(name: string, ready: boolean): void;
  /** A stored object, e.g. `object('apps', 'daemonsets', 'kube-flannel', 'kube-flannel-ds')`; namespace '' when cluster-scoped. */
  object(group: string, plural: string, namespace: string, name: string): Record<string, unknown> | undefined;
  /** Every stored object, sorted by group/plural/namespace/name. */
  dump(): Record<string, unknown>[];
  close(): Promise<void>;
}

/** What the fake needs: the CA that signs client certificates, and its own serving pair. */
export interface FakeApiServerOptions {
  clientCaPem: string;
  serving: { certPem: string; keyPem: string };
  gitVersion?: string;
  /** Default 127.0.0.1, port 0 (any free port). */
  listen?: { host: string; port: number };
  /** Tokens accepted as `Authorization: Bearer` (see fake-apiserver-auth.ts). */
  bootstrapTokens?: string[];
  /**
   * Serves kube-public/cluster-info (anonymously readable) with a kubeconfig naming `server` and
   * carrying `caPem`, as kubeadm init publishes it for token discovery.
   */
  clusterInfo?: { server: string; caPem: string };
  /** Called after every answered request (the process logs them). */
  onRequest?: (request: LoggedRequest) => void;
}

/** kube-apiserver's default request body limit (3 MiB). */
const MAX_BODY_BYTES = 3 * 1024 * 1024;
const READYZ_CHECKS = ['ping', 'log', 'etcd', 'etcd-readiness', 'informer-sync', 'poststarthook/start-apiserver-admission-initializer', 'shutdown'];
const HEALTH = new Set(['/readyz', '/livez', '/healthz']);

function discovery(path: string): Obj | undefined {
  if (path === '/api') return { kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress: '127.0.0.1:6443' }] };
  const groupEntry = (g: string) => ({ name: g, versions: [{ groupVersion: `${g}/v1`, version: 'v1' }], preferredVersion: { groupVersion: `${g}/v1`, version: 'v1' } });
  if (path === '/apis') return { kind: 'APIGroupList', apiVersion: 'v1', groups: GROUPS.map(groupEntry) };
  for (const g of GROUPS) if (path === `/apis/${g}`) return { kind: 'APIGroup', apiVersion: 'v1', ...groupEntry(g) };
  const gv = path === '/api/v1' ? 'v1' : path.startsWith('/apis/') ? path.slice(6) : undefined;
  const members = RESOURCES.filter((r) => groupVersion(r) === gv);
  if (gv === undefined || members.length === 0) return undefined;
  const resources = members.flatMap((r) => [
    { name: r.plural, singularName: r.singular, namespaced: r.namespaced, kind: r.kind, verbs: VERBS, ...(r.shortNames ? { shortNames: r.shortNames } : {}) },
    ...(r.subresources ?? []).map((s) => ({ name: `${r.plural}/${s}`, singularName: '', namespaced: r.namespaced, kind: r.kind, verbs: ['get', 'patch', 'update'] })),
  ]);
  return { kind: 'APIResourceList', apiVersion: 'v1', groupVersion: gv, resources };
}

/** Resolves `/api/v1/...` and `/apis/<g>/<v>/...` to a resource, namespace, name and subresource. */
function resolve(path: string): { r: Resource; ns?: string; name?: string; subresource?: string } | undefined {
  const parts = path.split('/').filter((p) => p !== '').map(decodeURIComponent);
  const [gv, rest] = parts[0] === 'api' ? [{ group: '', version: parts[1] }, parts.slice(2)] : [{ group: parts[1], version: parts[2] }, parts.slice(3)];
  const find = (plural: string | undefined) => RESOURCES.find((r) => r.group === gv.group && r.version === gv.version && r.plural === plural);
  if (rest[0] === 'namespaces' && rest.length >= 3) {
    const r = find(rest[2]);
    return r?.namespaced && rest.length <= 5 ? { r, ns: rest[1], name: rest[3], subresource: rest[4] } : undefined;
  }
  const r = find(rest[0]);
  return r !== undefined && rest.length <= 3 ? { r, name: rest[1], subresource: rest[2] } : undefined;
}

/** The authorizer's verb for a request on a resource. */
function verbOf(method: string, named: boolean): string {
  if (method === 'GET') return named ? 'get' : 'list';
  return ({ POST: 'create', PUT: 'update', PATCH: 'patch', DELETE: 'delete' } as Record<string, string>)[method] ?? method.toLowerCase();
}

/** Reads and parses a JSON/YAML body (apply patches are YAML), refusing more than kube-apiserver would. */
async function readBody(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) throw new StatusError(413, 'RequestEntityTooLarge', 'Request entity too large: limit is 3145728');
    chunks.push(chunk as Buffer);
  }
  try {
    return parseYaml(Buffer.concat(chunks).toString('utf8'));
  } catch (err) {
    throw new StatusError(400, 'BadRequest', `the body of the request could not be decoded: ${String(err)}`);
  }
}

/** The cluster-info ConfigMap kubeadm init publishes in kube-public. */
function clusterInfoConfigMap(info: { server: string; caPem: string }): Obj {
  const kubeconfig = stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: '', cluster: { 'certificate-authority-data': Buffer.from(info.caPem).toString('base64'), server: info.server } }],
    contexts: null,
    'current-context': '',
    preferences: {},
    users: null,
  });
  return { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'cluster-info', namespace: 'kube-public' }, data: { kubeconfig } };
}

/** Starts the fake (default 127.0.0.1, port 0). */
export async function startFakeApiServer(options: FakeApiServerOptions): Promise<FakeApiServer> {
  const store = new FakeStore();
  const requests: LoggedRequest[] = [];
  let ready = true;
  let failing = ['etcd'];
  for (const token of options.bootstrapTokens ?? []) checkBootstrapToken(token);
  const tokens = new Set(options.bootstrapTokens ?? []);
  if (options.clusterInfo !== undefined) {
    const cm = RESOURCES.find((r) => r.kind === 'ConfigMap') as Resource;
    store.insert(cm, 'kube-public', clusterInfoConfigMap(options.clusterInfo), { name: 'kubeadm', operation: 'Update' });
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'https://fake');
    const method = req.method ?? 'GET';
    const entry: LoggedRequest = { method, path: url.pathname, query: url.search, contentType: req.headers['content-type'], user: null, status: 0 };
    requests.push(entry);
    const send = (status: number, body: Obj | string) => {
      entry.status = status;
      const text = typeof body === 'string' ? body : JSON.stringify(body);
      res.writeHead(status, { 'content-type': typeof body === 'string' ? 'text/plain; charset=utf-8' : 'application/json', 'content-length': Buffer.byteLength(text) });
      res.end(text);
      options.onRequest?.(entry);
    };
    try {
      const who = authenticate(req, tokens);
      entry.user = who?.user ?? null;
      const path = url.pathname;
      const target = HEALTH.has(path) || path === '/version' || discovery(path) !== undefined ? undefined : resolve(path);
      const attributes: RequestAttributes =
        target === undefined
          ? { kind: 'nonResource', verb: method.toLowerCase(), path }
          : { kind: 'resource', verb: verbOf(method, target.name !== undefined), r: target.r, namespace: target.ns, name: target.name, subresource: target.subresource };
      authorize(who, attributes, { anonymousClusterInfo: options.clusterInfo !== undefined });
      if (HEALTH.has(path)) {
        const verbose = url.searchParams.has('verbose');
        const ok = ready || path !== '/readyz';
        const lines = READYZ_CHECKS.map((c) => (ok || !failing.includes(c) ? `[+]${c} ok` : `[-]${c} failed: reason withheld`));
        if (ok) return send(200, verbose ? `${lines.join('\n')}\n${path.slice(1)} check passed\n` : 'ok');
        return send(500, `${lines.join('\n')}\n${path.slice(1)} check failed\n`);
      }
      if (path === '/version') {
        const gitVersion = options.gitVersion ?? 'v1.36.3';
        const [major, minor] = gitVersion.slice(1).split('.');
        return send(200, { major, minor, gitVersion, gitCommit: '0'.repeat(40), gitTreeState: 'clean', buildDate: '2024-10-22T20:28:14Z', goVersion: 'go1.22.8', compiler: 'gc', platform: 'linux/amd64' });
      }
      if (method === 'GET') {
        const d = discovery(path);
        if (d !== undefined) return send(200, d);
      }
      if (target === undefined) throw new StatusError(404, 'NotFound', 'the server could not find the requested resource');
      const contentType = (req.headers['content-type'] ?? '').split(';')[0]?.trim() ?? '';
      const [status, body] = await store.handle({ method, ...target, query: url.searchParams, contentType, body: () => readBody(req) });
      return send(status, body);
    } catch (err) {
      if (!(err instanceof StatusError)) throw err;
      return send(err.code, { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: err.message, reason: err.reason, ...(err.details ? { details: err.details } : {}), code: err.code });
    }
  }

  const server: Server = createServer(
    { cert: options.serving.certPem, key: options.serving.keyPem, ca: [options.clientCaPem], requestCert: true, rejectUnauthorized: false },
    (req, res) => {
      handle(req, res).catch((err: unknown) => {
        res.writeHead(500, { 'content-type': 'text/plain' });
        res.end(`fake apiserver bug: ${String(err)}`);
      });
    },
  );
  const listen = options.listen ?? { host: '127.0.0.1', port: 0 };
  await new Promise<void>((done, fail) => {
    server.once('error', fail);
    server.listen(listen.port, listen.host, () => {
      server.off('error', fail);
      done();
    });
  });
  const { port } = server.address() as AddressInfo;

  const nodeObject = (name: string, readyNow: boolean, roles: string[], address: string): Obj => ({
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name, labels: { 'kubernetes.io/hostname': name, 'kubernetes.io/os': 'linux', ...Object.fromEntries(roles.map((r) => [`node-role.kubernetes.io/${r}`, ''])) } },
    spec: {},
    status: { addresses: [{ type: 'InternalIP', address }, { type: 'Hostname', address: name }], conditions: [readyCondition(readyNow)] },
  });

  return {
    url: `https://${listen.host.includes(':') ? `[${listen.host}]` : listen.host}:${port}`,
    requests,
    setReady(value, failingChecks = ['etcd']) {
      ready = value;
      failing = failingChecks;
    },
    addNode(name, { ready: readyNow, roles = [], address = '127.0.0.1' }) {
      store.insert(store.nodeResource, '', nodeObject(name, readyNow, roles, address), { name: 'kubelet', operation: 'Update' });
    },
    setNodeReady(name, readyNow) {
      const live = store.get('', 'nodes', '', name);
      if (live === undefined) throw new Error(`no node ${name}`);
      const status = isObj(live.status) ? live.status : {};
      store.update(store.nodeResource, '', live, { ...live, status: { ...status, conditions: [readyCondition(readyNow)] } }, { name: 'kubelet', operation: 'Update' });
    },
    object: (group, plural, namespace, name) => store.get(group, plural, namespace, name),
    dump: () => store.all(),
    close: () =>
      new Promise<void>((done) => {
        server.closeAllConnections();
        server.close(() => done());
      }),
  };
}

/**
 * A fake kube-apiserver for tests. It stands in for the real one because kube-apiserver (like
 * kubelet and kubeadm) cannot be installed or run on the machines these tests run on. It is meant
 * to be faithful where Ballast's client depends on behaviour, and says plainly where it is not:
 *
 * Faithful:
 * - HTTPS with client-certificate authentication: a request without a certificate signed by the
 *   fake's CA gets 401 with an `Unauthorized` Status (kube-apiserver with --anonymous-auth=false;
 *   with a bad certificate the real one also answers 401).
 * - /readyz, /livez, /healthz (plain text, 500 with the failed checks when not ready), /version.
 * - Discovery as client-node's KubernetesObjectApi reads it: /api, /api/v1, /apis,
 *   /apis/<group>, /apis/<group>/<version>, with subresources listed after their resource.
 * - Namespace, ServiceAccount, ConfigMap, DaemonSet, ClusterRole, ClusterRoleBinding and Node:
 *   GET (one and list, with limit/continue), POST, PUT, PATCH; server-set uid, resourceVersion
 *   (one counter, like etcd's revision), creationTimestamp and generation; the four namespaces a
 *   cluster starts with; 404 for a missing namespace; Status objects with kube-apiserver's reasons
 *   and messages (NotFound, AlreadyExists, Conflict, BadRequest, Invalid, UnsupportedMediaType,
 *   RequestEntityTooLarge, MethodNotAllowed); a no-op write keeps the resourceVersion.
 *
 * Simplified (documented so nobody relies on it):
 * - No authorization (RBAC): every authenticated user may do everything.
 * - Strategic merge patch is applied as a JSON merge patch (lists replaced, not merged by key).
 * - Server-side apply merges the applied object into the live one (maps recursively, lists
 *   replaced) and requires `fieldManager`. managedFields record each manager and operation but
 *   not the fields it owns, so a field dropped from a later apply is not removed. JSON patch
 *   answers 415.
 * - No watch, no DELETE, no admission, no schema validation beyond names and kinds.
 *
 * Test API: {@link FakeApiServer.setReady}, `addNode`, `setNodeReady`, `object`, and `requests`
 * (a log of every request with the authenticated user and the status answered).
 */
import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { isDeepStrictEqual } from 'node:util';
import { parse as parseYaml } from 'yaml';

/** One logged request. */
export interface LoggedRequest {
  method: string;
  path: string;
  query: string;
  contentType: string | undefined;
  /** The client certificate's CN; null when unauthenticated. */
  user: string | null;
  status: number;
}

/** What a test can do with the fake. */
export interface FakeApiServer {
  /** `https://127.0.0.1:<port>`. */
  url: string;
  requests: LoggedRequest[];
  /** Not ready: /readyz answers 500 naming `failing` checks (default `etcd`). */
  setReady(ready: boolean, failing?: string[]): void;
  addNode(name: string, options: { ready: boolean; roles?: string[]; address?: string }): void;
  setNodeReady(name: string, ready: boolean): void;
  /** A stored object, e.g. `object('apps', 'daemonsets', 'kube-flannel', 'kube-flannel-ds')`; namespace '' when cluster-scoped. */
  object(group: string, plural: string, namespace: string, name: string): Record<string, unknown> | undefined;
  close(): Promise<void>;
}

/** What the fake needs: the CA that signs client certificates, and its own serving pair. */
export interface FakeApiServerOptions {
  clientCaPem: string;
  serving: { certPem: string; keyPem: string };
  gitVersion?: string;
}

interface Resource {
  group: string;
  version: string;
  plural: string;
  singular: string;
  kind: string;
  namespaced: boolean;
  shortNames?: string[];
  /** Subresources discovery lists (never served). */
  subresources?: string[];
}

const VERBS = ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'];
const RESOURCES: Resource[] = [
  { group: '', version: 'v1', plural: 'configmaps', singular: 'configmap', kind: 'ConfigMap', namespaced: true, shortNames: ['cm'] },
  { group: '', version: 'v1', plural: 'namespaces', singular: 'namespace', kind: 'Namespace', namespaced: false, shortNames: ['ns'], subresources: ['finalize', 'status'] },
  { group: '', version: 'v1', plural: 'nodes', singular: 'node', kind: 'Node', namespaced: false, shortNames: ['no'], subresources: ['proxy', 'status'] },
  { group: '', version: 'v1', plural: 'serviceaccounts', singular: 'serviceaccount', kind: 'ServiceAccount', namespaced: true, shortNames: ['sa'], subresources: ['token'] },
  { group: 'apps', version: 'v1', plural: 'daemonsets', singular: 'daemonset', kind: 'DaemonSet', namespaced: true, shortNames: ['ds'], subresources: ['status'] },
  { group: 'rbac.authorization.k8s.io', version: 'v1', plural: 'clusterrolebindings', singular: 'clusterrolebinding', kind: 'ClusterRoleBinding', namespaced: false },
  { group: 'rbac.authorization.k8s.io', version: 'v1', plural: 'clusterroles', singular: 'clusterrole', kind: 'ClusterRole', namespaced: false },
];
const GROUPS = ['apps', 'rbac.authorization.k8s.io'];
/** kube-apiserver's default request body limit (3 MiB). */
const MAX_BODY_BYTES = 3 * 1024 * 1024;
const READYZ_CHECKS = ['ping', 'log', 'etcd', 'etcd-readiness', 'informer-sync', 'poststarthook/start-apiserver-admission-initializer', 'shutdown'];
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

type Obj = Record<string, unknown>;
/** A failed request: the Status to answer with. */
class StatusError extends Error {
  constructor(
    readonly code: number,
    readonly reason: string,
    message: string,
    readonly details?: Obj,
  ) {
    super(message);
  }
}

const groupVersion = (r: { group: string; version: string }) => (r.group === '' ? r.version : `${r.group}/${r.version}`);
/** `daemonsets.apps`, as kube-apiserver names a resource in messages. */
const qualified = (r: Resource) => (r.group === '' ? r.plural : `${r.plural}.${r.group}`);
const now = () => new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const meta = (o: Obj): Obj => (isObj(o.metadata) ? o.metadata : {});

/** RFC 7386 JSON merge patch. */
function mergePatch(target: unknown, patch: unknown): unknown {
  if (!isObj(patch)) return patch;
  const out: Obj = isObj(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

/** A field manager and how it wrote (`Apply` is server-side apply; the rest are `Update`). */
interface Manager {
  name: string;
  operation: 'Apply' | 'Update';
}

/**
 * managedFields with an entry for `manager` added when it has none. kube-apiserver also records
 * which fields each manager owns (fieldsV1); the fake records only who wrote how, which is enough
 * for the effect clients see: the first server-side apply to an object created by POST adds an
 * `Apply` entry, so it changes the object and moves its resourceVersion.
 */
function managedFields(existing: unknown, manager: Manager, apiVersion: string): unknown[] {
  const entries = Array.isArray(existing) ? existing : [];
  const has = entries.some((e) => isObj(e) && e.manager === manager.name && e.operation === manager.operation);
  return has ? entries : [...entries, { manager: manager.name, operation: manager.operation, apiVersion, time: now(), fieldsType: 'FieldsV1' }];
}

/** The fake's server-side apply: maps merged recursively, everything else replaced. */
function applyMerge(live: unknown, applied: unknown): unknown {
  if (!isObj(live) || !isObj(applied)) return applied;
  const out: Obj = { ...live };
  for (const [k, v] of Object.entries(applied)) out[k] = applyMerge(live[k], v);
  return out;
}

/** Starts the fake on 127.0.0.1, port 0. */
export async function startFakeApiServer(options: FakeApiServerOptions): Promise<FakeApiServer> {
  const store = new Map<string, Obj>();
  const requests: LoggedRequest[] = [];
  let revision = 1;
  let ready = true;
  let failing = ['etcd'];
  const keyOf = (r: Resource, ns: string, name: string) => `${r.group}/${r.plural}/${ns}/${name}`;
  const nodeRes = RESOURCES.find((r) => r.kind === 'Node') as Resource;
  const nsRes = RESOURCES.find((r) => r.kind === 'Namespace') as Resource;

  /** Sets the server-owned fields of a new object and stores it. */
  function insert(r: Resource, ns: string, body: Obj, manager: Manager): Obj {
    const m = meta(body);
    const obj: Obj = {
      ...body,
      metadata: {
        ...m,
        ...(r.namespaced ? { namespace: ns } : {}),
        uid: randomUUID(),
        resourceVersion: String(++revision),
        creationTimestamp: now(),
        ...(r.kind === 'DaemonSet' ? { generation: 1 } : {}),
        managedFields: managedFields(undefined, manager, groupVersion(r)),
      },
    };
    if (r.kind === 'Namespace') {
      const md = obj.metadata as Obj;
      md.labels = { ...(isObj(md.labels) ? md.labels : {}), 'kubernetes.io/metadata.name': String(m.name) };
      obj.spec = { finalizers: ['kubernetes'] };
      obj.status = { phase: 'Active' };
    }
    store.set(keyOf(r, ns, String(m.name)), obj);
    return obj;
  }

  /** Stores `next` over `live` keeping server-owned fields; a no-op keeps the resourceVersion. */
  function update(r: Resource, ns: string, live: Obj, next: Obj, manager: Manager): Obj {
    const lm = meta(live);
    const nm = meta(next);
    // An update that omits managedFields keeps them, as kube-apiserver does.
    const fields = managedFields(Array.isArray(nm.managedFields) ? nm.managedFields : lm.managedFields, manager, groupVersion(r));
    const merged: Obj = {
      ...next,
      metadata: { ...nm, uid: lm.uid, creationTimestamp: lm.creationTimestamp, resourceVersion: lm.resourceVersion, ...(r.namespaced ? { namespace: ns } : {}), managedFields: fields },
    };
    if (lm.generation !== undefined) (merged.metadata as Obj).generation = lm.generation;
    if (r.kind === 'Namespace' && merged.status === undefined) merged.status = live.status;
    if (isDeepStrictEqual(merged, live)) return live;
    const md = merged.metadata as Obj;
    if (lm.generation !== undefined && !isDeepStrictEqual(merged.spec, live.spec)) md.generation = Number(lm.generation) + 1;
    md.resourceVersion = String(++revision);
    store.set(keyOf(r, ns, String(lm.name)), merged);
    return merged;
  }

  function notFound(r: Resource, name: string): StatusError {
    return new StatusError(404, 'NotFound', `${qualified(r)} "${name}" not found`, { name, ...(r.group === '' ? {} : { group: r.group }), kind: r.plural });
  }

  function checkBody(r: Resource, body: unknown, ns: string, urlName: string | undefined): Obj {
    if (!isObj(body)) throw new StatusError(400, 'BadRequest', 'the body of the request was in an unknown format');
    if (body.apiVersion !== groupVersion(r) || body.kind !== r.kind) {
      throw new StatusError(400, 'BadRequest', `the API version in the data (${String(body.apiVersion)}) does not match the expected API version (${groupVersion(r)})`);
    }
    const m = meta(body);
    const name = m.name;
    if (typeof name !== 'string' || name === '') throw new StatusError(422, 'Invalid', `${r.kind} "" is invalid: metadata.name: Required value: name or generateName is required`);
    if (!DNS1123_SUBDOMAIN.test(name) || name.length > 253) {
      throw new StatusError(422, 'Invalid', `${r.kind} "${name}" is invalid: metadata.name: Invalid value: "${name}": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.'`);
    }
    if (urlName !== undefined && name !== urlName) throw new StatusError(400, 'BadRequest', `the name of the object (${name}) does not match the name on the URL (${urlName})`);
    if (r.namespaced && m.namespace !== undefined && m.namespace !== ns) {
      throw new StatusError(400, 'BadRequest', 'the namespace of the provided object does not match the namespace sent on the request');
    }
    if (r.namespaced && !store.has(keyOf(nsRes, '', ns))) throw notFound(nsRes, ns);
    return body;
  }

  function list(r: Resource, ns: string | undefined, query: URLSearchParams): Obj {
    const prefix = `${r.group}/${r.plural}/`;
    const all = [...store.entries()]
      .filter(([k, o]) => k.startsWith(prefix) && (ns === undefined || meta(o).namespace === ns))
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([, o]) => o);
    const start = Number(query.get('continue') ?? '0') || 0;
    const limit = Number(query.get('limit') ?? '0') || all.length;
    const items = all.slice(start, start + limit);
    const more = start + limit < all.length;
    return { kind: `${r.kind}List`, apiVersion: groupVersion(r), metadata: { resourceVersion: String(revision), ...(more ? { continue: String(start + limit) } : {}) }, items };
  }

  async function objectRoute(method: string, r: Resource, ns: string | undefined, name: string | undefined, query: URLSearchParams, req: IncomingMessage): Promise<[number, Obj]> {
    const scope = ns ?? '';
    if (name === undefined) {
      if (method === 'GET') return [200, list(r, r.namespaced ? ns : undefined, query)];
      if (method !== 'POST') throw new StatusError(405, 'MethodNotAllowed', `the server does not allow this method on the requested resource`);
      if (r.namespaced && ns === undefined) throw new StatusError(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource');
      const body = checkBody(r, await readBody(req), scope, undefined);
      const bname = String(meta(body).name);
      if (store.has(keyOf(r, scope, bname))) throw new StatusError(409, 'AlreadyExists', `${qualified(r)} "${bname}" already exists`, { name: bname, ...(r.group === '' ? {} : { group: r.group }), kind: r.plural });
      return [201, insert(r, scope, body, { name: query.get('fieldManager') || 'unknown', operation: 'Update' })];
    }
    const live = store.get(keyOf(r, scope, name));
    if (method === 'GET') {
      if (live === undefined) throw notFound(r, name);
      return [200, live];
    }
    if (method === 'PUT') {
      if (live === undefined) throw notFound(r, name);
      const body = checkBody(r, await readBody(req), scope, name);
      const rv = meta(body).resourceVersion;
      if (rv !== undefined && rv !== meta(live).resourceVersion) {
        throw new StatusError(409, 'Conflict', `Operation cannot be fulfilled on ${qualified(r)} "${name}": the object has been modified; please apply your changes to the latest version and try again`, { name, kind: r.plural });
      }
      return [200, update(r, scope, live, body, { name: query.get('fieldManager') || 'unknown', operation: 'Update' })];
    }
    if (method === 'PATCH') {
      const type = (req.headers['content-type'] ?? '').split(';')[0]?.trim();
      const patch = await readBody(req);
      if (type === 'application/apply-patch+yaml') {
        if (!query.get('fieldManager')) throw new StatusError(422, 'Invalid', 'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is required for apply patch');
        const body = checkBody(r, patch, scope, name);
        const manager: Manager = { name: query.get('fieldManager') ?? '', operation: 'Apply' };
        return live === undefined ? [201, insert(r, scope, body, manager)] : [200, update(r, scope, live, applyMerge(live, body) as Obj, manager)];
      }
      if (type !== 'application/merge-patch+json' && type !== 'application/strategic-merge-patch+json') {
        throw new StatusError(415, 'UnsupportedMediaType', `the body of the request was in an unknown format - accepted media types include: application/merge-patch+json, application/strategic-merge-patch+json, application/apply-patch+yaml (json-patch is not implemented by this fake)`);
      }
      if (live === undefined) throw notFound(r, name);
      const next = mergePatch(live, patch);
      return [200, update(r, scope, live, checkBody(r, next, scope, name), { name: query.get('fieldManager') || 'unknown', operation: 'Update' })];
    }
    throw new StatusError(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource');
  }

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

  /** Resolves `/api/v1/...` and `/apis/<g>/<v>/...` to a resource, namespace and name. */
  function resolve(path: string): { r: Resource; ns?: string; name?: string } | undefined {
    const parts = path.split('/').filter((p) => p !== '').map(decodeURIComponent);
    const [gv, rest] = parts[0] === 'api' ? [{ group: '', version: parts[1] }, parts.slice(2)] : [{ group: parts[1], version: parts[2] }, parts.slice(3)];
    const find = (plural: string | undefined) => RESOURCES.find((r) => r.group === gv.group && r.version === gv.version && r.plural === plural);
    if (rest[0] === 'namespaces' && rest.length >= 3) {
      const r = find(rest[2]);
      return r?.namespaced && rest.length <= 4 ? { r, ns: rest[1], name: rest[3] } : undefined;
    }
    const r = find(rest[0]);
    return r !== undefined && rest.length <= 2 ? { r, name: rest[1] } : undefined;
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'https://fake');
    const socket = req.socket as TLSSocket;
    const user = socket.authorized ? String(socket.getPeerCertificate().subject?.CN ?? '') : null;
    const entry: LoggedRequest = { method: req.method ?? '', path: url.pathname, query: url.search, contentType: req.headers['content-type'], user, status: 0 };
    requests.push(entry);
    const send = (status: number, body: Obj | string) => {
      entry.status = status;
      const text = typeof body === 'string' ? body : JSON.stringify(body);
      res.writeHead(status, { 'content-type': typeof body === 'string' ? 'text/plain; charset=utf-8' : 'application/json', 'content-length': Buffer.byteLength(text) });
      res.end(text);
    };
    try {
      if (user === null) throw new StatusError(401, 'Unauthorized', 'Unauthorized');
      const path = url.pathname;
      if (path === '/readyz' || path === '/livez' || path === '/healthz') {
        const verbose = url.searchParams.has('verbose');
        const ok = ready || path !== '/readyz';
        const lines = READYZ_CHECKS.map((c) => (ok || !failing.includes(c) ? `[+]${c} ok` : `[-]${c} failed: reason withheld`));
        if (ok) return send(200, verbose ? `${lines.join('\n')}\n${path.slice(1)} check passed\n` : 'ok');
        return send(500, `${lines.join('\n')}\n${path.slice(1)} check failed\n`);
      }
      if (path === '/version') {
        const gitVersion = options.gitVersion ?? 'v1.31.2';
        const [major, minor] = gitVersion.slice(1).split('.');
        return send(200, { major, minor, gitVersion, gitCommit: '0'.repeat(40), gitTreeState: 'clean', buildDate: '2024-10-22T20:28:14Z', goVersion: 'go1.22.8', compiler: 'gc', platform: 'linux/amd64' });
      }
      if (req.method === 'GET') {
        const d = discovery(path);
        if (d !== undefined) return send(200, d);
      }
      const target = resolve(path);
      if (target === undefined) throw new StatusError(404, 'NotFound', 'the server could not find the requested resource');
      const [status, body] = await objectRoute(req.method ?? 'GET', target.r, target.ns, target.name, url.searchParams, req);
      return send(status, body);
    } catch (err) {
      if (!(err instanceof StatusError)) throw err;
      return send(err.code, { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: err.message, reason: err.reason, ...(err.details ? { details: err.details } : {}), code: err.code });
    }
  }

  const apiserver: Manager = { name: 'kube-apiserver', operation: 'Update' };
  for (const name of ['default', 'kube-system', 'kube-public', 'kube-node-lease']) insert(nsRes, '', { apiVersion: 'v1', kind: 'Namespace', metadata: { name } }, apiserver);

  const server: Server = createServer(
    { cert: options.serving.certPem, key: options.serving.keyPem, ca: [options.clientCaPem], requestCert: true, rejectUnauthorized: false },
    (req, res) => {
      handle(req, res).catch((err: unknown) => {
        res.writeHead(500, { 'content-type': 'text/plain' });
        res.end(`fake apiserver bug: ${String(err)}`);
      });
    },
  );
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const { port } = server.address() as AddressInfo;

  const nodeObject = (name: string, readyNow: boolean, roles: string[], address: string): Obj => ({
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name, labels: { 'kubernetes.io/hostname': name, 'kubernetes.io/os': 'linux', ...Object.fromEntries(roles.map((r) => [`node-role.kubernetes.io/${r}`, ''])) } },
    spec: {},
    status: { addresses: [{ type: 'InternalIP', address }, { type: 'Hostname', address: name }], conditions: [readyCondition(readyNow)] },
  });

  return {
    url: `https://127.0.0.1:${port}`,
    requests,
    setReady(value, failingChecks = ['etcd']) {
      ready = value;
      failing = failingChecks;
    },
    addNode(name, { ready: readyNow, roles = [], address = '127.0.0.1' }) {
      insert(nodeRes, '', nodeObject(name, readyNow, roles, address), { name: 'kubelet', operation: 'Update' });
    },
    setNodeReady(name, readyNow) {
      const live = store.get(keyOf(nodeRes, '', name));
      if (live === undefined) throw new Error(`no node ${name}`);
      const status = isObj(live.status) ? live.status : {};
      update(nodeRes, '', live, { ...live, status: { ...status, conditions: [readyCondition(readyNow)] } }, { name: 'kubelet', operation: 'Update' });
    },
    object: (group, plural, namespace, name) => store.get(`${group}/${plural}/${namespace}/${name}`),
    close: () =>
      new Promise<void>((done) => {
        server.closeAllConnections();
        server.close(() => done());
      }),
  };
}

function readyCondition(ready: boolean): Obj {
  const t = now();
  return ready
    ? { type: 'Ready', status: 'True', reason: 'KubeletReady', message: 'kubelet is posting ready status', lastHeartbeatTime: t, lastTransitionTime: t }
    : { type: 'Ready', status: 'False', reason: 'KubeletNotReady', message: 'container runtime network not ready: NetworkReady=false reason:NetworkPluginNotReady message:Network plugin returns error: cni plugin not initialized', lastHeartbeatTime: t, lastTransitionTime: t };
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

/**
 * The fake kube-apiserver's object store (see fake-apiserver.ts for what the fake is and why it
 * exists: kube-apiserver cannot be installed or run on the machines these tests run on): the
 * resources it serves, server-set metadata, REST semantics per verb, and kube-apiserver's Status
 * errors. No HTTP and no authentication here.
 */
import { randomUUID } from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';
import { checkEviction } from './fake-apiserver-evictions.js';

export type Obj = Record<string, unknown>;

/** One served resource. */
export interface Resource {
  group: string;
  version: string;
  plural: string;
  singular: string;
  kind: string;
  namespaced: boolean;
  shortNames?: string[];
  /** Subresources discovery lists; only `status` is served (GET, PUT, PATCH). */
  subresources?: string[];
}

export const VERBS = ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'];
export const RESOURCES: Resource[] = [
  { group: '', version: 'v1', plural: 'configmaps', singular: 'configmap', kind: 'ConfigMap', namespaced: true, shortNames: ['cm'] },
  { group: '', version: 'v1', plural: 'namespaces', singular: 'namespace', kind: 'Namespace', namespaced: false, shortNames: ['ns'], subresources: ['finalize', 'status'] },
  { group: '', version: 'v1', plural: 'nodes', singular: 'node', kind: 'Node', namespaced: false, shortNames: ['no'], subresources: ['proxy', 'status'] },
  { group: '', version: 'v1', plural: 'pods', singular: 'pod', kind: 'Pod', namespaced: true, shortNames: ['po'], subresources: ['eviction', 'status'] },
  { group: 'policy', version: 'v1', plural: 'poddisruptionbudgets', singular: 'poddisruptionbudget', kind: 'PodDisruptionBudget', namespaced: true, shortNames: ['pdb'] },
  { group: '', version: 'v1', plural: 'serviceaccounts', singular: 'serviceaccount', kind: 'ServiceAccount', namespaced: true, shortNames: ['sa'], subresources: ['token'] },
  { group: 'apps', version: 'v1', plural: 'daemonsets', singular: 'daemonset', kind: 'DaemonSet', namespaced: true, shortNames: ['ds'], subresources: ['status'] },
  { group: 'rbac.authorization.k8s.io', version: 'v1', plural: 'clusterrolebindings', singular: 'clusterrolebinding', kind: 'ClusterRoleBinding', namespaced: false },
  { group: 'rbac.authorization.k8s.io', version: 'v1', plural: 'clusterroles', singular: 'clusterrole', kind: 'ClusterRole', namespaced: false },
];
export const GROUPS = ['apps', 'policy', 'rbac.authorization.k8s.io'];
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** A failed request: the Status to answer with. */
export class StatusError extends Error {
  constructor(
    readonly code: number,
    readonly reason: string,
    message: string,
    readonly details?: Obj,
  ) {
    super(message);
  }
}

export const groupVersion = (r: { group: string; version: string }) => (r.group === '' ? r.version : `${r.group}/${r.version}`);
/** `daemonsets.apps`, as kube-apiserver names a resource in messages. */
export const qualified = (r: Resource) => (r.group === '' ? r.plural : `${r.plural}.${r.group}`);
export const now = () => new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
export const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
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
export interface Manager {
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

/** A Node's Ready condition as kubelet reports it. */
export function readyCondition(ready: boolean): Obj {
  const t = now();
  return ready
    ? { type: 'Ready', status: 'True', reason: 'KubeletReady', message: 'kubelet is posting ready status', lastHeartbeatTime: t, lastTransitionTime: t }
    : { type: 'Ready', status: 'False', reason: 'KubeletNotReady', message: 'container runtime network not ready: NetworkReady=false reason:NetworkPluginNotReady message:Network plugin returns error: cni plugin not initialized', lastHeartbeatTime: t, lastTransitionTime: t };
}

/** What one REST call asks of the store. */
export interface StoreRequest {
  method: string;
  r: Resource;
  ns?: string;
  name?: string;
  /** Only `status`. */
  subresource?: string;
  query: URLSearchParams;
  /** The media type of the body, without parameters. */
  contentType: string;
  /** Reads and parses the body (YAML or JSON); only called by verbs that take one. */
  body: () => Promise<unknown>;
}

/**
 * The objects: one map keyed by group/plural/namespace/name, one revision counter (like etcd's).
 * Starts with the four namespaces a cluster has.
 */
export class FakeStore {
  private readonly objects = new Map<string, Obj>();
  private revision = 1;
  readonly nodeResource = RESOURCES.find((r) => r.kind === 'Node') as Resource;
  private readonly nsResource = RESOURCES.find((r) => r.kind === 'Namespace') as Resource;

  constructor() {
    const apiserver: Manager = { name: 'kube-apiserver', operation: 'Update' };
    for (const name of ['default', 'kube-system', 'kube-public', 'kube-node-lease']) {
      this.insert(this.nsResource, '', { apiVersion: 'v1', kind: 'Namespace', metadata: { name } }, apiserver);
    }
  }

  private keyOf(r: Resource, ns: string, name: string): string {
    return `${r.group}/${r.plural}/${ns}/${name}`;
  }

  /** A stored object; namespace '' when cluster-scoped. */
  get(group: string, plural: string, namespace: string, name: string): Obj | undefined {
    return this.objects.get(`${group}/${plural}/${namespace}/${name}`);
  }

  /** Every stored object, sorted by key. */
  all(): Obj[] {
    return [...this.objects.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([, o]) => o);
  }

  /** Sets the server-owned fields of a new object and stores it. */
  insert(r: Resource, ns: string, body: Obj, manager: Manager): Obj {
    const m = meta(body);
    const obj: Obj = {
      ...body,
      metadata: {
        ...m,
        ...(r.namespaced ? { namespace: ns } : {}),
        uid: randomUUID(),
        resourceVersion: String(++this.revision),
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
    this.objects.set(this.keyOf(r, ns, String(m.name)), obj);
    return obj;
  }

  /** Stores `next` over `live` keeping server-owned fields; a no-op keeps the resourceVersion. */
  update(r: Resource, ns: string, live: Obj, next: Obj, manager: Manager): Obj {
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
    md.resourceVersion = String(++this.revision);
    this.objects.set(this.keyOf(r, ns, String(lm.name)), merged);
    return merged;
  }

  notFound(r: Resource, name: string): StatusError {
    return new StatusError(404, 'NotFound', `${qualified(r)} "${name}" not found`, { name, ...(r.group === '' ? {} : { group: r.group }), kind: r.plural });
  }

  private checkBody(r: Resource, body: unknown, ns: string, urlName: string | undefined): Obj {
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
    if (r.namespaced && !this.objects.has(this.keyOf(this.nsResource, '', ns))) throw this.notFound(this.nsResource, ns);
    return body;
  }

  private list(r: Resource, ns: string | undefined, query: URLSearchParams): Obj {
    const prefix = `${r.group}/${r.plural}/`;
    const all = [...this.objects.entries()]
      .filter(([k, o]) => k.startsWith(prefix) && (ns === undefined || meta(o).namespace === ns))
      // The one field selector drains use: pods on a node.
      .filter(([, o]) => !query.get('fieldSelector')?.startsWith('spec.nodeName=') || (isObj(o.spec) && o.spec.nodeName === query.get('fieldSelector')?.slice('spec.nodeName='.length)))
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([, o]) => o);
    const start = Number(query.get('continue') ?? '0') || 0;
    const limit = Number(query.get('limit') ?? '0') || all.length;
    const items = all.slice(start, start + limit);
    const more = start + limit < all.length;
    return { kind: `${r.kind}List`, apiVersion: groupVersion(r), metadata: { resourceVersion: String(this.revision), ...(more ? { continue: String(start + limit) } : {}) }, items };
  }

  /** One REST call: [HTTP status, body]; failures throw {@link StatusError}. */
  async handle(q: StoreRequest): Promise<[number, Obj]> {
    const { method, r, ns, name, query } = q;
    const scope = ns ?? '';
    const updater = (): Manager => ({ name: query.get('fieldManager') || 'unknown', operation: 'Update' });
    const notAllowed = () => new StatusError(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource');
    if (name === undefined) {
      if (method === 'GET') return [200, this.list(r, r.namespaced ? ns : undefined, query)];
      if (method !== 'POST') throw notAllowed();
      if (r.namespaced && ns === undefined) throw notAllowed();
      const body = this.checkBody(r, await q.body(), scope, undefined);
      const bname = String(meta(body).name);
      if (this.objects.has(this.keyOf(r, scope, bname))) throw new StatusError(409, 'AlreadyExists', `${qualified(r)} "${bname}" already exists`, { name: bname, ...(r.group === '' ? {} : { group: r.group }), kind: r.plural });
      return [201, this.insert(r, scope, body, updater())];
    }
    const live = this.objects.get(this.keyOf(r, scope, name));
    if (q.subresource === 'eviction' && r.kind === 'Pod' && method === 'POST') {
      if (live === undefined) throw this.notFound(r, name);
      const inNs = (plural: string, group = '') => [...this.objects.entries()].filter(([k]) => k.startsWith(`${group}/${plural}/${scope}/`)).map(([, o]) => o);
      const status = checkEviction(live, inNs('pods'), inNs('poddisruptionbudgets', 'policy'));
      this.objects.delete(this.keyOf(r, scope, name));
      this.revision++;
      return [201, status];
    }
    if (q.subresource !== undefined) return this.status(q, live, updater());
    if (method === 'DELETE') {
      if (live === undefined) throw this.notFound(r, name);
      this.objects.delete(this.keyOf(r, scope, name));
      this.revision++;
      return [200, live];
    }
    if (method === 'GET') {
      if (live === undefined) throw this.notFound(r, name);
      return [200, live];
    }
    if (method === 'PUT') {
      if (live === undefined) throw this.notFound(r, name);
      const body = this.checkBody(r, await q.body(), scope, name);
      const rv = meta(body).resourceVersion;
      if (rv !== undefined && rv !== meta(live).resourceVersion) {
        throw new StatusError(409, 'Conflict', `Operation cannot be fulfilled on ${qualified(r)} "${name}": the object has been modified; please apply your changes to the latest version and try again`, { name, kind: r.plural });
      }
      return [200, this.update(r, scope, live, body, updater())];
    }
    if (method === 'PATCH') {
      const patch = await q.body();
      if (q.contentType === 'application/apply-patch+yaml') {
        if (!query.get('fieldManager')) throw new StatusError(422, 'Invalid', 'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is required for apply patch');
        const body = this.checkBody(r, patch, scope, name);
        const manager: Manager = { name: query.get('fieldManager') ?? '', operation: 'Apply' };
        return live === undefined ? [201, this.insert(r, scope, body, manager)] : [200, this.update(r, scope, live, applyMerge(live, body) as Obj, manager)];
      }
      this.checkPatchType(q.contentType);
      if (live === undefined) throw this.notFound(r, name);
      const next = mergePatch(live, patch);
      return [200, this.update(r, scope, live, this.checkBody(r, next, scope, name), updater())];
    }
    throw notAllowed();
  }

  private checkPatchType(type: string): void {
    if (type !== 'application/merge-patch+json' && type !== 'application/strategic-merge-patch+json') {
      throw new StatusError(415, 'UnsupportedMediaType', `the body of the request was in an unknown format - accepted media types include: application/merge-patch+json, application/strategic-merge-patch+json, application/apply-patch+yaml (json-patch is not implemented by this fake)`);
    }
  }

  /** The `status` subresource: GET, PUT and (merge) PATCH touch `.status` only, as kube-apiserver's status strategy does. */
  private async status(q: StoreRequest, live: Obj | undefined, manager: Manager): Promise<[number, Obj]> {
    const { r, ns, name = '' } = q;
    if (q.subresource !== 'status' || !(r.subresources ?? []).includes('status')) throw new StatusError(404, 'NotFound', 'the server could not find the requested resource');
    if (live === undefined) throw this.notFound(r, name);
    if (q.method === 'GET') return [200, live];
    let status: unknown;
    if (q.method === 'PUT') {
      status = this.checkBody(r, await q.body(), ns ?? '', name).status;
    } else if (q.method === 'PATCH') {
      this.checkPatchType(q.contentType);
      status = (mergePatch(live, await q.body()) as Obj).status;
    } else {
      throw new StatusError(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource');
    }
    return [200, this.update(r, ns ?? '', live, { ...live, status }, manager)];
  }
}

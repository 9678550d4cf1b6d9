/**
 * The Kubernetes calls node replacement needs beyond {@link KubeApi} — read, patch and delete a
 * Node, list the pods on a node, evict a pod (policy/v1 Eviction, so PodDisruptionBudgets are
 * honoured by the API server), read and replace a ConfigMap — as one small port
 * ({@link KubeNodeOps}) with one implementation over HTTPS with the controller's admin
 * certificate. The drain logic on top (membership/drain.ts) only sees the port, so it is tested
 * against a modelled API with PDB refusals.
 *
 * Plain REST with the TLS material of a client-node KubeConfig, not client-node's typed APIs:
 * these are six calls whose status codes decide what happens (429 from an eviction is a PDB
 * saying "not now"), and the typed APIs hide the Status body for some codes.
 */
import { request as httpsRequest, type RequestOptions } from 'node:https';
import { ApiException, type KubeConfig } from '@kubernetes/client-node';
import { type KubeApiOptions, kubeConfigOf } from './client.js';
import { KubeApiError, type KubeErrorCode, statusOf, toKubeError } from './errors.js';

/** A taint as the Node spec holds it. */
export interface Taint {
  key: string;
  value?: string;
  effect: 'NoSchedule' | 'PreferNoSchedule' | 'NoExecute';
}

/** What node replacement reads of a Node. */
export interface NodeView {
  name: string;
  unschedulable: boolean;
  taints: Taint[];
  /** metadata.labels (absent from views that do not read them). */
  labels?: Record<string, string>;
  /** Its `Ready` condition is `True` (false also when kubelet never posted one); undefined: not known. */
  ready?: boolean;
}

/** A pod on a node, with what decides whether a drain evicts it. */
export interface PodRef {
  namespace: string;
  name: string;
  /** Owned by a DaemonSet: `kubectl drain --ignore-daemonsets` leaves these, and so do we. */
  daemonSet: boolean;
  /** A static pod's mirror (kubelet's own): cannot be evicted, goes with kubeadm reset. */
  mirror: boolean;
  /** When its deletion was requested (metadata.deletionTimestamp, ms), if it was: it is terminating. */
  terminatingSince?: number;
}

/** The outcome of one eviction request. */
export type EvictionResult = { kind: 'evicted' } | { kind: 'gone' } | { kind: 'blocked'; reason: string };

/** The port; every call has its own deadline and throws KubeApiError. */
export interface KubeNodeOps {
  getNode(name: string): Promise<NodeView | null>;
  /** JSON merge patch of the Node's spec (`unschedulable`, `taints`). */
  patchNodeSpec(name: string, spec: { unschedulable?: boolean; taints?: Taint[] }): Promise<void>;
  /** JSON merge patch of the Node's metadata.labels (the labels given are set, others kept). */
  patchNodeLabels(name: string, labels: Record<string, string>): Promise<void>;
  /** True when it deleted the Node, false when there was none. */
  deleteNode(name: string): Promise<boolean>;
  podsOn(node: string): Promise<PodRef[]>;
  evict(pod: Pick<PodRef, 'namespace' | 'name'>): Promise<EvictionResult>;
  getConfigMap(namespace: string, name: string): Promise<{ data: Record<string, string>; resourceVersion: string } | null>;
  /** Replaces `data` (optimistic: fails with 409 Conflict when `resourceVersion` moved). */
  putConfigMapData(namespace: string, name: string, data: Record<string, string>, resourceVersion: string): Promise<void>;
}

const CALL_TIMEOUT_MS = 15_000;
const MAX_BODY = 8 * 1024 * 1024;
/** Pauses before the retries of a call that met a transient failure (see {@link createKubeNodeOps}). */
export const KUBE_RETRY_DELAYS_MS = [500, 1000, 2000, 4000, 8000];
/** No new attempt once a call has been at it this long. */
const RETRY_BUDGET_MS = 30_000;

/** Options of {@link createKubeNodeOps} beyond the API server's. */
export interface KubeNodeOpsTuning {
  /** Default {@link KUBE_RETRY_DELAYS_MS}; tests shorten them. */
  retryDelaysMs?: readonly number[];
}

/**
 * Builds the port over HTTPS; throws BALLAST_ERR_VALIDATION for bad options. A call that gets no
 * answer, a 502/503/504, or a 500 that is the API server's etcd not answering for now
 * (errors.ts) is tried again after a pause, for up to {@link RETRY_BUDGET_MS}: right after a control
 * plane dies — exactly when node replacement runs — the API server behind the VIP answers so for a
 * few seconds. Every call here is safe to repeat (a patch, a delete whose 404 is handled, an
 * eviction, an update guarded by its resourceVersion). A 429 is not retried here: from an eviction
 * it is a PodDisruptionBudget's answer, which the drain handles.
 */
export function createKubeNodeOps(options: KubeApiOptions, tuning: KubeNodeOpsTuning = {}): KubeNodeOps {
  const kc = kubeConfigOf(options);
  const delays = tuning.retryDelaysMs ?? KUBE_RETRY_DELAYS_MS;
  const once = async (what: string, method: string, path: string, body: unknown, contentType: string) => {
    try {
      const res = await rawJson(kc, `${options.server}${path}`, { method, body, contentType, signal: AbortSignal.timeout(CALL_TIMEOUT_MS) });
      if (res.status >= 400) throw new ApiException(res.status, what, res.text, {});
      return res;
    } catch (err) {
      throw toKubeError(err, what, CALL_TIMEOUT_MS);
    }
  };
  const call = async (what: string, method: string, path: string, body?: unknown, contentType = 'application/json') => {
    const started = Date.now();
    for (let attempt = 0; ; attempt++) {
      try {
        return await once(what, method, path, body, contentType);
      } catch (err) {
        const transient = err instanceof KubeApiError && err.code === 'BALLAST_ERR_KUBE_UNAVAILABLE' && err.status !== 429;
        const delay = delays[attempt];
        if (!transient || delay === undefined || Date.now() - started + delay > RETRY_BUDGET_MS) {
          if (attempt === 0 || !(err instanceof KubeApiError)) throw err;
          const tried = `tried ${attempt + 1} times in ${((Date.now() - started) / 1000).toFixed(1)} s`;
          throw new KubeApiError(err.code as KubeErrorCode, `${err.message} (${tried})`, { cause: err, status: err.status, reason: err.reason });
        }
        await new Promise((r) => setTimeout(r, delay));
      }
    }
  };
  const status = (err: unknown) => (err instanceof KubeApiError ? err.status : undefined);
  const seg = encodeURIComponent;
  return {
    async getNode(name) {
      try {
        const { json } = await call(`read Node ${name}`, 'GET', `/api/v1/nodes/${seg(name)}`);
        const doc = json as { metadata?: { labels?: Record<string, string> }; spec?: { unschedulable?: boolean; taints?: Taint[] }; status?: { conditions?: { type?: string; status?: string }[] } };
        const spec = doc.spec ?? {};
        const ready = (doc.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');
        return { name, unschedulable: spec.unschedulable === true, taints: Array.isArray(spec.taints) ? spec.taints : [], labels: { ...(doc.metadata?.labels ?? {}) }, ready };
      } catch (err) {
        if (status(err) === 404) return null;
        throw err;
      }
    },
    async patchNodeSpec(name, spec) {
      await call(`patch Node ${name}`, 'PATCH', `/api/v1/nodes/${seg(name)}`, { spec }, 'application/merge-patch+json');
    },
    async patchNodeLabels(name, labels) {
      await call(`label Node ${name}`, 'PATCH', `/api/v1/nodes/${seg(name)}`, { metadata: { labels } }, 'application/merge-patch+json');
    },
    async deleteNode(name) {
      try {
        await call(`delete Node ${name}`, 'DELETE', `/api/v1/nodes/${seg(name)}`);
        return true;
      } catch (err) {
        if (status(err) === 404) return false;
        throw err;
      }
    },
    async podsOn(node) {
      const out: PodRef[] = [];
      let next = '';
      do {
        const q = new URLSearchParams({ fieldSelector: `spec.nodeName=${node}`, limit: '500', ...(next === '' ? {} : { continue: next }) });
        const { json } = await call(`list pods on ${node}`, 'GET', `/api/v1/pods?${q}`);
        const page = json as { items?: { metadata?: { name?: string; namespace?: string; deletionTimestamp?: string; annotations?: Record<string, string>; ownerReferences?: { kind?: string }[] } }[]; metadata?: { continue?: string } };
        for (const p of page.items ?? []) {
          const m = p.metadata ?? {};
          out.push({
            namespace: m.namespace ?? 'default',
            name: m.name ?? '',
            daemonSet: (m.ownerReferences ?? []).some((o) => o.kind === 'DaemonSet'),
            mirror: m.annotations?.['kubernetes.io/config.mirror'] !== undefined,
            ...(m.deletionTimestamp !== undefined && Number.isFinite(Date.parse(m.deletionTimestamp)) ? { terminatingSince: Date.parse(m.deletionTimestamp) } : {}),
          });
        }
        next = page.metadata?.continue ?? '';
      } while (next !== '');
      return out;
    },
    async evict(pod) {
      const body = { apiVersion: 'policy/v1', kind: 'Eviction', metadata: { name: pod.name, namespace: pod.namespace } };
      try {
        await call(`evict pod ${pod.namespace}/${pod.name}`, 'POST', `/api/v1/namespaces/${seg(pod.namespace)}/pods/${seg(pod.name)}/eviction`, body);
        return { kind: 'evicted' };
      } catch (err) {
        // 429: a PodDisruptionBudget forbids it now (the API server's answer; `kubectl drain` retries it too).
        if (status(err) === 429) return { kind: 'blocked', reason: (err as Error).message };
        if (status(err) === 404) return { kind: 'gone' };
        throw err;
      }
    },
    async getConfigMap(namespace, name) {
      try {
        const { json } = await call(`read ConfigMap ${namespace}/${name}`, 'GET', `/api/v1/namespaces/${seg(namespace)}/configmaps/${seg(name)}`);
        const cm = json as { data?: Record<string, string>; metadata?: { resourceVersion?: string } };
        return { data: cm.data ?? {}, resourceVersion: cm.metadata?.resourceVersion ?? '' };
      } catch (err) {
        if (status(err) === 404) return null;
        throw err;
      }
    },
    async putConfigMapData(namespace, name, data, resourceVersion) {
      const body = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace, resourceVersion }, data };
      await call(`update ConfigMap ${namespace}/${name}`, 'PUT', `/api/v1/namespaces/${seg(namespace)}/configmaps/${seg(name)}`, body);
    },
  };
}

/** One HTTPS request with the kubeconfig's TLS material; the body is JSON, the answer cut at 8 MiB. */
async function rawJson(kc: KubeConfig, url: string, o: { method: string; body?: unknown; contentType: string; signal: AbortSignal }): Promise<{ status: number; text: string; json: unknown }> {
  const payload = o.body === undefined ? undefined : JSON.stringify(o.body);
  const opts: RequestOptions = { method: o.method, headers: { accept: 'application/json', ...(payload === undefined ? {} : { 'content-type': o.contentType }) } };
  await kc.applyToHTTPSOptions(opts);
  return new Promise((resolve, reject) => {
    const req = httpsRequest(url, { ...opts, signal: o.signal }, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > MAX_BODY) return req.destroy(new Error(`answer larger than ${MAX_BODY} bytes`));
        chunks.push(chunk);
      });
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json: unknown = null;
        try {
          json = text === '' ? null : JSON.parse(text);
        } catch {
          json = statusOf(text);
        }
        resolve({ status: res.statusCode ?? 0, text, json });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    if (payload !== undefined) req.write(payload);
    req.end();
  });
}

/**
 * The Kubernetes side of taking a node out, each converging (safe to run again after a restart):
 * cordon, drain through the Eviction API (so PodDisruptionBudgets hold: a 429 is retried until
 * the deadline, then a clear error naming the pods and the budget's answer), the
 * `node.kubernetes.io/out-of-service` taint for a fenced node (the API then releases its pods and
 * volumes: the non-graceful node shutdown feature, GA since 1.28), deleting the Node object, and
 * forgetting the node in kubeadm's ClusterStatus (only kubeadm < 1.22 keeps one; newer kubeadm
 * reads API endpoints from the kube-apiserver pods' annotations, which go with the Node).
 */
import { parse, stringify } from 'yaml';
import { BallastError } from '../../../shared/src/errors.js';
import type { KubeNodeOps, Taint } from '../kube/node-ops.js';

/** The taint kube-controller-manager's pod GC reads to release a dead node's pods (KEP-2268). */
export const OUT_OF_SERVICE_TAINT: Taint = { key: 'node.kubernetes.io/out-of-service', value: 'nodeshutdown', effect: 'NoExecute' };

/** What one ensure did: `changed` false when it was already so. */
export interface KubeOutcome {
  changed: boolean;
  message: string;
}

/** Marks the node unschedulable; `absent` when there is no such Node. */
export async function ensureCordoned(api: KubeNodeOps, node: string): Promise<KubeOutcome> {
  const live = await api.getNode(node);
  if (live === null) return { changed: false, message: `no Node ${node}: nothing to cordon` };
  if (live.unschedulable) return { changed: false, message: `${node} is already cordoned` };
  await api.patchNodeSpec(node, { unschedulable: true });
  return { changed: true, message: `${node} cordoned` };
}

/**
 * A pod terminating this long on a node whose kubelet is not Ready is not waited for: nobody is
 * there to stop it and confirm (kubectl drain's `--skip-wait-for-delete-timeout`). The replacement
 * stops it for real right after the drain — the reset removes every container on the host — and the
 * Node's deletion then lets the API server forget it.
 */
export const STUCK_TERMINATING_MS = 60_000;

/** Options of {@link drainNode}. */
export interface DrainOptions {
  timeoutMs: number;
  /** Default {@link STUCK_TERMINATING_MS}. */
  stuckTerminatingMs?: number;
  /** For tests. */
  now?: () => number;
  /** Pause between rounds of evictions (kubectl drain waits 5 s after a PDB refusal). */
  intervalMs: number;
  signal: AbortSignal;
  progress?: (message: string) => void;
}

/**
 * Evicts every pod on `node` except DaemonSet pods and static pods' mirrors (as `kubectl drain
 * --ignore-daemonsets`), round after round until none is left. Throws BALLAST_ERR_DRAIN_TIMEOUT
 * with the pods still there and the last refusal of each.
 */
export async function drainNode(api: KubeNodeOps, node: string, opts: DrainOptions): Promise<KubeOutcome> {
  const deadline = Date.now() + opts.timeoutMs;
  const now = opts.now ?? Date.now;
  const stuckMs = opts.stuckTerminatingMs ?? STUCK_TERMINATING_MS;
  let evicted = 0;
  let leftToReset = 0;
  const refusals = new Map<string, string>();
  for (let round = 1; ; round++) {
    if (opts.signal.aborted) throw opts.signal.reason;
    let pods = (await api.podsOn(node)).filter((p) => !p.daemonSet && !p.mirror);
    const stuck = pods.filter((p) => p.terminatingSince !== undefined && now() - p.terminatingSince >= stuckMs);
    if (stuck.length > 0 && (await api.getNode(node))?.ready === false) {
      pods = pods.filter((p) => !stuck.includes(p));
      leftToReset = stuck.length;
    }
    if (pods.length === 0) {
      const stuckNote = leftToReset === 0 ? '' : `; ${leftToReset} pods terminating for over ${Math.round(stuckMs / 1000)} s on the NotReady node are left to the reset (its kubelet does not answer)`;
      return { changed: evicted > 0, message: `${evicted === 0 ? `${node} has no pods to evict` : `${node} drained: ${evicted} evictions`}${stuckNote}` };
    }
    refusals.clear();
    for (const pod of pods) {
      if (pod.terminatingSince !== undefined) continue; // already being deleted: waiting is all there is to do
      const r = await api.evict(pod);
      if (r.kind === 'evicted') evicted++;
      if (r.kind === 'blocked') refusals.set(`${pod.namespace}/${pod.name}`, r.reason);
    }
    const left = pods.map((p) => `${p.namespace}/${p.name}`);
    if (round === 1 || round % 5 === 0) opts.progress?.(`draining ${node}: ${left.length} pods left${refusals.size > 0 ? ` (${refusals.size} refused by a PodDisruptionBudget, retrying)` : ''}`);
    if (Date.now() + opts.intervalMs > deadline) {
      const detail = left.slice(0, 10).map((p) => (refusals.has(p) ? `${p} (${refusals.get(p)})` : `${p} (terminating)`));
      throw new BallastError(
        'BALLAST_ERR_DRAIN_TIMEOUT',
        `failed to drain node ${node} within ${Math.round(opts.timeoutMs / 1000)} s: ${left.length} pods left: ${detail.join('; ')}${left.length > 10 ? '; …' : ''}. ` +
          'Free the budget (scale the workload up) and resume the operation, or abort it',
      );
    }
    await sleep(opts.intervalMs, opts.signal);
  }
}

/** Adds the out-of-service taint (the node must be fenced first: its pods are released elsewhere). */
export async function ensureOutOfServiceTaint(api: KubeNodeOps, node: string): Promise<KubeOutcome> {
  const live = await api.getNode(node);
  if (live === null) return { changed: false, message: `no Node ${node}: nothing to taint` };
  if (live.taints.some((t) => t.key === OUT_OF_SERVICE_TAINT.key && t.effect === OUT_OF_SERVICE_TAINT.effect)) {
    return { changed: false, message: `${node} already has the out-of-service taint` };
  }
  await api.patchNodeSpec(node, { taints: [...live.taints, OUT_OF_SERVICE_TAINT] });
  return { changed: true, message: `${node} tainted ${OUT_OF_SERVICE_TAINT.key}=${OUT_OF_SERVICE_TAINT.value}:${OUT_OF_SERVICE_TAINT.effect}` };
}

/** Deletes the Node object (its taints go with it). */
export async function ensureNodeDeleted(api: KubeNodeOps, node: string): Promise<KubeOutcome> {
  const deleted = await api.deleteNode(node);
  return { changed: deleted, message: deleted ? `Node ${node} deleted` : `no Node ${node}` };
}

/**
 * Removes `node` from `ClusterStatus.apiEndpoints` in kube-system/kubeadm-config when that key
 * exists (kubeadm < 1.22); `kubeadm join --control-plane` of a later node would otherwise list a
 * dead endpoint. Newer kubeadm has no ClusterStatus: nothing to do.
 */
export async function ensureApiEndpointForgotten(api: KubeNodeOps, node: string): Promise<KubeOutcome> {
  const cm = await api.getConfigMap('kube-system', 'kubeadm-config');
  const raw = cm?.data.ClusterStatus;
  if (cm === null || raw === undefined) return { changed: false, message: 'kubeadm keeps no ClusterStatus (kubeadm ≥ 1.22): nothing to clean' };
  const status = parse(raw) as { apiEndpoints?: Record<string, unknown> } | null;
  if (status?.apiEndpoints === undefined || !(node in status.apiEndpoints)) return { changed: false, message: `${node} is not in kubeadm's ClusterStatus` };
  delete status.apiEndpoints[node];
  await api.putConfigMapData('kube-system', 'kubeadm-config', { ...cm.data, ClusterStatus: stringify(status) }, cm.resourceVersion);
  return { changed: true, message: `${node} removed from kubeadm's ClusterStatus.apiEndpoints` };
}

async function sleep(ms: number, signal: AbortSignal): Promise<void> {
  await new Promise<void>((resolve) => {
    const done = () => {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const t = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}

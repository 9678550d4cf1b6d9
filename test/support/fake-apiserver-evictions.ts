/**
 * The fake kube-apiserver's Eviction subresource (policy/v1), as drains use it: POST
 * pods/<name>/eviction deletes the pod unless a PodDisruptionBudget in its namespace whose
 * `spec.selector.matchLabels` match the pod would drop below `spec.minAvailable` (or exceed
 * `spec.maxUnavailable`) — then 429 TooManyRequests with kube-apiserver's message and a
 * `DisruptionBudget` cause, which is what `kubectl drain` retries on.
 *
 * Simplified: every pod counts as healthy (no readiness), percentages are not supported, and
 * nothing recreates an evicted pod (no controllers): a test adds the replacement itself.
 */
import { type Obj, isObj, StatusError } from './fake-apiserver-store.js';

const labelsOf = (o: Obj): Record<string, string> => {
  const m = isObj(o.metadata) ? o.metadata : {};
  return isObj(m.labels) ? (m.labels as Record<string, string>) : {};
};

/** Whether `selector.matchLabels` selects `labels` (an empty selector selects nothing, as for PDBs in policy/v1beta1's spirit). */
function selects(pdb: Obj, labels: Record<string, string>): boolean {
  const spec = isObj(pdb.spec) ? pdb.spec : {};
  const match = isObj(spec.selector) && isObj(spec.selector.matchLabels) ? (spec.selector.matchLabels as Record<string, string>) : {};
  const entries = Object.entries(match);
  return entries.length > 0 && entries.every(([k, v]) => labels[k] === v);
}

/**
 * Decides one eviction of `pod` given the namespace's `pods` and `budgets`; throws the 429 when a
 * budget forbids it, returns the Status of success otherwise (the caller deletes the pod).
 */
export function checkEviction(pod: Obj, pods: readonly Obj[], budgets: readonly Obj[]): Obj {
  const labels = labelsOf(pod);
  for (const pdb of budgets.filter((b) => selects(b, labels))) {
    const spec = pdb.spec as Obj;
    const healthy = pods.filter((p) => selects(pdb, labelsOf(p))).length;
    const name = String((pdb.metadata as Obj).name);
    const min = typeof spec.minAvailable === 'number' ? spec.minAvailable : undefined;
    const maxUnavailable = typeof spec.maxUnavailable === 'number' ? spec.maxUnavailable : undefined;
    const allowed = min !== undefined ? healthy - min : maxUnavailable !== undefined ? maxUnavailable : healthy;
    if (allowed <= 0) {
      const need = min ?? healthy - (maxUnavailable ?? 0);
      throw new StatusError(429, 'TooManyRequests', "Cannot evict pod as it would violate the pod's disruption budget.", {
        causes: [{ reason: 'DisruptionBudget', message: `The disruption budget ${name} needs ${need} healthy pods and has ${healthy} currently` }],
      });
    }
  }
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', code: 201 };
}

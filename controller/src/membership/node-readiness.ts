/**
 * The automatic replacement's second trigger (auto-replacer.ts `nodesOf`): a cluster's Nodes and
 * their readiness through its API server (the VIP), with the controller's admin certificate and a
 * short deadline — each tick, for clusters with an `autoReplace` policy only.
 */
import { kubeApiOptions, pkiInputs } from '../bootstrap/cluster-facts.js';
import type { ClusterSpec } from '../cluster/spec.js';
import type { NodeSummary } from '../kube/client.js';
import type { MembershipDeps } from './types.js';

/** A tick must not wait long on an API that does not answer (the agents' reachability still counts). */
const NODES_TIMEOUT_MS = 4000;

/** `nodesOf` for the AutoReplacer: rejects when the API does not answer. */
export function clusterNodesOf(deps: Pick<MembershipDeps, 'bootstrap'>): (spec: ClusterSpec) => Promise<NodeSummary[]> {
  return async (spec) => {
    const pki = await deps.bootstrap.readPki(spec.name, pkiInputs(spec));
    return deps.bootstrap.kube({ ...kubeApiOptions(spec, pki), timeoutMs: { nodes: NODES_TIMEOUT_MS } }).nodes();
  };
}

/**
 * `ballastctl cluster status` and `cluster list`: a cluster's newest create operation and its live
 * state — etcd members (id, leader, health, learner) read from etcd with the cluster's client
 * certificate, the VIP holder and term from the election key, nodes from the Kubernetes API. Each
 * source has its own short deadline; one that does not answer is reported as an error of its part,
 * never as a failure of the whole status. Check-mode operations are not clusters.
 */
import { BallastError, messageOf } from '../../../shared/src/errors.js';
import { probeMembers } from '../../../shared/src/etcd/health.js';
import type { ClusterList, ClusterStatus } from '../../../shared/src/clusters-api.js';
import type { ClusterSpec } from '../cluster/spec.js';
import type { OperationEngine } from '../ops/engine.js';
import type { OperationRecord } from '../ops/records.js';
import { clientUrl, kubeApiOptions, pkiInputs, specOf } from './cluster-facts.js';
import type { BootstrapDeps } from './deps.js';
import type { ClusterLifecycleRepo } from '../store/clusters.js';
import { CLUSTER_CREATE } from './kind.js';
import { lastOperations, lifecycleOf } from './lifecycle.js';
import { hostsWithRole } from './plan.js';

const STATUS_TIMEOUT_MS = 2000;

/** The newest non-check `cluster.create` operation per cluster (its spec is the cluster's). */
export function newestCreates(ops: Pick<OperationEngine, 'list' | 'find'>): Map<string, OperationRecord> {
  const out = new Map<string, OperationRecord>();
  for (const item of ops.list(1000)) {
    if (item.kind !== CLUSTER_CREATE || item.cluster === null || out.has(item.cluster)) continue;
    const record = ops.find(item.id);
    if (!record.check) out.set(item.cluster, record);
  }
  return out;
}

/** Every cluster with its lifecycle; `clusters` is the stored lifecycle (store/clusters.ts). */
export function listClusters(ops: Pick<OperationEngine, 'list' | 'find'>, clusters: Pick<ClusterLifecycleRepo, 'get'>): ClusterList {
  const last = lastOperations(ops);
  return {
    items: [...newestCreates(ops)].map(([name, op]) => {
      const spec = specOf(op);
      const lastOp = last.get(name) ?? { id: op.id, kind: op.kind, state: op.state };
      return {
        name,
        operation: op.id,
        state: op.state,
        lifecycle: lifecycleOf(name, lastOp, clusters),
        lastOperation: lastOp,
        hosts: spec.hosts.length,
        vip: spec.vip.address,
        updatedAt: new Date(op.updatedAt).toISOString(),
      };
    }),
  };
}

/** `current`: the cluster's spec after membership changes (membership/specs.ts); default its create's. */
export async function clusterStatus(name: string, ops: Pick<OperationEngine, 'list' | 'find' | 'get'>, deps: BootstrapDeps, current?: ClusterSpec): Promise<ClusterStatus> {
  const op = newestCreates(ops).get(name);
  if (op === undefined) throw new BallastError('BALLAST_ERR_NOT_FOUND', `cluster "${name}" does not exist (no cluster create has run for it; see ballastctl ops)`);
  const spec = current ?? specOf(op);
  const doc = ops.get(op.id);
  const lastOp = lastOperations(ops).get(name) ?? { id: op.id, kind: op.kind, state: op.state };
  const status: ClusterStatus = {
    name,
    vipAddress: spec.vip.address,
    lifecycle: lifecycleOf(name, lastOp, deps.clusters),
    lastOperation: lastOp,
    operation: { id: op.id, state: op.state, done: doc.progress.done, total: doc.progress.total, current: doc.current?.key ?? null },
    etcd: { members: [], error: null },
    vip: { holder: null, term: null, error: null },
    nodes: { items: [], error: null },
  };
  let pki: Awaited<ReturnType<BootstrapDeps['pki']>>;
  try {
    // The stored PKI: a status must not issue certificates, nor use a check-mode preview's.
    pki = await deps.readPki(spec.name, pkiInputs(spec));
  } catch (err) {
    const why = `cluster PKI unavailable: ${messageOf(err)}`;
    return { ...status, etcd: { members: [], error: why }, vip: { ...status.vip, error: why }, nodes: { items: [], error: why } };
  }
  const etcdHosts = hostsWithRole(spec, 'etcd');
  const [first] = etcdHosts;
  const client = first === undefined ? undefined : pki.etcdClients.get(first.name);
  if (first !== undefined && client !== undefined) {
    const etcd = deps.etcd({ endpoints: etcdHosts.map(clientUrl), tls: { ca: pki.etcdCa.certPem, cert: client.certPem, key: client.keyPem }, timeoutMs: STATUS_TIMEOUT_MS });
    await Promise.all([
      (async () => {
        try {
          const members = await etcd.memberList();
          const health = await probeMembers(etcd, members);
          const leaders = new Set<string>();
          await Promise.all(
            members.flatMap((m) =>
              m.clientUrls.slice(0, 1).map(async (url) => {
                const s = await etcd.status(url).catch(() => null);
                if (s !== null && s.leader !== '0') leaders.add(s.leader);
              }),
            ),
          );
          status.etcd.members = members.map((m) => ({
            id: m.id,
            name: m.name,
            peerUrls: m.peerUrls,
            learner: m.isLearner,
            leader: leaders.has(m.id),
            healthy: health.healthy.has(m.id),
            problem: health.problems.get(m.id) ?? null,
          }));
        } catch (err) {
          status.etcd.error = messageOf(err);
        }
      })(),
      (async () => {
        try {
          const kv = await etcd.get(`/ballast/vip/${spec.name}/holder`);
          if (kv !== null) {
            const value = JSON.parse(kv.value) as { host?: unknown };
            status.vip.holder = typeof value.host === 'string' ? value.host : null;
            status.vip.term = kv.createRevision;
          }
        } catch (err) {
          status.vip.error = messageOf(err);
        }
      })(),
    ]);
  } else {
    status.etcd.error = 'no etcd member with a client certificate in the cluster PKI yet';
  }
  try {
    const api = deps.kube({ ...kubeApiOptions(spec, pki), timeoutMs: { nodes: STATUS_TIMEOUT_MS } });
    status.nodes.items = await api.nodes();
  } catch (err) {
    status.nodes.error = messageOf(err);
  }
  return status;
}

/**
 * Test doubles for node replacement (never used in production), on top of the bootstrap's
 * {@link FakeFleet}: hosts whose agent is gone (a run on them is refused as the orchestrator
 * refuses it, their etcd member does not answer), the reset role stopping the host's etcd member,
 * and a modelled Kubernetes API ({@link ModelKube}) with Nodes, pods and PodDisruptionBudgets
 * whose evictions answer as the API server does (a blocked budget is a refusal, not an error).
 */
import { BallastError } from '../../../shared/src/errors.js';
import type { EtcdClient } from '../../../shared/src/etcd/client.js';
import type { RunDocument } from '../../../shared/src/runs-api.js';
import { FakeFleet } from '../bootstrap/fakes.js';
import type { EvictionResult, KubeNodeOps, NodeView, PodRef, Taint } from '../kube/node-ops.js';
import type { FleetHostView, SelfFenceFacts } from './types.js';

/** FakeFleet plus unreachable hosts. */
export class ReplaceFleet extends FakeFleet {
  /** Hosts whose agent is disconnected (and whose etcd does not answer). */
  readonly offline = new Set<string>();
  /** Hosts removed from the fleet (revoked), and why. */
  readonly revoked = new Set<string>();
  readonly revokeReasons = new Map<string, string>();
  /** Enrolled hosts and the addresses their agents connect from (a host not listed is not enrolled). */
  readonly addresses = new Map<string, string>();
  /** Hosts whose agents advertise self-fencing (facts), and their last heartbeats. */
  readonly selfFence = new Map<string, SelfFenceFacts>();
  readonly lastHeartbeat = new Map<string, number>();

  override start(request: { role: string; hosts: string[]; check: boolean; diff: boolean; vars: Record<string, unknown> }): RunDocument {
    const host = request.hosts[0] ?? '';
    if (this.offline.has(host) || this.revoked.has(host)) {
      throw new BallastError('BALLAST_ERR_HOST_NOT_CONNECTED', `failed to start run of role "${request.role}": host "${host}" has no agent connected`);
    }
    const doc = super.start(request);
    // The reset role stops etcd: the member stays in the cluster, not started, until it is removed.
    if (request.role === 'reset' && !request.check) {
      for (const m of this.members) if (m.name === host) m.started = false;
    }
    return doc;
  }

  override etcdClient(): EtcdClient {
    const inner = super.etcdClient();
    return {
      ...inner,
      status: async (endpoint, opts) => {
        const m = this.members.find((x) => endpoint === x.peerUrl.replace(':2380', ':2379'));
        if (m !== undefined && this.offline.has(m.name)) throw new BallastError('BALLAST_ERR_ETCD_UNAVAILABLE', `${endpoint} does not answer (host down)`);
        return inner.status(endpoint, opts);
      },
    };
  }

  /** The membership deps' hosts port over this model. */
  hostsPort() {
    return {
      find: (name: string): FleetHostView | null => {
        const address = this.addresses.get(name);
        if (this.revoked.has(name) || address === undefined) return null;
        return { connected: !this.offline.has(name), address, lastHeartbeatAt: this.lastHeartbeat.get(name) ?? null, selfFence: this.selfFence.get(name) ?? null };
      },
      revoke: (name: string, reason: string): boolean => {
        if (this.revoked.has(name)) return false;
        this.revoked.add(name);
        this.revokeReasons.set(name, reason);
        return true;
      },
      revokedReason: (name: string): string | null => this.revokeReasons.get(name) ?? null,
    };
  }
}

interface ModelPod {
  namespace: string;
  name: string;
  node: string;
  app: string;
  daemonSet: boolean;
}

/** A modelled Kubernetes API over the fleet's nodes, with pods and budgets. */
export class ModelKube implements KubeNodeOps {
  readonly pods: ModelPod[] = [];
  readonly cordoned = new Set<string>();
  readonly taints = new Map<string, Taint[]>();
  readonly labels = new Map<string, Record<string, string>>();
  /** app → minimum available; an eviction that would go below it is refused (429). */
  readonly budgets = new Map<string, number>();
  /** app → pods that cannot be scheduled elsewhere (evicted and gone for now). */
  readonly evictions: string[] = [];
  kubeadmConfig: { data: Record<string, string>; resourceVersion: string } | null = null;
  private seq = 0;

  constructor(private readonly fleet: FakeFleet) {}

  addPod(pod: Omit<ModelPod, 'daemonSet'> & { daemonSet?: boolean }): void {
    this.pods.push({ daemonSet: false, ...pod });
  }

  async getNode(name: string): Promise<NodeView | null> {
    return this.fleet.nodes.has(name) ? { name, unschedulable: this.cordoned.has(name), taints: [...(this.taints.get(name) ?? [])], labels: { ...(this.labels.get(name) ?? {}) } } : null;
  }
  async patchNodeSpec(name: string, spec: { unschedulable?: boolean; taints?: Taint[] }): Promise<void> {
    if (!this.fleet.nodes.has(name)) throw new BallastError('BALLAST_ERR_KUBE_REFUSED', `failed to patch Node ${name}: 404 NotFound`);
    if (spec.unschedulable === true) this.cordoned.add(name);
    if (spec.taints !== undefined) this.taints.set(name, spec.taints);
  }
  async patchNodeLabels(name: string, labels: Record<string, string>): Promise<void> {
    if (!this.fleet.nodes.has(name)) throw new BallastError('BALLAST_ERR_KUBE_REFUSED', `failed to label Node ${name}: 404 NotFound`);
    this.labels.set(name, { ...(this.labels.get(name) ?? {}), ...labels });
  }
  async deleteNode(name: string): Promise<boolean> {
    this.taints.delete(name);
    this.labels.delete(name);
    return this.fleet.nodes.delete(name);
  }
  async podsOn(node: string): Promise<PodRef[]> {
    return this.pods.filter((p) => p.node === node).map((p) => ({ namespace: p.namespace, name: p.name, daemonSet: p.daemonSet, mirror: false }));
  }
  async evict(ref: Pick<PodRef, 'namespace' | 'name'>): Promise<EvictionResult> {
    const pod = this.pods.find((p) => p.namespace === ref.namespace && p.name === ref.name);
    if (pod === undefined) return { kind: 'gone' };
    const min = this.budgets.get(pod.app);
    const target = [...this.fleet.nodes].find((n) => n !== pod.node && !this.cordoned.has(n));
    const available = this.pods.filter((p) => p.app === pod.app).length;
    if (min !== undefined && available - 1 < min) {
      return { kind: 'blocked', reason: `429 TooManyRequests: Cannot evict pod as it would violate the pod's disruption budget (${pod.app}: ${available} available, min ${min})` };
    }
    this.evictions.push(`${pod.namespace}/${pod.name}`);
    this.pods.splice(this.pods.indexOf(pod), 1);
    // Its controller starts a replacement elsewhere at once (the model's scheduler).
    if (target !== undefined) this.pods.push({ ...pod, name: `${pod.app}-${++this.seq}`, node: target });
    return { kind: 'evicted' };
  }
  async getConfigMap(namespace: string, name: string) {
    return namespace === 'kube-system' && name === 'kubeadm-config' ? this.kubeadmConfig : null;
  }
  async putConfigMapData(_namespace: string, _name: string, data: Record<string, string>, resourceVersion: string): Promise<void> {
    if (this.kubeadmConfig?.resourceVersion !== resourceVersion) throw new BallastError('BALLAST_ERR_KUBE_REFUSED', 'failed to update ConfigMap: 409 Conflict');
    this.kubeadmConfig = { data, resourceVersion: String(Number(resourceVersion) + 1) };
  }
}

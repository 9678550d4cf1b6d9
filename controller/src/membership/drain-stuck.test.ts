/**
 * drainNode and pods stuck terminating on a node whose kubelet is gone (the automatic replacement of
 * a NotReady node whose agent still answers): not waited for past STUCK_TERMINATING_MS when the Node
 * is NotReady, always waited for when it is Ready. A modelled API (the port, in memory): the real
 * calls are node-ops.ts's, tested over HTTPS in test/integration/kube-node-ops*.test.ts.
 */
import { describe, expect, it } from 'vitest';
import type { EvictionResult, KubeNodeOps, NodeView, PodRef } from '../kube/node-ops.js';
import { drainNode } from './drain.js';

/** A node whose pods never go away once evicted: they stay terminating (no kubelet to confirm). */
function deadKubelet(ready: boolean, pods: PodRef[], now: () => number): KubeNodeOps & { evictions: number } {
  return {
    evictions: 0,
    async getNode(name): Promise<NodeView> {
      return { name, unschedulable: true, taints: [], ready };
    },
    async patchNodeSpec() {},
    async patchNodeLabels() {},
    async deleteNode() {
      return true;
    },
    async podsOn() {
      return pods.map((p) => ({ ...p }));
    },
    async evict(ref): Promise<EvictionResult> {
      this.evictions++;
      const pod = pods.find((p) => p.name === ref.name);
      if (pod !== undefined && pod.terminatingSince === undefined) pod.terminatingSince = now();
      return { kind: 'evicted' };
    },
    async getConfigMap() {
      return null;
    },
    async putConfigMapData() {},
  };
}

const pod = (name: string): PodRef => ({ namespace: 'shop', name, daemonSet: false, mirror: false });

describe('drain: pods stuck terminating', () => {
  it('on a NotReady node: left to the reset once terminating for the stuck limit, and said so', async () => {
    let t = 1_000_000;
    const api = deadKubelet(false, [pod('web-a'), pod('web-b')], () => t);
    const out = await drainNode(api, 'cp-2', { timeoutMs: 10_000, intervalMs: 1, stuckTerminatingMs: 50, now: () => (t += 20), signal: new AbortController().signal });
    expect(out.message).toBe('cp-2 drained: 2 evictions; 2 pods terminating for over 0 s on the NotReady node are left to the reset (its kubelet does not answer)');
    expect(api.evictions).toBeGreaterThanOrEqual(2);
  });

  it('on a Ready node: waited for until the deadline, then the drain fails naming them', async () => {
    let t = 1_000_000;
    const api = deadKubelet(true, [pod('web-a')], () => t);
    await expect(drainNode(api, 'cp-2', { timeoutMs: 200, intervalMs: 20, stuckTerminatingMs: 50, now: () => (t += 20), signal: new AbortController().signal })).rejects.toMatchObject({
      code: 'BALLAST_ERR_DRAIN_TIMEOUT',
      message: expect.stringContaining('1 pods left: shop/web-a (terminating)'),
    });
  });
});

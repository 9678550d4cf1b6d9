import { describe, expect, it } from 'vitest';
import type { NodeView, Taint } from '../kube/node-ops.js';
import { CONTROL_PLANE_LABELS, CONTROL_PLANE_TAINT, ensureControlPlaneMarks, missingMarks } from './control-plane-marks.js';

/** The two patch calls, recorded. */
function recorder() {
  const calls: string[] = [];
  return {
    calls,
    async patchNodeLabels(name: string, labels: Record<string, string>) {
      calls.push(`labels ${name} ${JSON.stringify(labels)}`);
    },
    async patchNodeSpec(name: string, spec: { taints?: Taint[] }) {
      calls.push(`taints ${name} ${JSON.stringify(spec.taints)}`);
    },
  };
}

describe('control-plane marks after a restore (a kubelet registers its Node without them; found in the lab)', () => {
  it('a freshly registered Node gets kubeadm\'s labels and the NoSchedule taint; its other taints are kept', async () => {
    const other: Taint = { key: 'node.kubernetes.io/not-ready', effect: 'NoSchedule' };
    const node: NodeView = { name: 'host4', unschedulable: false, taints: [other], labels: { 'kubernetes.io/hostname': 'host4' } };
    expect(missingMarks(node)).toEqual([
      'label node-role.kubernetes.io/control-plane',
      'label node.kubernetes.io/exclude-from-external-load-balancers',
      'taint node-role.kubernetes.io/control-plane:NoSchedule',
    ]);
    const api = recorder();
    expect(await ensureControlPlaneMarks(api, node)).toHaveLength(3);
    expect(api.calls).toEqual([`labels host4 ${JSON.stringify(CONTROL_PLANE_LABELS)}`, `taints host4 ${JSON.stringify([other, CONTROL_PLANE_TAINT])}`]);
  });

  it('a Node that carries them is left alone (converges); a missing label alone patches only the labels', async () => {
    const marked: NodeView = { name: 'host5', unschedulable: false, taints: [CONTROL_PLANE_TAINT], labels: { ...CONTROL_PLANE_LABELS } };
    const api = recorder();
    expect(await ensureControlPlaneMarks(api, marked)).toEqual([]);
    expect(api.calls).toEqual([]);
    const half: NodeView = { ...marked, labels: { 'node-role.kubernetes.io/control-plane': '' } };
    expect(await ensureControlPlaneMarks(api, half)).toEqual(['label node.kubernetes.io/exclude-from-external-load-balancers']);
    expect(api.calls).toEqual([`labels host5 ${JSON.stringify(CONTROL_PLANE_LABELS)}`]);
  });
});

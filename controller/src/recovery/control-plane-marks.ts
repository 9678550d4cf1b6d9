/**
 * The control planes' marks after a restore. kubeadm's mark-control-plane phase puts the
 * `node-role.kubernetes.io/control-plane` label (and the external load balancers' exclusion) and
 * the `NoSchedule` taint on a control plane's Node through the API; a kubelet registers its Node
 * without them. After a recovery onto new hosts the restored data has no Node of theirs, so their
 * kubelets register fresh Nodes (`kubelets/restart`) — found in the lab with `ROLES <none>` and
 * no taint, every pod free to land on a control plane. This step puts the marks back, converging:
 * a Node that carries them is left alone, and other labels and taints are kept.
 */
import { Type } from '@sinclair/typebox';
import { kubeApiOptions, pkiInputs } from '../bootstrap/cluster-facts.js';
import { GATE_INTERVAL_MS, waitForGate } from '../bootstrap/gate.js';
import type { KubeNodeOps, NodeView, Taint } from '../kube/node-ops.js';
import type { StepContext, StepExecutor, StepOutcome, StepView } from '../ops/types.js';
import { recoverInputOf } from './input.js';
import { type RecoveryDeps, RSTEP } from './types.js';

/** What kubeadm's mark-control-plane phase labels a control plane's Node with. */
export const CONTROL_PLANE_LABELS: Readonly<Record<string, string>> = { 'node-role.kubernetes.io/control-plane': '', 'node.kubernetes.io/exclude-from-external-load-balancers': '' };
/** And taints it with (Ballast's kubeadm configuration leaves kubeadm's default on control planes). */
export const CONTROL_PLANE_TAINT: Taint = { key: 'node-role.kubernetes.io/control-plane', effect: 'NoSchedule' };

/** The marks `node` lacks, as the phrases a step message lists; none: it carries them all. */
export function missingMarks(node: NodeView): string[] {
  const labels = node.labels ?? {};
  const out = Object.keys(CONTROL_PLANE_LABELS).filter((k) => !(k in labels)).map((k) => `label ${k}`);
  if (!node.taints.some((t) => t.key === CONTROL_PLANE_TAINT.key && t.effect === CONTROL_PLANE_TAINT.effect)) out.push(`taint ${CONTROL_PLANE_TAINT.key}:${CONTROL_PLANE_TAINT.effect}`);
  return out;
}

/** Puts the missing marks on `node` (present); returns what it added. */
export async function ensureControlPlaneMarks(api: Pick<KubeNodeOps, 'patchNodeLabels' | 'patchNodeSpec'>, node: NodeView): Promise<string[]> {
  const missing = missingMarks(node);
  if (missing.some((m) => m.startsWith('label '))) await api.patchNodeLabels(node.name, { ...CONTROL_PLANE_LABELS });
  if (missing.some((m) => m.startsWith('taint '))) await api.patchNodeSpec(node.name, { taints: [...node.taints, CONTROL_PLANE_TAINT] });
  return missing;
}

const Name = Type.String({ pattern: '^[a-z0-9]([a-z0-9.-]{0,61}[a-z0-9])?$' });

/** The `nodes/control-plane-marks` step: waits for each control plane's Node (registered again), then marks it. */
export function controlPlaneMarksExecutor(deps: RecoveryDeps): StepExecutor<{ hosts: string[] }> {
  const run = (check: boolean) => async (step: StepView<{ hosts: string[] }>, ctx: StepContext): Promise<StepOutcome> => {
    const { spec } = recoverInputOf(ctx.op);
    if (check) return { changed: true, message: `would wait for the Nodes of ${step.args.hosts.join(', ')} and put back any control-plane label or taint they lack` };
    const api = deps.kubeNodes(kubeApiOptions(spec, await deps.bootstrap.pki(spec.name, pkiInputs(spec), false)));
    const nodes = new Map<string, NodeView>();
    await waitForGate({
      what: `the Nodes of ${step.args.hosts.join(', ')} registered`,
      signal: ctx.signal,
      timeoutMs: 300_000,
      intervalMs: deps.bootstrap.gateIntervalMs ?? GATE_INTERVAL_MS,
      progress: ctx.progress,
      probe: async () => {
        for (const h of step.args.hosts) {
          const n = await api.getNode(h);
          if (n !== null) nodes.set(h, n);
        }
        const waiting = step.args.hosts.filter((h) => !nodes.has(h));
        return waiting.length === 0 ? null : `no Node yet: ${waiting.join(', ')}`;
      },
    });
    const added: string[] = [];
    for (const h of step.args.hosts) {
      const node = nodes.get(h);
      if (node === undefined) continue;
      const missing = await ensureControlPlaneMarks(api, node);
      if (missing.length > 0) added.push(`${h}: ${missing.join(', ')}`);
    }
    return { changed: added.length > 0, message: added.length === 0 ? `control-plane marks already on ${step.args.hosts.join(', ')}` : `control-plane marks put back — ${added.join('; ')}` };
  };
  return { kind: RSTEP.marks, args: Type.Object({ hosts: Type.Array(Name, { minItems: 1, maxItems: 50 }) }), execute: run(false), check: run(true) };
}

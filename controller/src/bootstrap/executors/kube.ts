/**
 * The Kubernetes phases: `kubeadm init` on the first control plane (external etcd, the VIP as
 * control-plane endpoint, the controller's CAs), the API's /readyz through the VIP, the CNI
 * manifest, `kubeadm join --control-plane` one host at a time (each gated on /readyz), workers in
 * batches gated on node Ready. The kubeadm module is guarded (init and join are done once they
 * succeeded; a half-done one is reset and run again), so a re-executed step converges; the manifest is applied with
 * server-side apply, which is idempotent.
 */
import { Type } from '@sinclair/typebox';
import { BallastError } from '../../../../shared/src/errors.js';
import type { StepContext, StepExecutor, StepOutcome, StepView } from '../../ops/types.js';
import type { ClusterSpec } from '../../cluster/spec.js';
import { renderInitConfig, renderJoinConfig } from '../../kube/kubeadm-config.js';
import type { ClusterPkiBundle } from '../../pki/cluster-pki.js';
import { kubeadmPkiFiles } from '../../pki/cluster-pki-files.js';
import { hostOf, kubeadmInput, kubeApiOptions, pkiInputs, specOf, wantsDiff } from '../cluster-facts.js';
import type { BootstrapDeps } from '../deps.js';
import { GATE_INTERVAL_MS, waitForGate } from '../gate.js';
import { STEP } from '../plan.js';
import { recapText, runRole } from '../role-runner.js';

const Name = Type.String({ pattern: '^[a-z0-9]([a-z0-9.-]{0,61}[a-z0-9])?$' });
const KUBEADM_BINARY = '/usr/bin/kubeadm';

/** The kube-control-plane role's vars for `host`: the kubeadm pki files and an init or join config. */
export function controlPlaneVars(spec: ClusterSpec, pki: ClusterPkiBundle, host: string, action: 'init' | 'join'): Record<string, unknown> {
  const input = kubeadmInput(spec, hostOf(spec, host), pki);
  const config = action === 'init' ? renderInitConfig(input) : renderJoinConfig(input, { controlPlane: true });
  const pkiFiles = kubeadmPkiFiles(pki).map((f) => ({ path: f.path, content: f.content, mode: f.mode === 0o600 ? '0600' : '0644' }));
  return { pki: pkiFiles, kubeadm: { action, config }, binary: KUBEADM_BINARY };
}

/** The kube-worker role's vars for `host`. */
export function workerVars(spec: ClusterSpec, pki: ClusterPkiBundle, host: string): Record<string, unknown> {
  const config = renderJoinConfig(kubeadmInput(spec, hostOf(spec, host), pki), { controlPlane: false });
  return { caCert: pki.kubernetesCa.certPem, kubeadm: { config }, binary: KUBEADM_BINARY };
}

function pkiOf(deps: BootstrapDeps, spec: ClusterSpec, check: boolean): Promise<ClusterPkiBundle> {
  return deps.pki(spec.name, pkiInputs(spec), check);
}

/** kubeadm init (action init) or join --control-plane (action join) on one host. */
function controlPlaneExecutor(deps: BootstrapDeps, kind: string, action: 'init' | 'join'): StepExecutor<{ host: string }> {
  const run = (check: boolean) => async (step: StepView<{ host: string }>, ctx: StepContext): Promise<StepOutcome> => {
    const spec = specOf(ctx.op);
    const pki = await pkiOf(deps, spec, check);
    const { host } = step.args;
    const outcomes = await runRole({
      runs: deps.runs,
      role: 'kube-control-plane',
      hosts: [{ host, vars: controlPlaneVars(spec, pki, host, action) }],
      check,
      signal: ctx.signal,
      actor: ctx.op.id,
      diff: wantsDiff(ctx.op),
      progress: ctx.progress,
    });
    const verb = action === 'init' ? 'kubeadm init' : 'kubeadm join --control-plane';
    return { changed: outcomes.some((o) => o.recap.changed > 0), message: `${verb} on ${host}: ${recapText(outcomes)}` };
  };
  return { kind, args: Type.Object({ host: Name }), execute: run(false), check: run(true) };
}

export const kubeInitExecutor = (deps: BootstrapDeps) => controlPlaneExecutor(deps, STEP.kubeInit, 'init');
export const kubeJoinControlPlaneExecutor = (deps: BootstrapDeps) => controlPlaneExecutor(deps, STEP.kubeJoinControlPlane, 'join');

/** A gate never runs in check mode: nothing was started that it could wait for. */
function skippedGate(message: string) {
  return async (): Promise<StepOutcome> => ({ changed: false, skipped: true, message });
}

/** Gate: the API server answers /readyz through the VIP. */
export function kubeReadyExecutor(deps: BootstrapDeps): StepExecutor {
  return {
    kind: STEP.kubeReady,
    async execute(_step, ctx) {
      const spec = specOf(ctx.op);
      const api = deps.kube(kubeApiOptions(spec, await pkiOf(deps, spec, false)));
      const tries = await waitForGate({
        what: `API server /readyz at ${spec.vip.address}:${spec.vip.port}`,
        signal: ctx.signal,
        timeoutMs: 300_000,
        intervalMs: deps.gateIntervalMs ?? GATE_INTERVAL_MS,
        progress: ctx.progress,
        probe: async () => {
          const r = await api.readyz();
          return r.ok ? null : `not ready: ${r.body.split('\n').filter((l) => l.includes('failed')).join(', ') || 'no detail'}`;
        },
      });
      return { changed: false, message: `API server ready through the VIP (after ${tries} probe${tries === 1 ? '' : 's'})` };
    },
    check: skippedGate('would wait for the API server /readyz through the VIP'),
  };
}

/** Applies the CNI manifest of the spec (server-side apply: unchanged objects stay unchanged). */
export function kubeCniExecutor(deps: BootstrapDeps): StepExecutor {
  return {
    kind: STEP.kubeCni,
    async execute(_step, ctx) {
      const spec = specOf(ctx.op);
      const manifest = spec.network.cniManifest;
      if (manifest === undefined) return { changed: false, skipped: true, message: 'no CNI manifest in the spec (network.cniManifest); install one yourself' };
      if (typeof manifest === 'string') {
        throw new BallastError('BALLAST_ERR_VALIDATION', 'network.cniManifest must be sent inline (ballastctl reads the file)', { path: '/network/cniManifest' });
      }
      const api = deps.kube(kubeApiOptions(spec, await pkiOf(deps, spec, false)));
      const results = await api.apply(manifest.inline);
      const changed = results.filter((r) => r.action !== 'unchanged');
      return { changed: changed.length > 0, message: `CNI manifest: ${results.length} objects, ${changed.length} created or updated` };
    },
    check: async (_step, ctx) => {
      const spec = specOf(ctx.op);
      return { changed: false, skipped: true, message: spec.network.cniManifest === undefined ? 'no CNI manifest' : 'would apply the CNI manifest' };
    },
  };
}

/** kubeadm join on a batch of workers, in parallel. */
export function kubeJoinWorkersExecutor(deps: BootstrapDeps): StepExecutor<{ hosts: string[] }> {
  const run = (check: boolean) => async (step: StepView<{ hosts: string[] }>, ctx: StepContext): Promise<StepOutcome> => {
    const spec = specOf(ctx.op);
    const pki = await pkiOf(deps, spec, check);
    const outcomes = await runRole({
      runs: deps.runs,
      role: 'kube-worker',
      hosts: step.args.hosts.map((host) => ({ host, vars: workerVars(spec, pki, host) })),
      check,
      signal: ctx.signal,
      actor: ctx.op.id,
      diff: wantsDiff(ctx.op),
      progress: ctx.progress,
    });
    return { changed: outcomes.some((o) => o.recap.changed > 0), message: `kubeadm join on ${step.args.hosts.join(', ')}: ${recapText(outcomes)}` };
  };
  return { kind: STEP.kubeJoinWorkers, args: Type.Object({ hosts: Type.Array(Name, { minItems: 1, maxItems: 5000 }) }), execute: run(false), check: run(true) };
}

/** Gate: every host of the batch is a Ready node. */
export function kubeNodesReadyExecutor(deps: BootstrapDeps): StepExecutor<{ hosts: string[] }> {
  return {
    kind: STEP.kubeNodesReady,
    args: Type.Object({ hosts: Type.Array(Name, { minItems: 1, maxItems: 5000 }) }),
    async execute(step, ctx) {
      const spec = specOf(ctx.op);
      const api = deps.kube(kubeApiOptions(spec, await pkiOf(deps, spec, false)));
      await waitForGate({
        what: `nodes Ready: ${step.args.hosts.join(', ')}`,
        signal: ctx.signal,
        timeoutMs: 600_000,
        intervalMs: deps.gateIntervalMs ?? GATE_INTERVAL_MS,
        progress: ctx.progress,
        probe: async () => {
          const ready = new Set((await api.nodes()).filter((n) => n.ready).map((n) => n.name));
          const waiting = step.args.hosts.filter((h) => !ready.has(h));
          return waiting.length === 0 ? null : `not Ready yet: ${waiting.join(', ')}`;
        },
      });
      return { changed: false, message: `${step.args.hosts.length} nodes Ready` };
    },
    check: async (step) => ({ changed: false, skipped: true, message: `would wait until ${step.args.hosts.join(', ')} are Ready nodes` }),
  };
}

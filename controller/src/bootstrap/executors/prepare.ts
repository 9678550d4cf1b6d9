/**
 * The first phases of `cluster create`: validate the spec against the live fleet, preflight every
 * host at once, make sure the cluster PKI exists, and run host roles (os-prep, containerd,
 * kube-node, images) on all hosts in parallel. All idempotent: validation and preflight only read, the PKI
 * is ensured (reused when stored), roles converge.
 */
import { Type } from '@sinclair/typebox';
import { BallastError } from '../../../../shared/src/errors.js';
import type { StepContext, StepExecutor, StepOutcome, StepView } from '../../ops/types.js';
import type { ClusterSpec } from '../../cluster/spec.js';
import { hostOf, pkiInputs, specOf, wantsDiff } from '../cluster-facts.js';
import type { BootstrapDeps } from '../deps.js';
import { STEP } from '../plan.js';
import { recapText, runRole } from '../role-runner.js';

const Hosts = Type.Array(Type.String({ maxLength: 63 }), { minItems: 1, maxItems: 5000 });

/** Validation against the fleet and the mirror; fails listing every problem. Read-only, so check mode does the same. */
export function validateExecutor(deps: BootstrapDeps): StepExecutor {
  const run = async (_step: StepView, ctx: StepContext): Promise<StepOutcome> => {
    const spec = specOf(ctx.op);
    const result = deps.validate(spec);
    if (result.problems.length > 0) {
      const n = result.problems.length;
      throw new BallastError('BALLAST_ERR_VALIDATION', `cluster ${spec.name}: ${n} problem${n === 1 ? '' : 's'}: ${result.problems.map((p) => `${p.path}: ${p.message}`).join('; ')}`, {
        path: result.problems[0]?.path ?? '/',
      });
    }
    const notes = result.notes.length === 0 ? '' : ` (${result.notes.length} note${result.notes.length === 1 ? '' : 's'}: ${result.notes.map((p) => p.message).join('; ')})`;
    return { changed: false, message: `cluster ${spec.name} is valid: ${spec.hosts.length} hosts${notes}` };
  };
  return { kind: STEP.validate, execute: run, check: run };
}

/** The ports a host's roles need free, each fine when Ballast's own service from an earlier run holds it. */
export function preflightVars(spec: ClusterSpec, name: string): Record<string, unknown> {
  const host = hostOf(spec, name);
  const ports: { port: number; unlessExists: string }[] = [{ port: 10250, unlessExists: '/etc/kubernetes/kubelet.conf' }];
  if (host.roles.includes('etcd')) {
    ports.push({ port: 2379, unlessExists: '/etc/etcd/etcd.env' }, { port: 2380, unlessExists: '/etc/etcd/etcd.env' });
  }
  if (host.roles.includes('control-plane')) {
    for (const port of [spec.vip.port, 10257, 10259]) ports.push({ port, unlessExists: '/etc/kubernetes/manifests/kube-apiserver.yaml' });
  }
  // cgroup v2 is not required: kubelet still supports v1 (in maintenance mode since 1.31), and
  // containerd's SystemdCgroup driver works on both.
  return { freePorts: ports, minFreeBytes: { '/var/lib': 2 * 1024 ** 3 }, cgroupV2: false };
}

/** Preflight on every host at once; one failing host fails the step with every host's problems. */
export function preflightExecutor(deps: BootstrapDeps): StepExecutor<{ hosts: string[] }> {
  const run = (check: boolean) => async (step: StepView<{ hosts: string[] }>, ctx: StepContext): Promise<StepOutcome> => {
    const spec = specOf(ctx.op);
    const hosts = step.args.hosts.map((host) => ({ host, vars: preflightVars(spec, host) }));
    const outcomes = await runRole({ runs: deps.runs, role: 'preflight', hosts, check, signal: ctx.signal, actor: ctx.op.id,
      diff: wantsDiff(ctx.op), progress: ctx.progress });
    return { changed: false, message: `${outcomes.length} hosts passed preflight` };
  };
  return { kind: STEP.preflight, args: Type.Object({ hosts: Hosts }), execute: run(false), check: run(true) };
}

/** Ensures the cluster PKI (reused when stored and still fitting; see pki/cluster-pki.ts). */
export function pkiExecutor(deps: BootstrapDeps): StepExecutor {
  const run = (check: boolean) => async (_step: StepView, ctx: StepContext): Promise<StepOutcome> => {
    const spec = specOf(ctx.op);
    const bundle = await deps.pki(spec.name, pkiInputs(spec), check);
    const issued = bundle.issued.map((i) => `${i.name} (${i.reason})`);
    const verb = check ? 'would issue' : 'issued';
    return {
      changed: issued.length > 0,
      message: issued.length === 0 ? 'cluster PKI up to date' : `${verb} ${issued.length}: ${issued.join(', ')}`,
      data: { issued: bundle.issued.map((i) => i.name) },
    };
  };
  return { kind: STEP.pki, execute: run(false), check: run(true) };
}

/** Vars of a host role from the spec: versions pinned by the cluster, and what the host is. */
export function hostRoleVars(spec: ClusterSpec, role: string, host: string): Record<string, unknown> {
  switch (role) {
    case 'containerd':
      return { version: spec.versions.containerd, systemdCgroup: spec.node.cgroupDriver === 'systemd', restrictOomScoreAdj: spec.node.restrictOomScoreAdj };
    case 'kube-node':
      return { version: spec.versions.kubernetes };
    case 'images':
      return {
        kubernetesVersion: spec.versions.kubernetes,
        controlPlane: hostOf(spec, host).roles.includes('control-plane'),
        kubeProxy: spec.addons.kubeProxy,
        coreDns: spec.addons.coreDns,
      };
    default:
      return {};
  }
}

/** A host role on every listed host, in parallel. */
export function hostRoleExecutor(deps: BootstrapDeps): StepExecutor<{ role: string; hosts: string[] }> {
  const run = (check: boolean) => async (step: StepView<{ role: string; hosts: string[] }>, ctx: StepContext): Promise<StepOutcome> => {
    const spec = specOf(ctx.op);
    const outcomes = await runRole({
      runs: deps.runs,
      role: step.args.role,
      hosts: step.args.hosts.map((host) => ({ host, vars: hostRoleVars(spec, step.args.role, host) })),
      check,
      signal: ctx.signal,
      actor: ctx.op.id,
      diff: wantsDiff(ctx.op),
      progress: ctx.progress,
    });
    const changed = outcomes.some((o) => o.recap.changed > 0);
    const data = { runs: outcomes.map((o) => o.runId) };
    const tasks = outcomes.reduce((n, o) => n + o.recap.ok + o.recap.changed + o.recap.failed + o.recap.skipped, 0);
    if (step.args.role === 'images' && tasks === 0) {
      return { changed: false, message: 'the mirror holds no container images for these hosts: kubeadm and kubelet pull them from the registry', data };
    }
    return { changed, message: `${step.args.role} on ${outcomes.length} hosts: ${recapText(outcomes)}`, data };
  };
  return {
    kind: STEP.hostRole,
    args: Type.Object({ role: Type.Union([Type.Literal('os-prep'), Type.Literal('containerd'), Type.Literal('kube-node'), Type.Literal('images')]), hosts: Hosts }),
    execute: run(false),
    check: run(true),
  };
}

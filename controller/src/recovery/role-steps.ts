/**
 * The recovery's steps that run roles on hosts (roles/recovery.ts and the etcd role), each on all
 * its hosts in parallel through the run orchestrator, so every task result is visible with
 * `ballastctl run ID` and a check-mode operation shows what each host would change.
 */
import { Type } from '@sinclair/typebox';
import { clientUrl, hostOf, initialCluster, peerUrl, pkiInputs, wantsDiff } from '../bootstrap/cluster-facts.js';
import { etcdRoleVars } from '../bootstrap/executors/etcd.js';
import { hostsWithRole } from '../bootstrap/plan.js';
import { type HostRun, recapText, runRole } from '../bootstrap/role-runner.js';
import type { ClusterSpec } from '../cluster/spec.js';
import type { ClusterPkiBundle } from '../pki/cluster-pki.js';
import type { StepContext, StepExecutor, StepOutcome, StepView } from '../ops/types.js';
import { recoverInputOf } from './input.js';
import { type RecoverInput, type RecoveryDeps, RSTEP } from './types.js';

const Name = Type.String({ pattern: '^[a-z0-9]([a-z0-9.-]{0,61}[a-z0-9])?$' });
const Hosts = Type.Object({ hosts: Type.Array(Name, { minItems: 1, maxItems: 50 }) });

interface Env {
  input: RecoverInput & { spec: ClusterSpec };
  spec: ClusterSpec;
  pki: () => Promise<ClusterPkiBundle>;
  etcd: string[];
}

/** A step that runs `role` on `hostsOf(args)` with per-host vars. */
function roleStep<A extends Record<string, unknown>>(
  deps: RecoveryDeps,
  spec: { kind: string; role: string; args: StepExecutor<A>['args']; hosts: (args: A) => string[]; vars: (host: string, env: Env, ctx: StepContext, args: A) => Promise<Record<string, unknown>> | Record<string, unknown>; done: string },
): StepExecutor<A> {
  const run = (check: boolean) => async (step: StepView<A>, ctx: StepContext): Promise<StepOutcome> => {
    const input = recoverInputOf(ctx.op);
    const env: Env = {
      input,
      spec: input.spec,
      pki: () => deps.bootstrap.pki(input.spec.name, pkiInputs(input.spec), check),
      etcd: hostsWithRole(input.spec, 'etcd').map((h) => h.name),
    };
    const hosts = spec.hosts(step.args);
    const runs: HostRun[] = await Promise.all(hosts.map(async (host) => ({ host, vars: await spec.vars(host, env, ctx, step.args) })));
    const outcomes = await runRole({ runs: deps.bootstrap.runs, role: spec.role, hosts: runs, check, signal: ctx.signal, actor: ctx.op.id, diff: wantsDiff(ctx.op), progress: ctx.progress });
    return { changed: outcomes.some((o) => o.recap.changed > 0), message: `${spec.done} on ${hosts.join(', ')}: ${recapText(outcomes)}` };
  };
  return { kind: spec.kind, ...(spec.args === undefined ? {} : { args: spec.args }), execute: run(false), check: run(true) };
}

const hostsArg = (a: { hosts: string[] }) => a.hosts;

/** The client URLs a member's agent probes before touching its data: its own first, then the others. */
function endpointsFor(env: Env, host: string): string[] {
  return [host, ...env.etcd.filter((m) => m !== host)].map((m) => clientUrl(hostOf(env.spec, m)));
}

/** The steps of role-steps.ts. */
export function recoveryRoleExecutors(deps: RecoveryDeps): StepExecutor<never>[] {
  return [
    roleStep<{ hosts: string[] }>(deps, { kind: RSTEP.park, role: 'static-pods', args: Hosts, hosts: hostsArg, vars: () => ({ state: 'parked' }), done: 'kube-apiserver parked' }),
    roleStep<{ hosts: string[] }>(deps, { kind: RSTEP.unpark, role: 'static-pods', args: Hosts, hosts: hostsArg, vars: () => ({ state: 'active' }), done: 'kube-apiserver active' }),
    roleStep<{ hosts: string[] }>(deps, { kind: RSTEP.kubelets, role: 'kubelet-restart', args: Hosts, hosts: hostsArg, vars: () => ({}), done: 'kubelet restarted' }),
    roleStep<{ hosts: string[] }>(deps, { kind: RSTEP.stop, role: 'etcd-stop', args: Hosts, hosts: hostsArg, vars: () => ({}), done: 'etcd stopped' }),
    roleStep<{ hosts: string[] }>(deps, {
      kind: RSTEP.restore,
      role: 'etcd-restore',
      args: Hosts,
      hosts: hostsArg,
      vars: (host, env, ctx) => {
        const snap = env.input.snapshot;
        return {
          action: 'restore',
          version: env.spec.versions.etcd,
          restoreId: ctx.op.id,
          name: host,
          initialCluster: initialCluster(env.spec, env.etcd),
          peerUrls: [peerUrl(hostOf(env.spec, host))],
          initialClusterToken: env.input.token,
          ...(snap === undefined ? {} : { snapshot: { cluster: env.spec.name, id: snap.id, sha256: snap.sha256, size: snap.size } }),
          bumpRevision: env.input.bumpRevision,
          endpoints: endpointsFor(env, host),
        };
      },
      done: 'etcd restored',
    }),
    roleStep<{ hosts: string[] }>(deps, {
      kind: RSTEP.setAside,
      role: 'etcd-restore',
      args: Hosts,
      hosts: hostsArg,
      vars: (host, env, ctx) => ({ action: 'set-aside', restoreId: ctx.op.id, endpoints: endpointsFor(env, host) }),
      done: 'etcd data set aside',
    }),
    // The bootstrap's install, minus the member directory: the hosts whose data was destroyed have
    // none, and the etcd_data guard would refuse to prepare one there; the restore writes it.
    roleStep<{ hosts: string[] }>(deps, {
      kind: RSTEP.install,
      role: 'etcd',
      args: Hosts,
      hosts: hostsArg,
      vars: async (host, env) => ({ ...etcdRoleVars(env.spec, await env.pki(), host, env.etcd), start: false, prepareMember: false }),
      done: 'etcd installed (not started)',
    }),
    roleStep<{ hosts: string[] }>(deps, { kind: RSTEP.survivor, role: 'etcd-data', args: Hosts, hosts: hostsArg, vars: () => ({ action: 'require' }), done: 'etcd data present' }),
    roleStep<{ hosts: string[] }>(deps, {
      kind: RSTEP.start,
      role: 'etcd',
      args: Hosts,
      hosts: hostsArg,
      vars: async (host, env) => etcdRoleVars(env.spec, await env.pki(), host, env.etcd),
      done: 'etcd started',
    }),
    roleStep<{ member: string; force: boolean }>(deps, {
      kind: RSTEP.forceNew,
      role: 'etcd',
      args: Type.Object({ member: Name, force: Type.Boolean() }),
      hosts: (a) => [a.member],
      // etcd's flag as an ETCD_* variable of the role's env file; the next step renders it away.
      vars: async (host, env, _ctx, args) => ({
        ...etcdRoleVars(env.spec, await env.pki(), host, [host]),
        // Never a fresh directory here: --force-new-cluster on one would be a new, empty cluster.
        requireData: true,
        ...(args.force ? { extraEnv: { ETCD_FORCE_NEW_CLUSTER: 'true' } } : {}),
      }),
      done: 'etcd (force-new-cluster step)',
    }),
  ] as StepExecutor<never>[];
}


/**
 * The hosts phase of `cluster create` as one step: every host runs its own chain of roles —
 * os-prep; then containerd, kube-node and images where a kubelet runs; then etcd installed, not
 * started, on etcd members — at its own pace, all hosts at once. Five steps with a barrier each made
 * every host wait for the slowest one five times (workers, which import one small image, waited for
 * the control planes' three big ones before anyone could install etcd); now the phase ends when the
 * slowest host's chain ends, which is all the etcd phase after it needs.
 *
 * Each role is still its own run (`ballastctl runs` shows them as before) and converges, so a
 * resumed step re-runs every chain and changes only what is not done yet. A host whose chain fails
 * stops there; the others finish theirs, then the step fails naming every failed host.
 */
import { Type } from '@sinclair/typebox';
import { BallastError, isBallastError, messageOf } from '../../../../shared/src/errors.js';
import type { ClusterSpec } from '../../cluster/spec.js';
import type { StepContext, StepExecutor, StepOutcome, StepView } from '../../ops/types.js';
import type { ClusterPkiBundle } from '../../pki/cluster-pki.js';
import { hostOf, pkiInputs, specOf, wantsDiff } from '../cluster-facts.js';
import type { BootstrapDeps } from '../deps.js';
import { hostsWithRole, STEP } from '../plan.js';
import { type HostRunOutcome, recapText, runRole } from '../role-runner.js';
import { etcdRoleVars } from './etcd.js';
import { hostRoleVars } from './prepare.js';

const Hosts = Type.Array(Type.String({ maxLength: 63 }), { minItems: 1, maxItems: 5000 });

/** One role run of a host's chain. */
export interface ChainLink {
  role: string;
  vars: Record<string, unknown>;
}

/** What `host` installs in the hosts phase, in order (see the module comment). */
export function hostChain(spec: ClusterSpec, pki: ClusterPkiBundle | null, host: string): ChainLink[] {
  const roles = hostOf(spec, host).roles;
  const chain: ChainLink[] = [{ role: 'os-prep', vars: hostRoleVars(spec, 'os-prep', host) }];
  // etcd-only hosts run no kubelet, so they need neither containerd nor the Kubernetes binaries.
  if (roles.includes('control-plane') || roles.includes('worker')) {
    // images last: with images in the mirror nothing is pulled later; containerd must run first.
    for (const role of ['containerd', 'kube-node', 'images']) chain.push({ role, vars: hostRoleVars(spec, role, host) });
  }
  if (roles.includes('etcd') && pki !== null) {
    // Binaries, certificates and the member's final configuration, not started: the etcd phase only
    // changes membership and starts members, one at a time.
    const members = hostsWithRole(spec, 'etcd').map((h) => h.name);
    const upTo = members.slice(0, members.indexOf(host) + 1);
    chain.push({ role: 'etcd', vars: { ...etcdRoleVars(spec, pki, host, upTo), start: false } });
  }
  return chain;
}

/** The hosts-phase step; see the module comment. */
export function hostsInstallExecutor(deps: BootstrapDeps): StepExecutor<{ hosts: string[] }> {
  const run = (check: boolean) => async (step: StepView<{ hosts: string[] }>, ctx: StepContext): Promise<StepOutcome> => {
    const spec = specOf(ctx.op);
    const needsPki = step.args.hosts.some((h) => hostOf(spec, h).roles.includes('etcd'));
    const pki = needsPki ? await deps.pki(spec.name, pkiInputs(spec), check) : null;
    const tasks = (o: HostRunOutcome) => o.recap.ok + o.recap.changed + o.recap.failed + o.recap.skipped;
    // Hosts for which the images role rendered nothing: the mirror holds no images for them.
    let imageless = 0;
    const runChain = async (host: string): Promise<HostRunOutcome[]> => {
      const outcomes: HostRunOutcome[] = [];
      for (const link of hostChain(spec, pki, host)) {
        const [outcome] = await runRole({
          runs: deps.runs,
          role: link.role,
          hosts: [{ host, vars: link.vars }],
          check,
          signal: ctx.signal,
          actor: ctx.op.id,
          diff: wantsDiff(ctx.op),
          progress: ctx.progress,
        });
        if (outcome !== undefined) outcomes.push(outcome);
        if (outcome !== undefined && link.role === 'images' && tasks(outcome) === 0) imageless += 1;
        ctx.progress?.(`${host}: ${link.role} ${check ? 'checked' : 'done'}`);
      }
      return outcomes;
    };
    const settled = await Promise.allSettled(step.args.hosts.map(runChain));
    const failures = settled.flatMap((s) => (s.status === 'rejected' ? [s.reason as unknown] : []));
    if (failures.length > 0) {
      if (ctx.signal.aborted) throw ctx.signal.reason;
      const first = failures[0];
      const n = failures.length;
      const prefix = step.args.hosts.length > 1 ? `${n} of ${step.args.hosts.length} hosts failed: ` : '';
      throw new BallastError(isBallastError(first) ? first.code : 'BALLAST_ERR_RUN_FAILED', `${prefix}${failures.map(messageOf).join('; ')}`);
    }
    const outcomes = settled.flatMap((s) => (s.status === 'fulfilled' ? s.value : []));
    const data = { runs: outcomes.map((o) => o.runId) };
    const images = imageless === 0 ? '' : `; the mirror holds no container images for ${imageless} host${imageless === 1 ? '' : 's'}: kubeadm and kubelet pull them from the registry`;
    return {
      changed: outcomes.some((o) => o.recap.changed > 0),
      message: `${step.args.hosts.length} host${step.args.hosts.length === 1 ? '' : 's'} ${check ? 'checked' : 'installed'} (${outcomes.length} role runs): ${recapText(outcomes)}${images}`,
      data,
    };
  };
  return { kind: STEP.hostsInstall, args: Type.Object({ hosts: Hosts }), execute: run(false), check: run(true) };
}

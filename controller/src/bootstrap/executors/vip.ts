/**
 * The VIP phase. The order needs the VIP before `kubeadm init` (the control-plane endpoint
 * is the VIP), when no API server exists to health-check. So it comes in two steps:
 *   1. `vip/bootstrap`: the first control plane alone gets the election config, with health `none`
 *      — it takes the VIP through the etcd lease at once (kernel-lifetime fencing applies as ever);
 *   2. `vip/control-plane`, once /readyz answers through the VIP: every control plane gets the
 *      config with the spec's health check (kube-apiserver /readyz by default). The first one keeps
 *      the VIP (a health change applies in place), the others campaign only once their own API
 *      server is ready.
 * Re-running either converges (the role writes files; unchanged files are `ok`): on a cluster whose
 * API already answers through the VIP, the bootstrap step writes the health-checked config as well.
 */
import { Type } from '@sinclair/typebox';
import { BallastError } from '../../../../shared/src/errors.js';
import type { ClusterSpec } from '../../cluster/spec.js';
import type { StepContext, StepExecutor, StepOutcome, StepView } from '../../ops/types.js';
import type { ClusterPkiBundle } from '../../pki/cluster-pki.js';
import { clientUrl, hostOf, kubeApiOptions, pkiInputs, specOf, wantsDiff } from '../cluster-facts.js';
import type { BootstrapDeps } from '../deps.js';
import { hostsWithRole, STEP } from '../plan.js';
import { recapText, runRole } from '../role-runner.js';

const Name = Type.String({ pattern: '^[a-z0-9]([a-z0-9.-]{0,61}[a-z0-9])?$' });

/** The health check the spec asks for, as the agent's vip.yaml spells it. */
export function vipHealth(spec: ClusterSpec): Record<string, unknown> {
  const h = spec.vip.health;
  const timing = h === undefined ? {} : { intervalMs: h.intervalMs, rise: h.rise, fall: h.fall };
  const kind = h?.kind ?? 'https';
  if (kind === 'tcp') return { kind, host: '127.0.0.1', port: spec.vip.port, ...timing };
  const url = `${kind}://127.0.0.1:${spec.vip.port}${h?.path ?? '/readyz'}`;
  return kind === 'https' ? { kind, url, caFile: '/etc/kubernetes/pki/ca.crt', ...timing } : { kind, url, ...timing };
}

/** The vip role's vars for `host`: its local etcd member when it is one, else the first member. */
export function vipVars(spec: ClusterSpec, pki: ClusterPkiBundle, host: string, health: Record<string, unknown>): Record<string, unknown> {
  const self = hostOf(spec, host);
  const [firstEtcd] = hostsWithRole(spec, 'etcd');
  if (firstEtcd === undefined) throw new BallastError('BALLAST_ERR_VALIDATION', 'the VIP election needs etcd members', { path: '/hosts' });
  const endpoint = self.roles.includes('etcd') ? 'https://127.0.0.1:2379' : clientUrl(firstEtcd);
  const client = pki.etcdClients.get(host);
  if (client === undefined) throw new BallastError('BALLAST_ERR_NOT_FOUND', `no etcd client certificate for ${host} in the cluster PKI`);
  return {
    name: spec.name,
    address: spec.vip.address,
    interface: spec.vip.interface,
    etcdEndpoint: endpoint,
    tls: { caCert: pki.etcdCa.certPem, clientCert: client.certPem, clientKey: client.keyPem },
    health,
    candidate: true,
  };
}

/** True when /readyz answers through the VIP within 2 s (read-only; any failure is "no"). */
async function apiAnswers(deps: BootstrapDeps, spec: ClusterSpec, pki: ClusterPkiBundle): Promise<boolean> {
  try {
    return (await deps.kube({ ...kubeApiOptions(spec, pki), timeoutMs: { readyz: 2000 } }).readyz()).ok;
  } catch {
    return false;
  }
}

/**
 * Whether an API server may answer through the VIP already: the cluster was created before (or
 * partly reset). A cluster never created, or reset, has none: asking would only wait out the probe's
 * 2 s on an address nobody holds. Said plainly: after a create that failed past `kubeadm init`, the
 * next create writes health `none` for the moments until `vip/control-plane` writes the check again.
 */
function mayAnswer(deps: BootstrapDeps, spec: ClusterSpec): boolean {
  const lifecycle = deps.clusters.get(spec.name)?.lifecycle;
  return lifecycle === 'created' || lifecycle === 'partly-reset';
}

interface VipArgs {
  hosts: string[];
  /** `bootstrap`: health none (before any API server); `control-plane`: the spec's health check. */
  mode: 'bootstrap' | 'control-plane';
}

export function vipExecutor(deps: BootstrapDeps): StepExecutor<VipArgs> {
  const run = (check: boolean) => async (step: StepView<VipArgs>, ctx: StepContext): Promise<StepOutcome> => {
    const spec = specOf(ctx.op);
    const pki = await deps.pki(spec.name, pkiInputs(spec), check);
    // Once the API answers through the VIP (a second `cluster create`), the bootstrap step writes the
    // health-checked config too: writing `none` again would flip the holder's check back and forth.
    const apiUp = step.args.mode === 'bootstrap' && mayAnswer(deps, spec) && (await apiAnswers(deps, spec, pki));
    const health = step.args.mode === 'bootstrap' && !apiUp ? { kind: 'none' } : vipHealth(spec);
    const outcomes = await runRole({
      runs: deps.runs,
      role: 'vip',
      hosts: step.args.hosts.map((host) => ({ host, vars: vipVars(spec, pki, host, health) })),
      check,
      signal: ctx.signal,
      actor: ctx.op.id,
      diff: wantsDiff(ctx.op),
      progress: ctx.progress,
    });
    const mode = apiUp ? 'bootstrap: the API already answers, health-checked config' : step.args.mode;
    return { changed: outcomes.some((o) => o.recap.changed > 0), message: `VIP ${spec.vip.address} (${mode}) on ${step.args.hosts.join(', ')}: ${recapText(outcomes)}` };
  };
  return {
    kind: STEP.vip,
    args: Type.Object({ hosts: Type.Array(Name, { minItems: 1, maxItems: 16 }), mode: Type.Union([Type.Literal('bootstrap'), Type.Literal('control-plane')]) }),
    execute: run(false),
    check: run(true),
  };
}

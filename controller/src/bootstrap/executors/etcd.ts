/**
 * The etcd phase: the first member starts a new cluster; each further member joins one at a time —
 * added as a learner through the first member's agent (quorum-guarded there), started with
 * `initial-cluster-state=existing`, promoted once caught up — and every join is followed by a
 * health gate. A join that fails is rolled back (member removed, its etcd stopped and its data
 * directory wiped) before the step fails, so no stale member remains and a resume starts clean.
 *
 * Idempotent: each sub-action converges (an existing learner is not added again, a voter is not
 * promoted again, a running etcd with the same config is left alone), so a step re-executed after a
 * controller crash redoes nothing that was done. A member's initial-cluster is always the members
 * up to and including it in spec order, so re-rendering its config never changes it.
 */
import { Type } from '@sinclair/typebox';
import { BallastError, messageOf } from '../../../../shared/src/errors.js';
import { probeMembers } from '../../../../shared/src/etcd/health.js';
import type { StepContext, StepExecutor, StepOutcome, StepView } from '../../ops/types.js';
import type { ClusterSpec } from '../../cluster/spec.js';
import type { ClusterPkiBundle } from '../../pki/cluster-pki.js';
import { etcdMemberTls } from '../../pki/cluster-pki-files.js';
import { clientUrl, etcdClusterToken, hostOf, initialCluster, peerUrl, pkiInputs, specOf, wantsDiff } from '../cluster-facts.js';
import type { BootstrapDeps } from '../deps.js';
import { GATE_INTERVAL_MS, waitForGate } from '../gate.js';
import { hostsWithRole, STEP } from '../plan.js';
import { type HostRunOutcome, recapText, runRole } from '../role-runner.js';

const Name = Type.String({ pattern: '^[a-z0-9]([a-z0-9.-]{0,61}[a-z0-9])?$' });

/** The etcd role's vars for `member`, joining `members` (itself last; itself alone for a new cluster). */
export function etcdRoleVars(spec: ClusterSpec, pki: ClusterPkiBundle, member: string, members: readonly string[]): Record<string, unknown> {
  return {
    version: spec.versions.etcd,
    name: member,
    advertiseAddress: hostOf(spec, member).address,
    initialCluster: initialCluster(spec, members),
    initialClusterState: members.length === 1 ? 'new' : 'existing',
    initialClusterToken: etcdClusterToken(spec),
    tls: etcdMemberTls(pki, member),
  };
}

async function pkiOf(deps: BootstrapDeps, spec: ClusterSpec, check: boolean): Promise<ClusterPkiBundle> {
  return deps.pki(spec.name, pkiInputs(spec), check);
}

function changedIn(outcomes: readonly HostRunOutcome[]): boolean {
  return outcomes.some((o) => o.recap.changed > 0);
}

/**
 * Installs etcd on every member at once (binaries, certificates, each member's final
 * configuration), without starting it: the same vars as the member's later start, so that start
 * changes nothing but the unit's state.
 */
export function etcdInstallExecutor(deps: BootstrapDeps): StepExecutor<{ members: string[] }> {
  const run = (check: boolean) => async (step: StepView<{ members: string[] }>, ctx: StepContext): Promise<StepOutcome> => {
    const spec = specOf(ctx.op);
    const pki = await pkiOf(deps, spec, check);
    const { members } = step.args;
    const outcomes = await runRole({
      runs: deps.runs,
      role: 'etcd',
      hosts: members.map((member, i) => ({ host: member, vars: { ...etcdRoleVars(spec, pki, member, members.slice(0, i + 1)), start: false } })),
      check,
      signal: ctx.signal,
      actor: ctx.op.id,
      diff: wantsDiff(ctx.op),
      progress: ctx.progress,
    });
    return { changed: changedIn(outcomes), message: `etcd installed on ${members.length} hosts (not started): ${recapText(outcomes)}` };
  };
  return { kind: STEP.etcdInstall, args: Type.Object({ members: Type.Array(Name, { minItems: 1, maxItems: 9 }) }), execute: run(false), check: run(true) };
}

/** Starts etcd on the first member as a new single-member cluster. */
export function etcdFirstMemberExecutor(deps: BootstrapDeps): StepExecutor<{ member: string }> {
  const run = (check: boolean) => async (step: StepView<{ member: string }>, ctx: StepContext): Promise<StepOutcome> => {
    const spec = specOf(ctx.op);
    const pki = await pkiOf(deps, spec, check);
    const { member } = step.args;
    const outcomes = await runRole({
      runs: deps.runs,
      role: 'etcd',
      hosts: [{ host: member, vars: etcdRoleVars(spec, pki, member, [member]) }],
      check,
      signal: ctx.signal,
      actor: ctx.op.id,
      diff: wantsDiff(ctx.op),
      progress: ctx.progress,
    });
    return { changed: changedIn(outcomes), message: `etcd on ${member}: ${recapText(outcomes)}` };
  };
  return { kind: STEP.etcdFirst, args: Type.Object({ member: Name }), execute: run(false), check: run(true) };
}

interface JoinArgs {
  member: string;
  /** The members after this join, in spec order; the first one runs the membership changes. */
  members: string[];
}

/** Adds, starts and promotes one member; rolls back on failure. */
export function etcdJoinExecutor(deps: BootstrapDeps): StepExecutor<JoinArgs> {
  const run = (check: boolean) => async (step: StepView<JoinArgs>, ctx: StepContext): Promise<StepOutcome> => {
    const spec = specOf(ctx.op);
    const pki = await pkiOf(deps, spec, check);
    const { member, members } = step.args;
    const [leaderHost] = members;
    if (leaderHost === undefined || leaderHost === member) {
      throw new BallastError('BALLAST_ERR_VALIDATION', `etcd join of ${member}: no existing member to add it through`, { path: '/args/members' });
    }
    const host = hostOf(spec, member);
    // Through the existing members' client URLs, the local one first (the agent's module tries them in order).
    const existing = members.filter((m) => m !== member).map((m) => clientUrl(hostOf(spec, m)));
    const change = (action: 'add' | 'promote' | 'remove') =>
      runRole({
        runs: deps.runs,
        role: 'etcd-member',
        hosts: [{ host: leaderHost, vars: { action, member, peerUrls: [peerUrl(host)], endpoints: existing } }],
        check,
        signal: ctx.signal,
        actor: ctx.op.id,
      diff: wantsDiff(ctx.op),
        progress: ctx.progress,
      });
    const outcomes: HostRunOutcome[] = [];
    ctx.progress(`adding ${member} as a learner through ${leaderHost}`);
    outcomes.push(...(await change('add')));
    try {
      ctx.progress(`starting etcd on ${member} (existing cluster of ${members.length})`);
      outcomes.push(
        ...(await runRole({
          runs: deps.runs,
          role: 'etcd',
          hosts: [{ host: member, vars: etcdRoleVars(spec, pki, member, members) }],
          check,
          signal: ctx.signal,
          actor: ctx.op.id,
      diff: wantsDiff(ctx.op),
          progress: ctx.progress,
        })),
      );
      ctx.progress(`promoting ${member} once it has caught up`);
      outcomes.push(...(await change('promote')));
    } catch (err) {
      if (check || ctx.signal.aborted) throw err;
      ctx.progress(`join of ${member} failed; rolling back: ${messageOf(err)}`);
      const rollback: string[] = [];
      try {
        await change('remove');
        rollback.push(`member ${member} removed`);
        await runRole({ runs: deps.runs, role: 'etcd-wipe', hosts: [{ host: member, vars: {} }], check: false, signal: ctx.signal, actor: ctx.op.id, diff: wantsDiff(ctx.op) });
        rollback.push(`etcd stopped and its data removed on ${member}`);
      } catch (rollbackErr) {
        rollback.push(`rollback incomplete: ${messageOf(rollbackErr)}`);
      }
      const code = err instanceof BallastError ? err.code : 'BALLAST_ERR_RUN_FAILED';
      throw new BallastError(code, `${messageOf(err)} (rolled back: ${rollback.join('; ')})`);
    }
    return { changed: changedIn(outcomes), message: `${member} joined etcd as a voter (${members.length} members): ${recapText(outcomes)}` };
  };
  return {
    kind: STEP.etcdJoin,
    args: Type.Object({ member: Name, members: Type.Array(Name, { minItems: 2, maxItems: 9 }) }),
    execute: run(false),
    check: run(true),
  };
}

/**
 * Gate: these members are started, healthy voters (answer status and follow a leader), and etcd
 * has no member outside the spec. Later members of the spec may already be there (a second
 * `cluster create`, or a resumed one): they are allowed, and checked for health once started.
 */
export function etcdHealthExecutor(deps: BootstrapDeps): StepExecutor<{ members: string[] }> {
  const execute = async (step: StepView<{ members: string[] }>, ctx: StepContext): Promise<StepOutcome> => {
    const spec = specOf(ctx.op);
    const pki = await pkiOf(deps, spec, false);
    const [first] = step.args.members;
    const client = first === undefined ? undefined : pki.etcdClients.get(first);
    if (first === undefined || client === undefined) throw new BallastError('BALLAST_ERR_NOT_FOUND', `no etcd client certificate for ${first ?? '(none)'}`);
    const etcd = deps.etcd({
      endpoints: step.args.members.map((m) => clientUrl(hostOf(spec, m))),
      tls: { ca: pki.etcdCa.certPem, cert: client.certPem, key: client.keyPem },
      timeoutMs: 2000,
    });
    const allowed = new Set(hostsWithRole(spec, 'etcd').map((h) => peerUrl(h)));
    const required = new Map(step.args.members.map((m) => [peerUrl(hostOf(spec, m)), m]));
    let summary = '';
    await waitForGate({
      what: `etcd health (${step.args.members.length} voters)`,
      signal: ctx.signal,
      timeoutMs: 120_000,
      intervalMs: deps.gateIntervalMs ?? GATE_INTERVAL_MS,
      progress: ctx.progress,
      probe: async () => {
        const list = await etcd.memberList({ signal: ctx.signal });
        const foreign = list.filter((m) => !m.peerUrls.some((u) => allowed.has(u)));
        if (foreign.length > 0) return `members not in the spec: ${foreign.map((m) => m.name || m.peerUrls.join(',')).join(', ')}`;
        const byUrl = new Map(list.flatMap((m) => m.peerUrls.map((u) => [u, m] as const)));
        const missing = [...required].filter(([url]) => byUrl.get(url) === undefined).map(([, name]) => name);
        if (missing.length > 0) return `not members yet: ${missing.join(', ')}`;
        const learners = [...required].filter(([url]) => byUrl.get(url)?.isLearner === true).map(([, name]) => name);
        if (learners.length > 0) return `still learners: ${learners.join(', ')}`;
        const started = list.filter((m) => m.clientUrls.length > 0 || [...required.keys()].some((u) => m.peerUrls.includes(u)));
        const health = await probeMembers(etcd, started, { signal: ctx.signal });
        const sick = started.filter((m) => !health.healthy.has(m.id));
        if (sick.length > 0) return sick.map((m) => `${m.name || m.id}: ${health.problems.get(m.id) ?? 'unhealthy'}`).join('; ');
        summary = list.map((m) => `${m.name}${m.isLearner ? ' (learner)' : ''}`).join(', ');
        return null;
      },
    });
    return { changed: false, message: `etcd healthy: ${summary}` };
  };
  const check = async (step: StepView<{ members: string[] }>): Promise<StepOutcome> => ({
    changed: false,
    skipped: true,
    message: `would wait until etcd has exactly ${step.args.members.length} healthy voters: ${step.args.members.join(', ')}`,
  });
  return { kind: STEP.etcdHealth, args: Type.Object({ members: Type.Array(Name, { minItems: 1, maxItems: 9 }) }), execute, check };
}

/**
 * From a `cluster recover` request to a started operation: everything that can be checked is
 * checked first, and a refusal names what and why — exactly one of --from-snapshot and
 * --from-member; the cluster and its current spec; the member an etcd host of it and its
 * force-new-cluster confirmed; the snapshot verified (hashed here); the membership lock free; the
 * old cluster without quorum (a recovery of a cluster that still serves would fork it), unless
 * --replace-current-data (snapshot only) says its data is to be discarded. The
 * operation checks the live parts again as its first steps (a resumed operation may run later).
 */
import { BallastError, messageOf } from '../../../shared/src/errors.js';
import { FORCE_NEW_CLUSTER_WARNING, type ClusterRecoverRequest } from '../../../shared/src/recover-api.js';
import { etcdClusterToken } from '../bootstrap/cluster-facts.js';
import { hostsWithRole } from '../bootstrap/plan.js';
import type { SpecSource } from '../membership/start.js';
import type { OperationEngine } from '../ops/engine.js';
import { runRole } from '../bootstrap/role-runner.js';
import { lockedError } from '../store/membership.js';
import { guardVerdict, verifiedSnapshot } from './executors.js';
import { liveData } from './live-data.js';
import { CLUSTER_RECOVER, DEFAULT_BUMP_REVISION, type RecoverInput, type RecoveryDeps } from './types.js';
import { stat } from 'node:fs/promises';

const refuse = (message: string, path = '/'): never => {
  throw new BallastError('BALLAST_ERR_VALIDATION', `${message}; nothing was started`, { path });
};

/** Builds the input (refusing with every reason) and starts the operation. */
export async function startRecovery(
  cluster: string,
  req: ClusterRecoverRequest,
  env: { ops: Pick<OperationEngine, 'start'>; deps: RecoveryDeps; specs: SpecSource; actor: string; now?: () => number },
): Promise<ReturnType<OperationEngine['start']>> {
  if ((req.fromSnapshot === undefined) === (req.fromMember === undefined)) refuse('give exactly one of --from-snapshot ID and --from-member HOST', '/fromSnapshot');
  if (req.replaceCurrentData && req.fromSnapshot === undefined) {
    refuse('--replace-current-data goes with --from-snapshot only (--from-member keeps a member\'s data; a cluster that still serves is repaired with ballastctl node replace)', '/replaceCurrentData');
  }
  const spec = env.specs.current(cluster);
  if (spec === null) throw new BallastError('BALLAST_ERR_NOT_FOUND', `cluster "${cluster}" does not exist (ballastctl cluster list); nothing was started`);
  const etcd = hostsWithRole(spec, 'etcd').map((h) => h.name);
  if (etcd.length === 0) refuse(`cluster ${cluster} has no etcd hosts`, '/spec/hosts');
  const held = env.deps.repo.lock(cluster);
  if (held !== null) throw lockedError(held);

  let snapshot: RecoverInput['snapshot'];
  if (req.fromSnapshot !== undefined) {
    const opened = await verifiedSnapshot(env.deps, cluster, req.fromSnapshot, undefined).catch((err: unknown) => {
      if (err instanceof BallastError && err.code !== 'BALLAST_ERR_NOT_FOUND') throw err;
      throw new BallastError('BALLAST_ERR_SNAPSHOT_UNUSABLE', `failed to use snapshot ${req.fromSnapshot}: ${messageOf(err)} (ballastctl etcd snapshot list); nothing was started`, { cause: err });
    });
    snapshot = { id: req.fromSnapshot, sha256: opened.sha256, size: (await stat(opened.dbPath)).size, revision: opened.revision };
  }
  if (req.fromMember !== undefined) {
    if (!etcd.includes(req.fromMember)) refuse(`${req.fromMember} is not an etcd member of cluster ${cluster} (${etcd.join(', ')})`, '/fromMember');
    if (!req.confirmForceNewCluster && !req.check) refuse(`--from-member needs --confirm-force-new-cluster: ${FORCE_NEW_CLUSTER_WARNING}`, '/confirmForceNewCluster');
    await requireMemberData(env.deps, req.fromMember, { actor: env.actor, check: req.check });
  }
  const mode = snapshot === undefined ? 'member' : 'snapshot';
  const bumpRevision = req.bumpRevision ?? DEFAULT_BUMP_REVISION;
  const live = await liveData(env.deps, spec, etcd);
  const verdict = guardVerdict(cluster, live, { mode, bumpRevision, ...(snapshot === undefined ? {} : { snapshot }), ...(req.replaceCurrentData ? { replaceCurrentData: true } : {}) });
  if ('error' in verdict && !req.check) {
    const err = verdict.error;
    throw new BallastError(err.code, `${err.message}; nothing was started`, err.path === undefined ? {} : { path: err.path });
  }
  // A token of its own per recovery: members of the old cluster (a host that was only partitioned,
  // coming back with its old data) compute other member and cluster IDs and can never join it.
  const stamp = (env.now ?? Date.now)().toString(36);
  const input: RecoverInput = {
    spec: spec as unknown as RecoverInput['spec'],
    mode,
    ...(snapshot === undefined ? {} : { snapshot }),
    ...(req.fromMember === undefined ? {} : { member: req.fromMember }),
    bumpRevision,
    token: `${etcdClusterToken(spec)}-r${stamp}`.slice(0, 128),
    ...(req.diff ? { diff: true } : {}),
    ...(req.replaceCurrentData ? { replaceCurrentData: true } : {}),
  };
  return env.ops.start(CLUSTER_RECOVER, input, { actor: env.actor, cluster, check: req.check });
}

/** How long the survivor's agent has to answer the data check (a disconnected agent is retried until then). */
const MEMBER_DATA_CHECK_MS = 30_000;

/**
 * The member --from-member keeps must still hold etcd data: --force-new-cluster on an empty
 * directory makes a new, empty cluster (every object lost). Asked of its agent (the etcd-data
 * role, read-only) before anything starts, so a wrong HOST is a refusal, not a paused operation;
 * the operation's first step asks again.
 */
async function requireMemberData(deps: RecoveryDeps, member: string, opts: { actor: string; check: boolean }): Promise<void> {
  try {
    await runRole({ runs: deps.bootstrap.runs, role: 'etcd-data', hosts: [{ host: member, vars: { action: 'require' } }], check: opts.check, signal: AbortSignal.timeout(MEMBER_DATA_CHECK_MS), actor: opts.actor });
  } catch (err) {
    const code = err instanceof BallastError ? err.code : 'BALLAST_ERR_RUN_FAILED';
    throw new BallastError(code, `failed to recover from member ${member}: ${messageOf(err)}; nothing was started`, { cause: err });
  }
}

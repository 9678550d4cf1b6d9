/**
 * The recovery's own gates: the membership lock, the guard (no old member serves with quorum,
 * read live from every member's status), the snapshot check (hashed here, whatever the store
 * says), and the finish. The role-running steps are in role-steps.ts.
 */
import { Type } from '@sinclair/typebox';
import { BallastError, messageOf } from '../../../shared/src/errors.js';
import { hashFile } from '../../../shared/src/hashing.js';
import { clientUrl, hostOf, pkiInputs } from '../bootstrap/cluster-facts.js';
import type { ClusterSpec } from '../cluster/spec.js';
import type { StepContext, StepExecutor, StepOutcome, StepView } from '../ops/types.js';
import { recoverInputOf } from './input.js';
import { recoverDetail } from './plan.js';
import { CLUSTER_RECOVER, type RecoveryDeps, RSTEP } from './types.js';

const Names = Type.Array(Type.String({ pattern: '^[a-z0-9]([a-z0-9.-]{0,61}[a-z0-9])?$' }), { minItems: 1, maxItems: 9 });

/** Members that answer with a leader: a cluster with quorum. Dead or leaderless members are not listed. */
export async function servingMembers(deps: RecoveryDeps, spec: ClusterSpec, members: readonly string[], signal?: AbortSignal): Promise<string[]> {
  const pki = await deps.bootstrap.readPki(spec.name, pkiInputs(spec));
  const client = members.map((m) => pki.etcdClients.get(m)).find((c) => c !== undefined);
  if (client === undefined) throw new BallastError('BALLAST_ERR_NOT_FOUND', `no etcd client certificate for cluster ${spec.name} in its PKI`);
  const urls = members.map((m) => clientUrl(hostOf(spec, m)));
  const etcd = deps.bootstrap.etcd({ endpoints: urls, tls: { ca: pki.etcdCa.certPem, cert: client.certPem, key: client.keyPem }, timeoutMs: 2000 });
  const answers = await Promise.allSettled(urls.map((u) => etcd.status(u, signal === undefined ? {} : { signal })));
  return answers.flatMap((a, i) => (a.status === 'fulfilled' && a.value.leader !== '0' ? [`${members[i]} (follows leader ${a.value.leader})`] : []));
}

/** The refusal when the old cluster still serves. */
export function stillServing(cluster: string, serving: readonly string[]): BallastError {
  return new BallastError(
    'BALLAST_ERR_ETCD_STILL_SERVING',
    `failed to recover cluster ${cluster}: its etcd still has quorum: ${serving.join(', ')} answer with a leader. A recovery would fork it and lose every write since the snapshot; replace failed members one at a time with ballastctl node replace`,
  );
}

export function lockExecutor(deps: RecoveryDeps): StepExecutor {
  return {
    kind: RSTEP.lock,
    async execute(_step, ctx) {
      const input = recoverInputOf(ctx.op);
      const held = deps.repo.lock(input.spec.name);
      deps.repo.acquire({ cluster: input.spec.name, operationId: ctx.op.id, kind: CLUSTER_RECOVER, detail: recoverDetail(input) });
      return { changed: held === null, message: held === null ? `membership lock of ${input.spec.name} taken` : `membership lock of ${input.spec.name} already held by this operation` };
    },
    async check(_step, ctx) {
      const input = recoverInputOf(ctx.op);
      const held = deps.repo.lock(input.spec.name);
      if (held !== null && held.operationId !== ctx.op.id) return { changed: false, skipped: true, message: `would be refused: ${held.operationId} (${held.kind}: ${held.detail}) holds the membership lock` };
      return { changed: true, message: `would take the membership lock of ${input.spec.name}` };
    },
  };
}

export function guardExecutor(deps: RecoveryDeps): StepExecutor<{ members: string[] }> {
  const run = (check: boolean) => async (step: StepView<{ members: string[] }>, ctx: StepContext): Promise<StepOutcome> => {
    const { spec } = recoverInputOf(ctx.op);
    const serving = await servingMembers(deps, spec, step.args.members, ctx.signal);
    if (serving.length > 0) {
      const err = stillServing(spec.name, serving);
      if (check) return { changed: false, skipped: true, message: `would be refused: ${messageOf(err)}` };
      throw err;
    }
    return { changed: false, message: `no member of the old cluster answers with a leader (${step.args.members.length} probed): quorum is lost, recovery may proceed` };
  };
  return { kind: RSTEP.guard, args: Type.Object({ members: Names }), execute: run(false), check: run(true) };
}

export function snapshotExecutor(deps: RecoveryDeps): StepExecutor {
  const run = async (_step: StepView, ctx: StepContext): Promise<StepOutcome> => {
    const input = recoverInputOf(ctx.op);
    const want = input.snapshot;
    if (want === undefined) throw new BallastError('BALLAST_ERR_VALIDATION', 'failed to verify the snapshot: the operation names none', { path: '/snapshot' });
    const opened = await verifiedSnapshot(deps, input.spec.name, want.id, want.sha256, ctx.signal);
    return { changed: false, message: `snapshot ${want.id} verified: sha256 ${want.sha256.slice(0, 16)}…, revision ${opened.revision}`, data: { revision: opened.revision } };
  };
  return { kind: RSTEP.snapshot, execute: run, check: run };
}

/**
 * Opens snapshot `id` and hashes its file: refused (BALLAST_ERR_CHECKSUM_MISMATCH) unless it matches
 * the recorded sha256 and, when given, `expected` (the hash the operation was planned with).
 */
export async function verifiedSnapshot(deps: Pick<RecoveryDeps, 'snapshots'>, cluster: string, id: string, expected: string | undefined, signal?: AbortSignal) {
  const opened = await deps.snapshots.open(id);
  if (opened.cluster !== undefined && opened.cluster !== cluster) {
    throw new BallastError('BALLAST_ERR_SNAPSHOT_UNUSABLE', `failed to use snapshot ${id}: it was taken from cluster ${opened.cluster}, not ${cluster}`);
  }
  const actual = await hashFile(opened.dbPath, signal);
  if (actual !== opened.sha256 || (expected !== undefined && actual !== expected)) {
    throw new BallastError(
      'BALLAST_ERR_CHECKSUM_MISMATCH',
      `failed to verify snapshot ${id}: its file hashes to ${actual}, recorded ${opened.sha256}${expected !== undefined && expected !== opened.sha256 ? ` (planned with ${expected})` : ''}; it is never restored`,
    );
  }
  return opened;
}

export function finishExecutor(deps: RecoveryDeps): StepExecutor {
  return {
    kind: RSTEP.finish,
    async execute(_step, ctx) {
      const input = recoverInputOf(ctx.op);
      const released = deps.repo.release(input.spec.name, ctx.op.id);
      return { changed: released, message: `cluster ${input.spec.name} recovered (${recoverDetail(input)}); membership lock released` };
    },
    async check(_step, ctx) {
      return { changed: true, message: `would release the membership lock of ${recoverInputOf(ctx.op).spec.name}` };
    },
  };
}

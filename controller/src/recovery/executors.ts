/**
 * The recovery's own gates: the membership lock, the guard (no old member serves with quorum,
 * read live from every member's status, unless --replace-current-data; live-data.ts), the
 * snapshot check (hashed here, whatever the store says), and the finish. The role-running steps are in role-steps.ts.
 */
import { Type } from '@sinclair/typebox';
import { BallastError, messageOf } from '../../../shared/src/errors.js';
import type { StepContext, StepExecutor, StepOutcome, StepView } from '../ops/types.js';
import { restoreCacheHashes } from './file-hashes.js';
import { recoverInputOf } from './input.js';
import { discardedSummary, type LiveData, liveData } from './live-data.js';
import { recoverDetail } from './plan.js';
import { CLUSTER_RECOVER, type RecoverInput, type RecoveryDeps, RSTEP } from './types.js';

const Names = Type.Array(Type.String({ pattern: '^[a-z0-9]([a-z0-9.-]{0,61}[a-z0-9])?$' }), { minItems: 1, maxItems: 9 });

/** The refusal when the old cluster still serves; it names what would be discarded and the override. */
export function stillServing(cluster: string, live: LiveData, input: Pick<RecoverInput, 'mode'>): BallastError {
  const override =
    input.mode === 'snapshot'
      ? ` Only if this data is to be discarded on purpose (new hosts after etcd snapshot import and cluster create, or rolling a working cluster back to the snapshot): rerun with --replace-current-data (it would discard ${discardedSummary(live)})`
      : ` (it holds ${discardedSummary(live)})`;
  return new BallastError(
    'BALLAST_ERR_ETCD_STILL_SERVING',
    `failed to recover cluster ${cluster}: its etcd still has quorum: ${live.serving.join(', ')} answer with a leader. A recovery would fork it and lose every write since the snapshot; replace failed members one at a time with ballastctl node replace.${override}`,
  );
}

/**
 * The guard's verdict on `live`: a message when the recovery may proceed, else the error. A cluster
 * that still serves passes only with `replaceCurrentData` (snapshot mode), and only when its data
 * could be read (the operator is told what is discarded) and the restored revision stays above
 * the live one (watchers of the current cluster must never see the revision go back).
 */
export function guardVerdict(cluster: string, live: LiveData, input: Pick<RecoverInput, 'mode' | 'replaceCurrentData' | 'snapshot' | 'bumpRevision'>): { ok: string } | { error: BallastError } {
  if (live.serving.length === 0) return { ok: 'no member of the old cluster answers with a leader: quorum is lost, recovery may proceed' };
  if (input.replaceCurrentData !== true || input.mode !== 'snapshot') return { error: stillServing(cluster, live, input) };
  if (live.unread !== undefined || live.revision === null) {
    return { error: new BallastError('BALLAST_ERR_ETCD_UNAVAILABLE', `failed to recover cluster ${cluster} with --replace-current-data: its etcd serves but what it holds could not be read (${live.unread ?? 'no revision'}); nothing is discarded unseen`) };
  }
  const restored = (input.snapshot?.revision ?? 0) + input.bumpRevision;
  if (live.revision >= restored) {
    return {
      error: new BallastError(
        'BALLAST_ERR_VALIDATION',
        `failed to recover cluster ${cluster} with --replace-current-data: its etcd is at revision ${live.revision}, the restore would start at ${restored} (snapshot ${input.snapshot?.revision} + --bump-revision ${input.bumpRevision}) and its watchers would see the revision go back; rerun with a --bump-revision above ${live.revision - (input.snapshot?.revision ?? 0)}`,
        { path: '/bumpRevision' },
      ),
    };
  }
  return { ok: `--replace-current-data: etcd still serves (${live.serving.join(', ')}); its current data is discarded (kept renamed on each host): ${discardedSummary(live)}` };
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
    const input = recoverInputOf(ctx.op);
    const live = await liveData(deps, input.spec, step.args.members, ctx.signal);
    const verdict = guardVerdict(input.spec.name, live, input);
    if ('error' in verdict) {
      if (check) return { changed: false, skipped: true, message: `would be refused: ${messageOf(verdict.error)}` };
      throw verdict.error;
    }
    const data = live.serving.length === 0 ? undefined : { discarded: { revision: live.revision, keys: live.keys, dbSize: live.dbSize, members: live.members } };
    return { changed: false, message: `${verdict.ok} (${step.args.members.length} probed)`, ...(data === undefined ? {} : { data }) };
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
 * Opens snapshot `id` and hashes its file (once per version of it: file-hashes.ts): refused (BALLAST_ERR_CHECKSUM_MISMATCH) unless it matches
 * the recorded sha256 and, when given, `expected` (the hash the operation was planned with).
 */
export async function verifiedSnapshot(deps: Pick<RecoveryDeps, 'snapshots'>, cluster: string, id: string, expected: string | undefined, signal?: AbortSignal) {
  const opened = await deps.snapshots.open(id);
  if (opened.cluster !== undefined && opened.cluster !== cluster) {
    throw new BallastError('BALLAST_ERR_SNAPSHOT_UNUSABLE', `failed to use snapshot ${id}: it was taken from cluster ${opened.cluster}, not ${cluster}`);
  }
  const actual = await restoreCacheHashes.sha256(opened.dbPath, signal);
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

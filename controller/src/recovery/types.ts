/**
 * `cluster recover`: the operation kind's input, its dependencies, and the step kinds. See plan.ts
 * for the steps and README "Disaster recovery" for what the operator is told.
 */
import { type Static, Type } from '@sinclair/typebox';
import type { BootstrapDeps } from '../bootstrap/deps.js';
import type { KubeApiOptions } from '../kube/client.js';
import type { KubeNodeOps } from '../kube/node-ops.js';
import type { MembershipRepo } from '../store/membership.js';
import type { SnapshotSource } from './source.js';

export const CLUSTER_RECOVER = 'cluster.recover';

/**
 * etcd's documentation bumps by "more than the number of writes since the snapshot"; the gap is
 * unknown (the snapshot may be an hour old), so a billion: an hour at ~277,000 writes a second.
 * Revisions are int64, so a cluster can be recovered this way billions of times.
 */
export const DEFAULT_BUMP_REVISION = 1_000_000_000;

const Name = Type.String({ pattern: '^[a-z0-9]([a-z0-9.-]{0,61}[a-z0-9])?$' });

export const RecoverInputSchema = Type.Object(
  {
    /** The cluster's current spec (hosts unchanged by a recovery). */
    spec: Type.Object({ name: Type.String() }, { additionalProperties: true }),
    mode: Type.Union([Type.Literal('snapshot'), Type.Literal('member')]),
    /** mode snapshot: the snapshot, verified when the operation was started and again by its first steps. */
    snapshot: Type.Optional(
      Type.Object(
        {
          id: Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$' }),
          sha256: Type.String({ pattern: '^[0-9a-f]{64}$' }),
          size: Type.Integer({ minimum: 1 }),
          revision: Type.Integer({ minimum: 0 }),
        },
        { additionalProperties: false },
      ),
    ),
    /** mode member: the member whose data survives (force-new-cluster on it). */
    member: Type.Optional(Name),
    bumpRevision: Type.Integer({ minimum: 1, maximum: 1e15 }),
    /** The restored cluster's initial-cluster token: new, so a member of the old cluster can never join it. */
    token: Type.String({ pattern: '^[A-Za-z0-9._-]{1,128}$' }),
    diff: Type.Optional(Type.Boolean()),
    /**
     * mode snapshot: `--replace-current-data` — the guard lets a cluster whose etcd still serves
     * through and its data is discarded (kept renamed on each host). Recorded here so a resumed
     * operation, `ballastctl op ID` and the audit trail show it was asked for.
     */
    replaceCurrentData: Type.Optional(Type.Literal(true)),
  },
  { additionalProperties: false },
);
export type RecoverInput = Static<typeof RecoverInputSchema>;

/** What the recovery's executors need. */
export interface RecoveryDeps {
  bootstrap: BootstrapDeps;
  /** The membership lock: a recovery excludes node replace/add/remove, and the reverse. */
  repo: Pick<MembershipRepo, 'lock' | 'acquire' | 'release'>;
  snapshots: SnapshotSource;
  /** Node reads and patches through the VIP (the control planes' marks after a restore). */
  kubeNodes(opts: KubeApiOptions): KubeNodeOps;
}

/** Step kinds (executors in ./executors.ts and ./roles-steps.ts). */
export const RSTEP = {
  lock: 'recover-lock',
  guard: 'recover-guard',
  snapshot: 'recover-snapshot',
  park: 'recover-park-apiservers',
  unpark: 'recover-unpark-apiservers',
  stop: 'recover-stop-etcd',
  restore: 'recover-restore-etcd',
  setAside: 'recover-set-aside',
  start: 'recover-start-etcd',
  forceNew: 'recover-force-new-cluster',
  survivor: 'recover-survivor-data',
  install: 'recover-install-etcd',
  kubelets: 'recover-restart-kubelets',
  marks: 'recover-mark-control-planes',
  finish: 'recover-finish',
} as const;
